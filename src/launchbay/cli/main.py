"""Entry point: turn launchbay's errors into clear messages and exit codes."""

from __future__ import annotations

import sys
from typing import Any


def format_validation_error(exc: object) -> str:
    """A pydantic ValidationError as lines a user can act on (no URLs, no types)."""
    lines = []
    for error in exc.errors():  # type: ignore[attr-defined]
        location = ".".join(str(part) for part in error.get("loc", ())) or "value"
        message = error.get("msg", "invalid value")
        message = message.removeprefix("Value error, ")
        lines.append(f"  {location}: {message}")
    title = getattr(exc, "title", "configuration")
    return f"invalid {title} configuration:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from launchbay.cli.console import error
    from launchbay.exceptions import (
        InfrastructureError,
        InfrastructureNotAvailable,
        InfrastructureNotFound,
        LaunchbayError,
    )

    try:
        simple = _parse_simple_run(sys.argv[1:] if argv is None else argv)
        if simple is not None:
            code = _run_simple(simple)
            if code is not None:
                return code
        from launchbay.cli.app import build_app

        app = build_app()
        app(args=argv, prog_name="launchbay", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except InfrastructureError as exc:
        error(str(exc))
        return exc.exit_code
    except (InfrastructureNotFound, InfrastructureNotAvailable) as exc:
        error(str(exc))
        return 1
    except LaunchbayError as exc:
        error(str(exc))
        return 2
    except Exception as exc:
        if type(exc).__name__ == "ValidationError" and hasattr(exc, "errors"):
            error(format_validation_error(exc))
            return 2
        if isinstance(exc, (ValueError, FileNotFoundError, NotImplementedError)):
            error(str(exc))
            return 2
        raise
    return 0


def exit_code(status_code: int, reason: str | None) -> int:
    """A run's status code as a shell exit code: signals become 128+N."""
    if status_code >= 0:
        return status_code if status_code <= 255 else 1
    if reason and reason.startswith("SIG"):
        import signal

        try:
            return 128 + signal.Signals[reason].value
        except KeyError:
            pass
    return 1


# --- `launchbay run -- COMMAND` without the CLI framework --------------------------
#
# The commonest command, a plain local process with simple flags, is parsed
# here and run without an event loop, pydantic or typer: start-up is most of
# the cost of a short run. Anything else (other kinds, blocks, flows, --help,
# odd spellings, values typer would reject) goes to the full CLI, which parses
# the same flags the same way and gives its own messages.


class SimpleRun:
    """The flags of a simple ``run`` (a plain class: dataclasses cost start-up time)."""

    def __init__(self) -> None:
        self.command: list[str] = []
        self.env: dict[str, str | None] = {}
        self.name: str | None = None
        self.working_dir: str | None = None
        self.quiet = False
        self.verbose = False
        self.no_stream = False


_SWITCHES = {
    "-q": "quiet",
    "--quiet": "quiet",
    "-v": "verbose",
    "--verbose": "verbose",
    "--no-stream": "no_stream",
    "--process": None,  # the default kind
}
_VALUED = {
    "-e": "env",
    "--env": "env",
    "-l": "label",
    "--label": "label",
    "--name": "name",
    "--working-dir": "working_dir",
}


def _parse_simple_run(args: list[str]) -> SimpleRun | None:
    """``run [simple flags] -- COMMAND...`` parsed, or None for the full CLI."""
    if len(args) < 2 or args[0] != "run":
        return None
    run = SimpleRun()
    position = 1
    while position < len(args):
        arg = args[position]
        if arg == "--":
            run.command = args[position + 1 :]
            break
        if not arg.startswith("-") or arg == "-":
            if "--" in args[position:]:
                return None  # what the framework makes of a later "--" is its business
            run.command = args[position:]  # no interspersed options: the rest is the command
            break
        if arg in _SWITCHES:
            switch = _SWITCHES[arg]
            if switch is not None:
                setattr(run, switch, True)
            position += 1
            continue
        flag, equals, value = arg.partition("=")
        if equals and flag.startswith("--") and flag in _VALUED:
            position += 1
        elif arg in _VALUED and position + 1 < len(args) and not args[position + 1].startswith("-"):
            flag, value = arg, args[position + 1]
            position += 2
        else:
            return None
        if not _take_value(run, _VALUED[flag], value):
            return None
    return run if run.command else None


def _take_value(run: SimpleRun, what: str, value: str) -> bool:
    if what in ("env", "label"):
        key, equals, item = value.partition("=")
        if not key or (what == "label" and not equals):
            return False  # the full CLI explains what is wrong
        if what == "env":
            run.env[key] = item if equals else None
        return True  # labels are metadata: a local process run does not use them
    setattr(run, what, value)
    return True


class _Interrupted(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _run_simple(run: SimpleRun) -> int | None:
    """Run a plain process from the parsed flags, as ``launchbay run`` does
    through the framework; None when it cannot (no file descriptors to hand
    the child), and the full CLI takes over."""
    import logging
    import signal

    from launchbay import settings
    from launchbay._internal import processes
    from launchbay.cli import console

    fds = None
    if not run.no_stream:
        fds = processes.direct_output_fds()
        if fds is None:
            return None
    console.configure_logging(quiet=run.quiet, verbose=run.verbose)
    env = processes.environment(settings.base_environment(), run.env)

    # SIGINT/SIGTERM stop the run's tree (with its grace period) and exit
    # 128+N, once the run has started; one arriving earlier is acted on then.
    state: dict[str, Any] = {"armed": False, "signum": None}

    def on_signal(signum: int, frame: object) -> None:
        if state["signum"] is None:
            state["signum"] = signum
        if state["armed"]:
            state["armed"] = False
            console.warning(f"received {signal.Signals(signum).name}; stopping the run")
            raise _Interrupted(signum)

    def on_started(identifier: str) -> None:
        if not run.quiet:
            console.info(f"started {identifier}")
        state["armed"] = True
        if state["signum"] is not None:
            on_signal(state["signum"], None)

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, on_signal) for signum in handled}
    try:
        _, returncode = processes.run_blocking(
            run.command,
            env=env,
            working_dir=run.working_dir,
            output_fds=fds,
            name=run.name,
            logger=logging.getLogger("launchbay.infrastructure.process"),
            on_started=on_started,
        )
        state["armed"] = False
    except _Interrupted as exc:
        return 128 + exc.signum
    finally:
        state["armed"] = False
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return exit_code(returncode, processes.exit_reason(returncode))


if __name__ == "__main__":
    sys.exit(main())
