"""Finding the engine, infrastructure pids, and connection errors."""

from __future__ import annotations

from typing import Any

import pytest

from launchbay._internal.docker.connection import engine_info, normalize_host_url, resolve_host
from launchbay._internal.pids import DockerPid, parse_docker_pid
from launchbay.exceptions import InfrastructureError, InfrastructureNotAvailable
from tests.docker_fixtures import _docker_session, docker_client  # noqa: F401 - fixtures


def test_pids_split_on_the_last_colon() -> None:
    assert parse_docker_pid("unix:///var/run/docker.sock:abc123") == DockerPid(
        "unix:///var/run/docker.sock", "abc123"
    )
    assert parse_docker_pid("tcp://10.0.0.1:2376:abc123") == DockerPid("tcp://10.0.0.1:2376", "abc123")
    assert parse_docker_pid("http+docker://localhost:abc") == DockerPid("http+docker://localhost", "abc")


@pytest.mark.parametrize("pid", ["abc", "host:123", "unix:///x.sock:", "", "bad-base-url:id"])
def test_invalid_pids_cannot_be_reached(pid: str) -> None:
    # SPEC 8: a Docker pid whose base URL is not a URL is not this kind's to reach.
    with pytest.raises(InfrastructureNotAvailable, match="BASE_URL:CONTAINER_ID"):
        parse_docker_pid(pid)


def test_normalized_urls() -> None:
    assert normalize_host_url("tcp://Docker.Example:2376") == "tcp://docker.example:2376"
    assert normalize_host_url("tcp://host") == "tcp://host:2375"
    assert normalize_host_url("https://host") == "tcp://host:2376"
    assert normalize_host_url("http+unix:///tmp/x.sock") == normalize_host_url("unix:///tmp/x.sock")


def test_docker_host_is_honoured() -> None:
    host = resolve_host({"DOCKER_HOST": "tcp://10.1.2.3:2375"})
    assert host.url == "tcp://10.1.2.3:2375"
    assert host.tcp_address == ("10.1.2.3", 2375)
    assert host.unix_socket_path is None


def test_default_is_the_local_socket(tmp_path: pytest.TempPathFactory) -> None:
    host = resolve_host({"HOME": str(tmp_path)})  # no DOCKER_HOST, no CLI context
    assert host.url == "unix:///var/run/docker.sock"


def test_no_engine_gives_an_actionable_error(tmp_path: pytest.TempPathFactory) -> None:
    host = resolve_host({"DOCKER_HOST": f"unix://{tmp_path}/missing.sock"})
    with pytest.raises(InfrastructureError) as caught:
        engine_info(host)
    message = str(caught.value)
    assert message.startswith(f"Could not connect to Docker at unix://{tmp_path}/missing.sock")
    assert "no engine socket" in message
    assert "DOCKER_HOST" in message


def test_refused_tcp_connection() -> None:
    host = resolve_host({"DOCKER_HOST": "tcp://127.0.0.1:9"})
    with pytest.raises(
        InfrastructureError, match="Could not connect to Docker at tcp://127.0.0.1:9: connection refused"
    ):
        engine_info(host)


def test_engine_timestamps() -> None:
    from launchbay._internal.docker.state import started_at

    assert started_at({"StartedAt": "2024-05-01T10:00:00.123456789Z"}) == 1714557600_123456789
    assert started_at({"StartedAt": "2024-05-01T10:00:00.5Z"}) == 1714557600_500000000
    assert started_at({"StartedAt": "2024-05-01T10:00:00Z"}) == 1714557600_000000000
    assert started_at({"StartedAt": "not a time"}) == 0
    assert started_at({}) == 0


@pytest.mark.docker
def test_the_shared_client_keeps_one_pool_for_the_socket_under_concurrent_calls(docker_client: Any) -> None:
    # docker-py would make a connection pool per request URL, and close the
    # oldest past 25 under other threads' requests: 200 distinct URLs from 40
    # threads at once must all answer, through one pool.
    from concurrent.futures import ThreadPoolExecutor

    from launchbay._internal.docker.connection import shared_client

    client = shared_client(resolve_host())

    def distinct_call(i: int) -> object:
        return client.api.containers(filters={"label": f"launchbay-test-pool={i}"})

    with ThreadPoolExecutor(40) as threads:
        answers = list(threads.map(distinct_call, range(200)))
    assert answers == [[]] * 200
    assert len(client.api.adapters["http+docker://"].pools) == 1
