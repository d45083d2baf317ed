"""How a run that launchbay stops is stopped: which signal goes first and how
long the tree gets before it is killed. The CLI sets it from the signal it
received and ``--grace``; a second signal escalates to an immediate kill.
Written once for every kind and path (SPEC 13)."""

from __future__ import annotations

import signal
from contextvars import ContextVar
from typing import Any

from launchbay._internal.exits import CANCEL_GRACE_SECONDS


class Escalated(Exception):
    """A second signal arrived during the grace: kill now."""


class StopRequest:
    # A plain class (not a dataclass): the CLI's fast path loads this module.
    def __init__(
        self,
        signum: int = signal.SIGTERM,
        grace_seconds: float = CANCEL_GRACE_SECONDS,
        escalated: bool = False,
    ) -> None:
        self.signum = signum
        self.grace_seconds = grace_seconds
        self.escalated = escalated
        self._event: Any = None

    def __repr__(self) -> str:
        return f"StopRequest(signum={self.signum!r}, grace_seconds={self.grace_seconds!r}, escalated={self.escalated!r})"

    def escalate(self) -> None:
        self.escalated = True
        if self._event is not None:
            self._event.set()

    async def sleep_unless_escalated(self, seconds: float) -> None:
        """Sleep ``seconds``; raise Escalated at once if (or as soon as) the
        stop was escalated."""
        import anyio

        if self.escalated:
            raise Escalated
        if self._event is None:
            self._event = anyio.Event()
        with anyio.move_on_after(seconds):
            await self._event.wait()
        if self.escalated:
            raise Escalated


STOP_REQUEST: ContextVar[StopRequest | None] = ContextVar("launchbay_stop_request", default=None)


def current_stop_request() -> StopRequest:
    """The stop request in effect (SIGTERM and the default grace, unless the
    CLI set one)."""
    return STOP_REQUEST.get() or StopRequest()
