"""``launchbay ps`` without the CLI framework.

``ps`` is read often, by people and scripts: loading typer, rich and pydantic
would be most of its time. Its flags are few, so they are parsed here as the
typer command parses them (``cli/runs.py`` has the command, its help and its
messages); anything else (``--help``, a flag spelled otherwise, a bad value,
an argument) goes to the full CLI, which answers as it always has.
"""

from __future__ import annotations

import gc

from launchbay.cli.flags import FlagError, key_values

# The switches of ``ps`` by spelling: the attribute each one sets.
_SWITCHES = {
    "-a": "all",
    "--all": "all",
    "--json": "json_output",
    "-q": "quiet",
    "--quiet": "quiet",
    "--no-trunc": "no_trunc",
}
_SHORT_SWITCHES = {"a": "all", "q": "quiet"}
_LABEL_SPELLINGS = ("-l", "--label")


class PsFlags:
    """The flags of one ``ps`` (a plain class: dataclasses cost start-up time)."""

    def __init__(self) -> None:
        self.all = False
        self.json_output = False
        self.quiet = False
        self.no_trunc = False
        self.label: list[str] = []


def parse_ps(args: list[str]) -> PsFlags | None:
    """The flags of ``ps ARGS`` (``args`` without ``ps``), read as the typer
    command reads them; None for anything the full CLI must see."""
    flags = PsFlags()
    position = 0
    while position < len(args):
        arg = args[position]
        position += 1
        if arg in _SWITCHES:
            setattr(flags, _SWITCHES[arg], True)
            continue
        if arg.startswith("--label="):
            value = arg[len("--label=") :]
        elif arg in _LABEL_SPELLINGS:
            if position == len(args) or args[position].startswith("-"):
                return None  # no value (or one the framework may read otherwise)
            value = args[position]
            position += 1
        elif arg.startswith("-") and not arg.startswith("--") and len(arg) > 1:
            # A cluster of short options (-aq, -al K=V, -lK=V), as click reads one.
            switches, letter, attached = arg[1:].partition("l")
            if any(switch not in _SHORT_SWITCHES for switch in switches):
                return None
            for switch in switches:
                setattr(flags, _SHORT_SWITCHES[switch], True)
            if not letter:
                continue
            if attached:
                value = attached
            elif position == len(args) or args[position].startswith("-"):
                return None
            else:
                value = args[position]
                position += 1
        else:
            return None  # --help, an argument, a flag ps does not have: the framework's to say
        flags.label.append(value)
    return flags


def show_runs(*, all: bool, json_output: bool, labels: list[str], quiet: bool, no_trunc: bool) -> None:
    """List the runs as ``ps`` does (``FlagError`` for a label that is no KEY=VALUE)."""
    from launchbay import runs
    from launchbay.cli import console
    from launchbay.cli.runs_table import write_records

    wanted = {key: value or "" for key, value in key_values(labels, "--label").items()}
    console.configure_logging()
    # Thousands of records make no reference cycles: the cyclic collector,
    # which the allocations would run again and again, is paused meanwhile.
    collecting = gc.isenabled()
    gc.disable()
    try:
        records = runs.list(all=all, labels=wanted)
        write_records(records, json_output=json_output, quiet=quiet, no_trunc=no_trunc)
    finally:
        if collecting:
            gc.enable()


def fast_ps(args: list[str]) -> int | None:
    """``launchbay ps ARGS``: its exit code, or None when the full CLI must
    run it (``args`` without ``ps``)."""
    flags = parse_ps(args)
    if flags is None:
        return None
    try:
        key_values(flags.label, "--label")
    except FlagError:
        return None  # the full CLI says what is wrong, as a usage error
    show_runs(
        all=flags.all,
        json_output=flags.json_output,
        labels=flags.label,
        quiet=flags.quiet,
        no_trunc=flags.no_trunc,
    )
    return 0
