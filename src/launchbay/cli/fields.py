"""The block fields that given flags set, as the flag table says.

A flag sets its row's ``field``, its value converted by the kind's conversion
when there is one. A flag whose fields differ by kind (``--cpus``: Docker's
``cpus``, Kubernetes' ``cpu_request`` and ``cpu_limit``) has no ``field`` in
the table: each kind's conversion says which fields it sets (``FieldValues``).
A flag given for a kind that does not take it is refused, not ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from launchbay.cli.flags import EVERY_KIND, FLAGS, Flag, FlagError, ParsedFlags, is_given
from launchbay.exceptions import LaunchbayError

# Turns a given flag's parsed value into its block field's value (or FieldValues).
Conversion = Callable[[Any], Any]


class FieldValues(dict[str, Any]):
    """What a conversion returns to set these block fields (rather than the
    row's one ``field``)."""


class NotForThisKind(LaunchbayError, ValueError):
    """A flag given for a kind of run that would ignore it (the CLI: one line, exit 2)."""


def takes(kind: str | None, flag: Flag) -> bool:
    """Whether runs of ``kind`` take ``flag`` (``None``: a saved block of any kind,
    which takes the flags every kind shares)."""
    return kind in flag.kinds or flag.kinds == EVERY_KIND


def block_fields(
    options: ParsedFlags, kind: str | None, conversions: Mapping[str, Conversion]
) -> dict[str, Any]:
    """The block fields the given flags set: those of ``kind`` (every kind's
    included), or with ``kind=None`` only those every kind shares. A flag is
    converted by ``conversions[attribute]`` when there is one. A flag of other
    kinds only is refused when ``kind`` is known, and so are two flags that set
    one field."""
    fields: dict[str, Any] = {}
    set_by: dict[str, Flag] = {}
    for flag in FLAGS:
        value = getattr(options, flag.attribute)
        if not is_given(value):
            continue
        if not takes(kind, flag):
            if kind is not None:
                raise NotForThisKind(
                    f"{flag.spellings[0]} is for {' and '.join(flag.kinds)} runs, not {kind}"
                )
            continue
        convert = conversions.get(flag.attribute)
        if flag.field is None and convert is None:
            continue  # not a block field (--grace, --flow...)
        converted = convert(value) if convert else (list(value) if isinstance(value, list) else value)
        if isinstance(converted, FieldValues):
            values: dict[str, Any] = dict(converted)
        elif flag.field is not None:
            values = {flag.field: converted}
        else:
            continue
        for field, field_value in values.items():
            if field in set_by:
                raise FlagError(
                    f"{set_by[field].spellings[0]} and {flag.spellings[0]} both set {field}: give one of them"
                )
            fields[field] = field_value
            set_by[field] = flag
    return fields
