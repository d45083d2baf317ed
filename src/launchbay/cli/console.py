"""Status output on stderr (stdout belongs to the run's own output)."""

from __future__ import annotations

import logging
import sys

_PREFIX = "launchbay: "


def _styled(text: str, code: str) -> str:
    if sys.stderr.isatty():
        return f"\033[{code}m{text}\033[0m"
    return text


def info(message: str) -> None:
    print(_styled(_PREFIX + message, "2"), file=sys.stderr, flush=True)


def warning(message: str) -> None:
    print(_styled(f"{_PREFIX}warning: {message}", "33"), file=sys.stderr, flush=True)


def error(message: str) -> None:
    print(_styled(f"{_PREFIX}error: {message}", "31"), file=sys.stderr, flush=True)


class _StatusFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.ERROR:
            return _styled(f"{_PREFIX}{message}", "31")
        if record.levelno >= logging.WARNING:
            return _styled(f"{_PREFIX}warning: {message}", "33")
        return _styled(_PREFIX + message, "2")


def configure_logging(quiet: bool = False, verbose: bool = False) -> None:
    """launchbay's loggers print status lines on stderr."""
    from launchbay.settings import logging_level

    level = logging_level()
    if quiet:
        level = "WARNING"
    if verbose:
        level = "DEBUG"
    logger = logging.getLogger("launchbay")
    logger.setLevel(level)
    if not any(getattr(handler, "_launchbay", False) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_StatusFormatter())
        handler._launchbay = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False
