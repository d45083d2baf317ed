"""Entry point: the fast path or the typer CLI, and launchbay's errors turned
into clear messages and exit codes."""

from __future__ import annotations

import sys
from typing import NoReturn

from launchbay.cli.fast_path import prepare_supervisor_meanwhile, run_simple, simple_run


def format_validation_error(exc: Exception) -> str:
    """A pydantic ValidationError as lines a user can act on (no URLs, no types)."""
    lines = []
    for error in exc.errors():  # type: ignore[attr-defined]
        location = ".".join(str(part) for part in error.get("loc", ())) or "value"
        message = error.get("msg", "invalid value")
        message = message.removeprefix("Value error, ")
        lines.append(f"  {location}: {message}")
    title = getattr(exc, "title", "configuration")
    return f"invalid {title} configuration:\n" + "\n".join(lines)


def _reopen_closed_standard_streams() -> None:
    """``launchbay run -- cmd >&-`` (or ``2>&-``): a closed standard descriptor
    is reopened on /dev/null, so that launchbay's own status lines (and the run,
    which inherits it) lose nothing but the closed stream's output, the run's
    exit code survives, and no file launchbay opens later takes fd 1 or 2."""
    import os

    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            if getattr(sys, name) is not None:
                continue
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))  # noqa: SIM115 - for the process's life


# Set once a run on the fast path is over: nothing is left to tear down (see ``entry``).
_fast_run_done = False


def main(argv: list[str] | None = None) -> int:
    global _fast_run_done
    _reopen_closed_standard_streams()
    args = sys.argv[1:] if argv is None else argv
    simple = simple_run(args)
    if simple is not None:
        prepare_supervisor_meanwhile()  # first: it waits in the kernel while the rest loads
    import warnings

    # launchbay's warnings are also log records, which the CLI prints as status
    # lines: Python's own copy of them would say everything twice.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"launchbay(\.|$)")
    from launchbay.cli.console import error
    from launchbay.exceptions import InfrastructureNotAvailable, InfrastructureNotFound, LaunchbayError

    try:
        if args[:1] == ["ps"]:
            from launchbay.cli.ps_fast import fast_ps

            code = fast_ps(args[1:])
            if code is not None:
                return code
        if simple is not None:
            code = run_simple(simple)
            if code is not None:
                _fast_run_done = True
                return code
        from launchbay.cli.app import build_app

        app = build_app()
        app(args=argv, prog_name="launchbay", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except LaunchbayError as exc:
        # An error may say how the CLI exits (InfrastructureError: 125, 126, 127);
        # otherwise "not there" is 1 and any other launchbay error 2.
        error(str(exc))
        default = 1 if isinstance(exc, (InfrastructureNotFound, InfrastructureNotAvailable)) else 2
        code = getattr(exc, "exit_code", default)
        return code if isinstance(code, int) else default
    except Exception as exc:
        if type(exc).__name__ == "ValidationError" and hasattr(exc, "errors"):
            error(format_validation_error(exc))
            return 2
        if isinstance(exc, (ValueError, FileNotFoundError, NotImplementedError)):
            error(str(exc))
            return 2
        raise
    return 0


def entry() -> NoReturn:
    """The ``launchbay`` program: ``main()``, and its exit code.

    After a run on the fast path the process leaves without the interpreter's
    teardown (freeing every module and object: about 10 ms of a 60 ms
    ``launchbay run -- true`` here), once its own output is flushed. Nothing is
    left to do by then: the run's tree, cgroup, registry file and directory
    are gone, and its record is committed (the store's connection is not
    closed: SQLite keeps the commits in its WAL file, which the next
    connection reads)."""
    code = main()
    if not _fast_run_done:
        sys.exit(code)
    import logging
    import os

    logging.shutdown()  # flushes the status lines' handler
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed, or a reader gone: as sys.exit would fare
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()
