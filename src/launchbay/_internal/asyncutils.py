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
    """Run an async callable to completion from sync code. Called from a thread
    that already runs an event loop (``_sync=True`` there), it runs in a loop of
    its own on a worker thread, and this thread waits: that is what the caller
    asked for, and an event loop cannot be nested."""
    import anyio

    call = functools.partial(anyio.run, functools.partial(fn, *args, **kwargs))
    if not in_async_context():
        return call()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="launchbay-sync") as pool:
        return pool.submit(call).result()


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

    Type checkers see the decorated method through the stubs its class
    declares (``run``/``arun``...: see ``Infrastructure``).
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

    return wrapper
