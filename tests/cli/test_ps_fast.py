"""`launchbay ps` has a fast path that skips the CLI framework: it must read
the same flags as the typer command, print the same, and hand anything else
(help, odd spellings, bad values) to it."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from launchbay._internal.exits import ExitReason
from launchbay._internal.records.model import RunRecord, RunStatus
from launchbay._internal.records.store import open_record_store
from launchbay.cli import app as app_module
from launchbay.cli.main import main
from launchbay.cli.ps_fast import fast_ps, parse_ps

DAYS_AGO = time.time() - 3 * 86400  # old enough that the relative times do not move during a test


def _at(seconds_before: float) -> datetime:
    return datetime.fromtimestamp(DAYS_AGO - seconds_before, timezone.utc)


def _fill() -> None:
    store = open_record_store()
    store.insert(
        RunRecord(
            id="a" * 32, kind="process", command=("sh", "-c", "echo 'hi there' && sleep 100000"), created=_at(10),
            name="web", labels={"team": "a"}, status=RunStatus.EXITED, status_code=3,
            exit_reason=ExitReason.EXITED, ended=_at(5), infrastructure_pid="h:1",
        )
    )  # fmt: skip
    store.insert(
        RunRecord(
            id="b" * 32, kind="docker-container", command=("true",), created=_at(20), labels={"team": "b", "x": "é"},
            status=RunStatus.EXITED, status_code=0, ended=_at(1),
        )
    )  # fmt: skip
    store.insert(
        RunRecord(id="c" * 32, kind="process", command=("sleep", "5"), created=_at(30), status=RunStatus.LOST)
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], (False, False, False, False, [])),
        (["-a"], (True, False, False, False, [])),
        (["--all", "--json"], (True, True, False, False, [])),
        (["-aq", "--no-trunc"], (True, False, True, True, [])),
        (
            ["-qa", "-l", "k=v", "--label", "x=y", "--label=z=w"],
            (True, False, True, False, ["k=v", "x=y", "z=w"]),
        ),
        (["-al", "k=v"], (True, False, False, False, ["k=v"])),
        (["-alk=v"], (True, False, False, False, ["k=v"])),
        (["-la"], (False, False, False, False, ["a"])),  # as click reads it: "a" is -l's value
    ],
)
def test_the_flags_are_read_as_the_typer_command_reads_them(
    args: list[str], expected: tuple[bool, bool, bool, bool, list[str]]
) -> None:
    flags = parse_ps(args)
    assert flags is not None
    assert (flags.all, flags.json_output, flags.quiet, flags.no_trunc, flags.label) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["-h"],
        ["-ah"],
        ["extra"],
        ["--bogus"],
        ["-x"],
        ["--json=1"],
        ["-l"],
        ["-l", "-a"],
        ["--"],
        ["-"],
    ],
)
def test_anything_else_goes_to_the_full_cli(args: list[str]) -> None:
    assert parse_ps(args) is None


@pytest.mark.parametrize("label", ["team", "=x", ""])
def test_a_label_that_is_no_key_value_goes_to_the_full_cli(label: str) -> None:
    assert fast_ps(["-l", label]) is None


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["-a"],
        ["-a", "--json"],
        ["-aq"],
        ["-a", "-q", "--no-trunc"],
        ["-a", "--no-trunc"],
        ["-al", "team=a"],
        ["-a", "--label=team=b", "-l", "x=é"],
        ["-a", "-l", "team=nobody"],
        ["-aq", "-l", "team=nobody"],
        ["-a", "--json", "-l", "team=nobody"],
    ],
)
def test_the_fast_path_prints_what_the_typer_command_prints(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    _fill()
    assert main(["ps", *args]) == 0
    fast = capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        app_module.build_app()(args=["ps", *args], prog_name="launchbay")
    assert exited.value.code in (0, None)
    full = capsys.readouterr()
    assert (fast.out, fast.err) == (full.out, full.err)
    assert fast.out or args == ["-aq", "-l", "team=nobody"]  # (something was compared)


def test_ps_loads_neither_typer_nor_pydantic_nor_rich() -> None:
    _fill()
    code = (
        "import sys; from launchbay.cli.main import main; code = main(['ps', '-a', '--json']); "
        "loaded = sorted(m for m in ('typer', 'pydantic', 'rich', 'click') if m in sys.modules); "
        "print(code, loaded, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.strip() == "0 []"
    assert '"id": "' + "a" * 32 + '"' in done.stdout


def test_the_help_is_the_typer_command_s() -> None:
    from tests.cli.commands import launchbay

    done = launchbay("ps", "--help")
    assert done.returncode == 0 and "--no-trunc" in done.stdout and "--label" in done.stdout


@pytest.mark.parametrize(
    "value",
    [
        [],
        {},
        [[]],
        [{}],
        {"a": [1, True, None, False, 'é\n"x"']},
        1.5,
        [1.5],
        {"a": float("nan")},
        (1, 2),
        {1: 2},
    ],
)
def test_the_json_is_json_dumps_with_an_indent_of_two(value: object) -> None:
    import json

    from launchbay.cli.runs_table import json_text

    assert json_text(value) == json.dumps(value, indent=2)


def test_records_as_json_are_what_json_dumps_makes_of_them() -> None:
    import json

    from launchbay.cli.runs_table import json_text

    _fill()
    listed = [record.to_json() for record in open_record_store().records()]
    assert json_text(listed) == json.dumps(listed, indent=2)
