import anyio

from launchbay._internal.asyncutils import sync_compatible


class Thing:
    @sync_compatible
    async def double(self, x: int) -> int:
        await anyio.sleep(0)
        return 2 * x


def test_called_plainly_from_sync_code_runs_to_completion() -> None:
    assert Thing().double(4) == 8


def test_awaited_from_async_code() -> None:
    async def main() -> int:
        return await Thing().double(5)

    assert anyio.run(main) == 10


def test_sync_can_be_forced_from_a_worker_thread() -> None:
    async def main() -> int:
        return await anyio.to_thread.run_sync(lambda: Thing().double(6, _sync=True))

    assert anyio.run(main) == 12


def test_sync_forced_inside_a_running_loop_works() -> None:
    # `_sync=True` from the loop's own thread: the caller asks to block, and
    # gets the result instead of "cannot be called from a running event loop".
    async def main() -> int:
        return Thing().double(7, _sync=True)

    assert anyio.run(main) == 14


def test_no_private_alias_is_left_on_the_wrapper() -> None:
    assert not hasattr(Thing.double, "aio")
