"""Waking an async task from another thread without blocking that thread."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.lowlevel


def call_soon_threadsafe() -> Callable[[Callable[[], object]], object]:
    """The running event loop's non-blocking "run this soon" for other threads
    (asyncio's loop.call_soon_threadsafe, trio's token.run_sync_soon)."""
    native = anyio.lowlevel.current_token().native_token
    call_soon = getattr(native, "call_soon_threadsafe", None) or getattr(native, "run_sync_soon", None)
    if call_soon is None:  # pragma: no cover - a backend anyio may add later
        raise RuntimeError(f"Unsupported event loop {native!r}")
    return call_soon


class Waker:
    """An event another thread can set; created inside the task that waits.

    The waiting task calls ``clear()`` *before* checking its condition and
    ``wait()`` after, so a wake-up between the two is never lost.
    """

    def __init__(self) -> None:
        self._event = anyio.Event()
        self._call_soon = call_soon_threadsafe()

    def wake(self) -> None:
        """From any thread. A loop that has already closed is ignored."""
        try:
            self._call_soon(self._set)
        except RuntimeError:
            pass

    def _set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        if self._event.is_set():
            self._event = anyio.Event()

    async def wait(self, timeout: float | None = None) -> None:
        with anyio.move_on_after(timeout):
            await self._event.wait()
