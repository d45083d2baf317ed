"""Following a started container to its end: its output and its exit."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

import anyio

from launchbay._internal import loggers
from launchbay._internal.docker.events import Subscription
from launchbay._internal.docker.output import ContainerOutput
from launchbay._internal.docker.state import ContainerExit, is_finished
from launchbay._internal.docker.streams import ByteStream, ContainerGone, LogUnavailable, StreamBroken
from launchbay._internal.retry import Backoff

# The container's ``State``, or None when it no longer exists.
Inspect = Callable[[], Awaitable[Mapping[str, Any] | None]]

# After the container exits, how long its output may take to reach its end.
DRAIN_SECONDS = 10.0
# After the attach stream ends, how long the exit may take to be reported
# before we check whether the container still runs (then the connection was cut).
EOF_EXIT_GRACE_SECONDS = 2.0
_RESUME_RETRY_FIRST_SECONDS = 0.1
_RESUME_RETRY_MAX_SECONDS = 2.0
# How long an auto-removed container may take to disappear after its exit.
REMOVAL_SECONDS = 10.0

logger = logging.getLogger(loggers.DOCKER)


async def follow_container(
    inspect: Inspect,
    subscription: Subscription,
    connection: int,
    output: ContainerOutput | None,
    attach_body: ByteStream | None = None,
    *,
    auto_remove: bool = False,
    watchdog: Callable[[], Awaitable[None]] | None = None,
) -> ContainerExit | None:
    """Relay the output (from ``attach_body``, or from the log's start when it
    is None) and wait for the exit (and, with ``auto_remove``, the removal, as
    ``docker run --rm`` does). None: removed before its exit was seen.

    ``watchdog`` (the run's timeout) runs beside the wait and is cancelled
    once the container has exited."""
    container_id = subscription.container_id
    exited = anyio.Event()
    relay_done = anyio.Event()
    watchdog_scope = anyio.CancelScope()

    async def watch() -> None:
        assert watchdog is not None
        with watchdog_scope:
            await watchdog()

    async def resume_from_log() -> None:
        assert output is not None
        backoff = Backoff(_RESUME_RETRY_FIRST_SECONDS, _RESUME_RETRY_MAX_SECONDS)
        while not output.complete:
            try:
                await output.follow_log(follow=True)
            except ContainerGone:
                if output.relayed[1] or output.relayed[2] or not exited.is_set():
                    logger.warning(
                        "Container %s was removed before all of its output could be read.",
                        container_id[:12],
                    )
                return
            except LogUnavailable as exc:
                logger.warning("Cannot read the output of container %s: %s", container_id[:12], exc)
                return
            except (StreamBroken, OSError) as exc:
                logger.debug("Output of %s not readable yet (%s); retrying", container_id[:12], exc)
                await anyio.sleep(backoff.next())

    async def relay() -> None:
        assert output is not None
        try:
            if attach_body is not None:
                await output.relay(attach_body)
                if output.complete:
                    # A normal end of output comes with the container's exit.
                    with anyio.move_on_after(EOF_EXIT_GRACE_SECONDS):
                        await exited.wait()
                    if not exited.is_set():
                        state: Mapping[str, Any] | None
                        try:
                            state = await inspect()
                        except Exception:
                            state = {}
                        if state is not None and not is_finished(state):
                            output.complete = False  # still running: the connection was cut
            await resume_from_log()
        finally:
            relay_done.set()

    async with anyio.create_task_group() as task_group:
        if output is not None:
            task_group.start_soon(relay)
        if watchdog is not None:
            task_group.start_soon(watch)
        result = await subscription.wait_for_exit(connection, inspect)
        exited.set()
        watchdog_scope.cancel()
        if output is not None:
            with anyio.move_on_after(DRAIN_SECONDS):
                await relay_done.wait()
            if not relay_done.is_set():
                logger.warning(
                    "The output of container %s did not end within %ss of its exit; stopped relaying it.",
                    container_id[:12],
                    DRAIN_SECONDS,
                )
                task_group.cancel_scope.cancel()

    if result is not None and result.status_code == 137 and not result.oom_killed:
        # A SIGKILL without an ``oom`` event: the engine may still have
        # recorded an OOM kill (its events and its state can disagree).
        try:
            state = await inspect()
        except Exception:
            state = None
        if state and state.get("OOMKilled"):
            result = replace(result, oom_killed=True)
    if auto_remove and result is not None:
        if not await subscription.wait_destroyed(REMOVAL_SECONDS):
            logger.debug("Container %s was not removed within %ss", container_id[:12], REMOVAL_SECONDS)
        return result
    if output is not None and subscription.watcher.connections != connection:
        # The engine was out of reach during the run: anything the attach
        # stream missed is in the log (already-relayed bytes are skipped).
        try:
            await output.follow_log(follow=False)
        except (LogUnavailable, StreamBroken, OSError) as exc:
            logger.warning(
                "Could not check the output of container %s after reconnecting (%s); "
                "some of it may be missing.",
                container_id[:12],
                exc,
            )
    return result
