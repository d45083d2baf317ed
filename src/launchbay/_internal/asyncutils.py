"""Run the same ``async def`` method from sync and async callers."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def in_async_context() -> bool:
    """True when called from a thread that is running an event loop."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_sync(fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any) -> R:
    """Run an async callable to completion from sync code."""
    import anyio

    return anyio.run(functools.partial(fn, *args, **kwargs))


def sync_compatible(
    fn: Callable[P, Coroutine[Any, Any, R]] | None = None, *, blocking: str | None = None
) -> Any:
    """Make an ``async def`` usable with and without ``await``.

    From async code the call returns the coroutine (so ``await obj.method()``
    works); from sync code it runs to completion and returns the result.
    ``_sync=True``/``False`` forces either behaviour.

    ``blocking`` names a method of the same object that does the same work for
    a sync caller without starting an event loop (cheaper when there is one
    thing to wait for); it returns ``NotImplemented`` to decline, and the
    coroutine then runs in a new loop as usual.
    """
    if fn is None:
        return functools.partial(sync_compatible, blocking=blocking)
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"{fn.__qualname__} must be an async function")

    @functools.wraps(fn)
    def wrapper(*args: Any, _sync: bool | None = None, **kwargs: Any) -> Any:
        run_now = (not in_async_context()) if _sync is None else _sync
        if run_now:
            if blocking is not None and args:
                result = getattr(args[0], blocking)(*args[1:], **kwargs)
                if result is not NotImplemented:
                    return result
            return run_sync(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    wrapper.aio = fn  # type: ignore[attr-defined]  # the raw coroutine function
    return wrapper
