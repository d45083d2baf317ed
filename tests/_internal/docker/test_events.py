"""The shared events watcher of an engine, against the real engine through a
proxy that can refuse connections (tests/netproxy.py)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from launchbay._internal.docker import connection, events
from tests.docker_fixtures import (  # noqa: F401 - fixtures
    DockerProxy,
    _docker_session,
    docker_client,
    docker_proxy,
)

pytestmark = pytest.mark.docker


def test_failed_connections_leave_no_client_open(
    docker_proxy: DockerProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each retry of a refused events stream made a docker-py client (its
    connection pool) and kept it: one leaked client per failed attempt."""
    host = connection.resolve_host({"DOCKER_HOST": docker_proxy.url})
    connection.engine_info(host)  # known: later attempts get as far as making a client
    docker_proxy.refuse(True)
    made: list[tuple[Any, list[bool]]] = []

    def tracked_client(host: connection.DockerHost, *, timeout: int | None = None) -> Any:
        client = connection.new_client(host, timeout=timeout)
        closed: list[bool] = []
        close = client.close

        def tracked_close() -> None:
            closed.append(True)
            close()

        client.close = tracked_close
        made.append((client, closed))
        return client

    monkeypatch.setattr(events, "new_client", tracked_client)
    watcher = events.EventWatcher(host)

    async def main() -> None:
        subscription = watcher.subscribe("0" * 64)
        with anyio.fail_after(60):
            while len(made) < 3:
                await anyio.sleep(0.05)
        assert not watcher.live
        subscription.close()

    anyio.run(main)
    watcher.shutdown()
    assert len(made) >= 3
    assert [bool(closed) for _, closed in made] == [True] * len(made)


def test_the_stream_goes_live_and_reports_an_exit(docker_client: Any) -> None:
    container = docker_client.containers.create(
        "launchbay-test/busybox:1.35", ["sh", "-c", "exit 6"], labels={"io.launchbay.test-run": "events"}
    )
    host = connection.resolve_host()
    watcher = events.EventWatcher(host)

    async def main() -> int | None:
        subscription = watcher.subscribe(container.id)
        try:
            connection_number = await subscription.wait_live()
            await anyio.to_thread.run_sync(container.start)

            async def inspect() -> Any:
                return (await anyio.to_thread.run_sync(docker_client.api.inspect_container, container.id))[
                    "State"
                ]

            with anyio.fail_after(60):
                exit_ = await subscription.wait_for_exit(connection_number, inspect)
            return None if exit_ is None else exit_.status_code
        finally:
            subscription.close()

    try:
        assert anyio.run(main) == 6
    finally:
        watcher.shutdown()
        container.remove(force=True)
