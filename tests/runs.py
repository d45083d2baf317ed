"""Running infrastructure from tests while acting on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


def run_while(job: Any, action: Callable[[str], Awaitable[Any]]) -> tuple[str, Any, Any]:
    """Run ``job``; once it reports its pid, ``await action(pid)`` while it runs.
    Returns (pid, the run's result, what ``action`` returned)."""
    import anyio

    async def main() -> tuple[str, Any, Any]:
        results: list[Any] = []
        async with anyio.create_task_group() as tg:

            async def runner(*, task_status: Any) -> None:
                results.append(await job.run(task_status=task_status))

            pid = await tg.start(runner)
            outcome = await action(pid)
        return pid, results[0], outcome

    return anyio.run(main)
