"""What ``launchbay ps`` prints: the table (Docker's columns, short ids,
relative times), the JSON list, or the ids.

Stdlib only, and written for ten thousand rows: ``ps`` runs without the CLI
framework (``cli/ps_fast.py``), and its time is mostly this and the read.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import time
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING, Any

from launchbay._internal.records.model import RunStatus

if TYPE_CHECKING:
    from launchbay._internal.records.model import RunRecord

KIND_NAMES = {"process": "process", "docker-container": "docker", "kubernetes-job": "kubernetes"}
COMMAND_WIDTH = 30
HEADER = ("RUN ID", "KIND", "COMMAND", "CREATED", "STATUS", "NAME")
_COLUMN_GAP = "   "
# What shlex.quote leaves alone: a command made of such words only is joined as is.
_NEEDS_QUOTES = re.compile(r"[^\w@%+=:,./-]", re.ASCII).search


# --- times, as Docker says them --------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """``5 seconds``, ``About a minute``, ``3 hours``, ... (Docker's wording)."""
    if seconds < 1:
        return "Less than a second"
    if seconds < 2:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = seconds / 60
    if minutes < 2:
        return "About a minute"
    if minutes < 60:
        return f"{int(minutes)} minutes"
    hours = minutes / 60
    if round(hours) < 2:
        return "About an hour"
    if hours < 48:
        return f"{round(hours)} hours"
    if hours < 24 * 7 * 2:
        return f"{int(hours / 24)} days"
    if hours < 24 * 30 * 2:
        return f"{int(hours / 24 / 7)} weeks"
    if hours < 24 * 365 * 2:
        return f"{int(hours / 24 / 30)} months"
    return f"{int(hours / 24 / 365)} years"


def _ago(moment: float, now: float) -> str:
    return f"{human_duration(max(0.0, now - moment))} ago"


def status_text(record: RunRecord, now: float) -> str:
    """``Up 5 seconds``, ``Exited (7) 2 minutes ago``, ``Lost``."""
    status = record.status  # compared as the members (an enum's .value is a slow property)
    if status is RunStatus.RUNNING:
        return f"Up {human_duration(max(0.0, now - record.created.timestamp()))}"
    if status is RunStatus.LOST:
        return "Lost"
    code = "?" if record.status_code is None else str(record.status_code)
    ended = f" {_ago(record.ended.timestamp(), now)}" if record.ended is not None else ""
    return f"Exited ({code}){ended}"


def command_text(command: Sequence[str], truncate: bool) -> str:
    """The command as a shell would read it, quoted (shortened to the column)."""
    # shlex.join quotes word by word; most commands need no quotes at all,
    # which one search over all the words tells.
    text = " ".join(command)
    if not all(command) or _NEEDS_QUOTES("".join(command)) is not None:
        text = shlex.join(command)
    if truncate and len(text) > COMMAND_WIDTH:
        text = text[: COMMAND_WIDTH - 1] + "…"
    return f'"{text}"'


def format_table(records: Sequence[RunRecord], *, truncate: bool = True, now: float | None = None) -> str:
    """The ``ps`` table: a header and one aligned row per record."""
    now = time.time() if now is None else now
    rows: list[tuple[str, ...]] = [HEADER]
    kind_names = KIND_NAMES
    for record in records:
        rows.append(
            (
                record.id[:12] if truncate else record.id,
                kind_names.get(record.kind, record.kind),
                command_text(record.command, truncate),
                _ago(record.created.timestamp(), now),
                status_text(record, now),
                record.name or "",
            )
        )
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    line = _COLUMN_GAP.join(f"{{:<{width}}}" for width in widths).format
    return "\n".join([line(*row).rstrip() for row in rows])


# --- JSON ----------------------------------------------------------------------------------------


def json_text(value: Any, indent: int = 2) -> str:
    """``json.dumps(value, indent=2)``, made the same way but quicker: with an
    indent, json encodes in Python, item by item; here the strings and numbers
    go through its C functions and only the nesting is Python's."""
    pieces: list[str] = []
    try:
        _encode(value, pieces, "\n", " " * indent)
    except _NotPlain:
        return json.dumps(value, indent=indent)
    return "".join(pieces)


class _NotPlain(Exception):
    """A value this encoder leaves to json (a float, a tuple, a subclass...)."""


def _encode(value: Any, out: list[str], newline: str, step: str) -> None:
    kind = type(value)
    if kind is str:
        out.append(encode_basestring_ascii(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        inner = newline + step
        separator = "{" + inner
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            out.append(separator)
            out.append(encode_basestring_ascii(key))
            out.append(": ")
            _encode(item, out, inner, step)
            separator = "," + inner
        out.append(newline + "}")
    elif kind is list:
        if not value:
            out.append("[]")
            return
        inner = newline + step
        separator = "[" + inner
        for item in value:
            out.append(separator)
            _encode(item, out, inner, step)
            separator = "," + inner
        out.append(newline + "]")
    elif value is None:
        out.append("null")
    elif kind is bool:
        out.append("true" if value else "false")
    elif kind is int:
        out.append(int.__repr__(value))
    else:
        raise _NotPlain  # floats, tuples, subclasses...: json's own rules


def write_records(records: Sequence[RunRecord], *, json_output: bool, quiet: bool, no_trunc: bool) -> None:
    """Print ``records`` as ``ps`` does: JSON, ids, or the table."""
    if json_output:
        text = json_text([record.to_json() for record in records])
    elif quiet:
        text = "\n".join(record.id if no_trunc else record.short_id for record in records)
        if not records:
            return
    else:
        text = format_table(records, truncate=not no_trunc)
    sys.stdout.write(text + "\n")
