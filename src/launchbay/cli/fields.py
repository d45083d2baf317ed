"""The block fields that given flags set, as the flag table says."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from launchbay.cli.flags import EVERY_KIND, FLAGS, ParsedFlags, is_given

# Turns a given flag's parsed value into its block field's value.
Conversion = Callable[[Any], Any]


def block_fields(
    options: ParsedFlags, kind: str | None, conversions: Mapping[str, Conversion]
) -> dict[str, Any]:
    """The block fields the given flags set: those of ``kind`` (every kind's
    included), or with ``kind=None`` only those every kind shares. A flag is
    converted by ``conversions[attribute]`` when there is one."""
    fields: dict[str, Any] = {}
    for flag in FLAGS:
        if flag.field is None or not (kind in flag.kinds or flag.kinds == EVERY_KIND):
            continue
        value = getattr(options, flag.attribute)
        if not is_given(value):
            continue
        convert = conversions.get(flag.attribute)
        fields[flag.field] = (
            convert(value) if convert else (list(value) if isinstance(value, list) else value)
        )
    return fields
