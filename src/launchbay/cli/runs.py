"""``launchbay ps|logs|wait|inspect|rm|prune`` and ``run -d`` (SPEC 14).

The output follows Docker's: ``ps`` prints aligned columns with short ids and
relative times (``--json`` for scripts), ``wait`` prints the status code,
``inspect`` the record as JSON; what launchbay says about them goes to stderr.
Every command takes a run id (or a unique prefix), a run name or an
infrastructure pid.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import TYPE_CHECKING, Optional

import typer

from launchbay.cli import console
from launchbay.cli.flags import ParsedFlags

if TYPE_CHECKING:
    from launchbay._internal.records.model import RunRecord
    from launchbay.infrastructure.base import Infrastructure

RUN_HELP = "A run id (or a unique prefix of one), a run name, or an infrastructure pid."

# --- durations, for prune -----------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``24h``, ``7d``, ``2w`` as seconds."""
    match = _DURATION.match(text.lower())
    if match is None:
        raise typer.BadParameter(f"{text!r} is not a duration: use e.g. 90s, 15m, 24h, 7d or 2w")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


# --- the commands --------------------------------------------------------------------------------


def ps(
    all: bool = typer.Option(False, "--all", "-a", help="Show every run, not only running ones."),
    json_output: bool = typer.Option(False, "--json", help="Print the records as a JSON list."),
    label: Optional[list[str]] = typer.Option(
        None, "--label", "-l", metavar="KEY=VALUE", help="Only runs with this label (repeatable)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only print run ids."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not shorten ids and commands."),
) -> None:
    """List runs (running ones; -a: all), newest first."""
    from launchbay.cli.ps_fast import show_runs  # (the fast path, cli/ps_fast.py, runs the same)

    show_runs(all=all, json_output=json_output, labels=label or [], quiet=quiet, no_trunc=no_trunc)


def logs(
    run: str = typer.Argument(..., metavar="RUN", help=RUN_HELP),
    follow: bool = typer.Option(False, "--follow", "-f", help="Follow the output until the run ends."),
) -> None:
    """Print a run's output (a detached process run's log; a container's or job's from its engine)."""
    from launchbay import runs

    console.configure_logging(quiet=True)
    runs.logs(run, follow=follow)


def wait(runs_given: list[str] = typer.Argument(..., metavar="RUN...", help=RUN_HELP)) -> None:
    """Block until each run ends, then print its status code (as `docker wait`)."""
    import logging

    from launchbay import runs

    console.configure_logging(quiet=True)
    logging.getLogger("launchbay").setLevel(logging.CRITICAL)  # only the codes, as `docker wait`
    failed = False
    for reference in runs_given:
        record = runs.wait(reference)
        print(-1 if record.status_code is None else record.status_code, flush=True)
        if record.status.value == "lost":
            console.error(f"run {record.short_id} was lost: {record.reason}")
            failed = True
    if failed:
        raise typer.Exit(1)


def inspect(run: str = typer.Argument(..., metavar="RUN", help=RUN_HELP)) -> None:
    """Print a run's record as JSON."""
    from launchbay import runs

    console.configure_logging()
    print(json.dumps(runs.get(run).to_json(), indent=2))


def rm(
    runs_given: list[str] = typer.Argument(..., metavar="RUN...", help=RUN_HELP),
    force: bool = typer.Option(False, "--force", "-f", help="Stop a running run first (killed at once)."),
) -> None:
    """Remove finished runs' records and logs."""
    from launchbay import runs

    console.configure_logging()
    for reference in runs_given:
        removed = runs.remove(reference, force=force)
        print(removed.id)


def prune(
    older_than: Optional[str] = typer.Option(
        None,
        "--older-than",
        metavar="DURATION",
        help="Only runs that ended longer ago than this (90s, 15m, 24h, 7d).",
    ),
) -> None:
    """Remove the records and logs of finished runs."""
    from launchbay import runs

    console.configure_logging()
    seconds = None if older_than is None else parse_duration(older_than)
    removed = runs.prune(older_than=seconds)
    for record in removed:
        print(record.id)
    console.info(f"removed {len(removed)} run record{'s' if len(removed) != 1 else ''}")


COMMANDS = (ps, logs, wait, inspect, rm, prune)


def register(app: typer.Typer) -> None:
    """Add the commands to ``app`` (with the names ``wait`` and ``rm`` get from their functions)."""
    for command in COMMANDS:
        app.command(name=command.__name__)(command)


# --- kill and attach by run reference (for cli/app.py) ----------------------------------------


def recorded_run(reference: str) -> RunRecord | None:
    """The record ``reference`` names (an id, a unique prefix, a name, or an
    infrastructure pid that has a record); None when it names none and is an
    infrastructure pid (``kill``/``attach`` then act on the pid as before).
    An ambiguous prefix, or a reference that is neither, raises."""
    from launchbay import runs
    from launchbay._internal.pids import kind_of_pid

    try:
        return runs.get(reference)
    except runs.RunNotFound:
        try:
            kind_of_pid(reference)
        except ValueError:
            raise runs.RunNotFound(
                f"No run {reference!r}: it is no run id, name or infrastructure pid (see `launchbay ps -a`)."
            ) from None
        return None


def kill_recorded(record: RunRecord, grace_seconds: float) -> None:
    """``launchbay kill RUN`` of a recorded run: its kind's kill, through the
    block it ran from (to reach its daemon or cluster)."""
    from launchbay import runs

    runs.kill(record.id, grace_seconds=grace_seconds)
    console.info(f"stopped {record.infrastructure_pid}")


def attach_recorded(record: RunRecord) -> int:
    """``launchbay attach RUN`` of a recorded run: its output from the start
    (a detached process run's log; a container's or a Job's from its engine)
    until it ends, then its exit code (128+N after signal N, 124 after its
    timeout; 1 when lost or unknown)."""
    from launchbay import runs
    from launchbay._internal.exits import shell_exit_code

    ended = runs.attach(record.id)
    if ended.status.value == "lost":
        console.error(f"run {ended.short_id} was lost: {ended.reason}")
        return 1
    if ended.status_code is None:
        return 1
    return shell_exit_code(
        ended.status_code, ended.reason, None if ended.exit_reason is None else ended.exit_reason.value
    )


# --- run -d -------------------------------------------------------------------------------------


def block_reference(options: ParsedFlags, infrastructure: Infrastructure) -> str | None:
    """``TYPE/NAME`` of the saved block the run uses (``--infra``), for its record."""
    if not options.infra:
        return None
    if "/" in options.infra:
        return options.infra
    return f"{infrastructure.get_block_type_slug()}/{options.infra}"


def run_detached(infrastructure: Infrastructure, options: ParsedFlags) -> int:
    """``launchbay run -d``: start the run in the background, print its run id
    on stdout once it has started, and return 0 (or raise, as ``run`` does).

    A process run is held by a supervisor of its own (``process.detached``);
    a container or a Job by its engine: it is created and started, and this
    process leaves at once without stopping it (see ``_start_and_leave``).
    """
    from launchbay.cli.supervise import check_grace

    console.configure_logging(quiet=options.quiet, verbose=options.verbose)
    grace = check_grace(options.grace)
    if not infrastructure.command:
        raise ValueError(f"{type(infrastructure).__name__} cannot be run with empty command.")
    block = block_reference(options, infrastructure)
    if infrastructure.type == "process":
        return _detach_process(infrastructure, grace, block, quiet=options.quiet)
    return _start_and_leave(infrastructure, block, quiet=options.quiet)


def _detach_process(infrastructure: Infrastructure, grace: float, block: str | None, *, quiet: bool) -> int:
    from launchbay import settings
    from launchbay._internal.process import detached
    from launchbay._internal.process.spec import build_spec
    from launchbay._internal.records.logs import home_directory
    from launchbay._internal.records.model import new_id

    spec = build_spec(
        infrastructure.command,
        base_environment=settings.base_environment(),
        env=infrastructure.env,
        working_dir=getattr(infrastructure, "working_dir", None),
        stream_output=bool(getattr(infrastructure, "stream_output", True)),
        name=infrastructure.name,
        timeout_seconds=infrastructure.timeout_seconds,
    )
    request = detached.request_for(
        spec,
        run_id=new_id(),
        home=home_directory(),
        grace_seconds=grace,
        labels=infrastructure.labels,
        block=block,
    )
    started = detached.launch(request)
    print(started.run_id, flush=True)
    if not quiet:
        console.info(f"started {started.infrastructure_pid}")
    return 0


class _StartedThenLeave:
    """The task status of a detached engine run: once the container or Job
    has started, record it, print its id and leave this process at once
    (``os._exit``), so that nothing stops what was started -- the engine
    holds it from now on, as ``docker run -d`` leaves a container."""

    def __init__(self, recording: object, quiet: bool) -> None:
        self._recording = recording
        self._quiet = quiet

    def started(self, value: str | None = None) -> None:
        from launchbay._internal.records.recorder import Recording

        assert isinstance(self._recording, Recording) and value is not None
        self._recording.started(value, engine_holds=True)
        self._recording.store.close()
        print(self._recording.run_id, flush=True)
        if not self._quiet:
            console.info(f"started {value}")
        sys.stderr.flush()
        os._exit(0)


def _start_and_leave(infrastructure: Infrastructure, block: str | None, *, quiet: bool) -> int:
    import anyio

    from launchbay._internal.records import recorder
    from launchbay._internal.records.store import open_record_store
    from launchbay.exceptions import LaunchbayError

    if infrastructure.type == "docker-container" and infrastructure.timeout_seconds is not None:
        raise LaunchbayError(
            "--timeout cannot be used with -d for a Docker run: the engine has no run timeout of its own "
            "and no launchbay process watches a detached container. Run it in the foreground, or "
            "without --timeout (a Kubernetes Job's timeout is the cluster's activeDeadlineSeconds)."
        )
    recording = recorder.begin(
        infrastructure.type,
        command=infrastructure.command or (),
        name=infrastructure.name,
        labels=infrastructure.labels,
        block=block,
        cli=True,
        detached=True,
        store=open_record_store(),
        required=True,
    )
    assert recording is not None
    quiet_copy = infrastructure.model_copy(update={"stream_output": False})
    try:
        anyio.run(quiet_copy.arun, _StartedThenLeave(recording, quiet))
    except BaseException:
        recording.abandon()  # it never started
        raise
    recording.abandon()
    raise LaunchbayError("the run ended before it reported that it had started")
