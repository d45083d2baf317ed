"""``launchbay run -- COMMAND`` without the CLI framework.

The commonest command, a plain local process with simple flags, is parsed here
and run without an event loop, pydantic or typer: start-up is most of the cost
of a short run. The parser is generated from the flag table (the flags marked
``fast``), so it reads them exactly as the typer CLI does. Anything else (other
kinds, blocks, flows, --help, odd spellings, values typer would reject) goes to
the full CLI, which gives its own messages.
"""

from __future__ import annotations

from launchbay.cli.exit_codes import exit_code
from launchbay.cli.flags import FLAGS, REPEATED, RUN, SWITCH, Flag, FlagError, ParsedFlags, key_values


class SimpleRun:
    """A simple ``run``: its flags, its command and the environment the flags
    give it (a plain class: dataclasses cost start-up time)."""

    def __init__(self, flags: ParsedFlags, command: list[str], env: dict[str, str | None]) -> None:
        self.flags = flags
        self.command = command
        self.env = env


def _fast_spellings() -> tuple[dict[str, Flag], dict[str, Flag]]:
    """The fast flags of ``run`` by spelling: (switches, flags with values)."""
    switches: dict[str, Flag] = {}
    valued: dict[str, Flag] = {}
    for flag in FLAGS:
        if flag.fast and RUN in flag.commands:
            for spelling in flag.spellings:
                (switches if flag.form == SWITCH else valued)[spelling] = flag
    return switches, valued


def parse_fast(args: list[str]) -> tuple[ParsedFlags, list[str]] | None:
    """``run [fast flags] -- COMMAND...`` parsed as the typer CLI parses it:
    (flags, command); None for anything the full CLI must see."""
    if len(args) < 2 or args[0] != "run":
        return None
    switches, valued = _fast_spellings()
    flags = ParsedFlags()
    command: list[str] = []
    position = 1
    while position < len(args):
        arg = args[position]
        if arg == "--":
            command = args[position + 1 :]
            break
        if not arg.startswith("-") or arg == "-":
            if "--" in args[position:]:
                return None  # what the framework makes of a later "--" is its business
            command = args[position:]  # no interspersed options: the rest is the command
            break
        if arg in switches:
            setattr(flags, switches[arg].attribute, True)
            position += 1
            continue
        spelling, equals, value = arg.partition("=")
        if equals and spelling.startswith("--") and spelling in valued:
            position += 1
        elif arg in valued and position + 1 < len(args) and not args[position + 1].startswith("-"):
            spelling, value = arg, args[position + 1]
            position += 2
        else:
            return None
        flag = valued[spelling]
        try:
            typed = flag.parse(value)
        except ValueError:
            return None  # the full CLI explains what is wrong
        if flag.form == REPEATED:
            getattr(flags, flag.attribute).append(typed)
        else:
            setattr(flags, flag.attribute, typed)
    return (flags, command) if command else None


def simple_run(args: list[str]) -> SimpleRun | None:
    """The simple run ``args`` describe, or None for the full CLI."""
    parsed = parse_fast(args)
    if parsed is None:
        return None
    flags, command = parsed
    try:
        env = key_values(flags.env, "--env", allow_unset=True)
        key_values(flags.label, "--label")  # labels are metadata: a local process run does not use them
    except FlagError:
        return None  # the full CLI explains what is wrong
    return SimpleRun(flags, command, env)


def prepare_supervisor_meanwhile() -> None:
    """Choose the containment and start the watchdog in a thread while this
    one loads the rest: the first move into a cgroup waits some milliseconds
    in the kernel, with nothing for this process to do. The run itself waits
    for both (their locks), so nothing is spawned before they are done; a
    failure is left for the run to meet and report."""
    import sys
    import threading

    from launchbay._internal.process.supervisor import prepare

    # The thread's few steps before that wait each give up the GIL (a file
    # read, a mkdir); at the default 5 ms switch interval, this thread's
    # imports would hold it back for most of its head start.
    interval = sys.getswitchinterval()

    def prepare_here() -> None:
        try:
            prepare()
        except Exception:  # the run meets it again and says what it is
            pass
        finally:
            sys.setswitchinterval(interval)

    sys.setswitchinterval(min(interval, 0.0002))
    threading.Thread(target=prepare_here, name="launchbay-prepare", daemon=True).start()


def run_simple(run: SimpleRun) -> int | None:
    """Run a plain process from the parsed flags, as ``launchbay run`` does
    through the framework; None when it cannot (no file descriptors to hand
    the child), and the full CLI takes over. The caller has started
    ``prepare_supervisor_meanwhile``, as early as it can."""
    from launchbay import settings
    from launchbay._internal.process import runner
    from launchbay._internal.process.spec import build_spec
    from launchbay.cli import console
    from launchbay.cli.supervise import check_grace, run_process

    flags = run.flags
    fds = None
    if not flags.no_stream:
        fds = runner.direct_output_fds()
        if fds is None:
            return None
    if flags.timeout is not None and not flags.timeout > 0:
        return None  # the full CLI explains what is wrong
    grace = check_grace(flags.grace)
    console.configure_logging(quiet=flags.quiet, verbose=flags.verbose)
    spec = build_spec(
        run.command,
        base_environment=settings.base_environment(),
        env=run.env,
        working_dir=flags.working_dir,
        stream_output=not flags.no_stream,
        name=flags.name,
        timeout_seconds=flags.timeout,
    )
    from launchbay._internal.exits import ExitReason
    from launchbay._internal.records import recorder

    labels = {key: value or "" for key, value in key_values(flags.label, "--label").items()}
    recording = recorder.begin("process", command=run.command, name=flags.name, labels=labels, cli=True)
    started: list[str] = []

    def on_start(identifier: str) -> None:
        started.append(identifier)
        if recording is not None:
            recording.started(identifier)

    try:
        outcome, interrupted = run_process(
            spec, quiet=flags.quiet, grace_seconds=grace, output_fds=fds, on_start=on_start
        )
    except BaseException as exc:
        if recording is not None:
            if started:
                recording.end(-1, ExitReason.CANCELLED, f"the run was stopped: {type(exc).__name__}")
            else:
                recording.abandon()
        raise
    if recording is not None:
        recording.end(outcome.status_code, outcome.exit_reason, outcome.reason)
    if interrupted is not None:
        return interrupted
    return exit_code(outcome.status_code, outcome.reason, outcome.exit_reason)
