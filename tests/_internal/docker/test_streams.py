"""Attach and log streams on the event loop through httpx, against the real
engine: every byte, as written, per stream."""

from __future__ import annotations

import io
from typing import Any

import anyio
import pytest

from launchbay._internal.docker.connection import engine_info, resolve_host
from launchbay._internal.docker.output import ContainerOutput
from launchbay._internal.docker.streams import ContainerGone, EngineStreams, supports
from tests.docker_fixtures import TEST_IMAGE, TEST_LABEL_DOCKER, _docker_session, docker_client  # noqa: F401

EVERY_BYTE = bytes(range(256))


def printf_script(data: bytes, to_stderr: bool = False) -> str:
    escaped = "".join(f"\\{byte:03o}" for byte in data)
    return f"printf '{escaped}'" + (" >&2" if to_stderr else "")


def binary_streams() -> tuple[io.TextIOWrapper, io.TextIOWrapper]:
    return io.TextIOWrapper(io.BytesIO()), io.TextIOWrapper(io.BytesIO())


def written(stream: io.TextIOWrapper) -> bytes:
    return stream.buffer.getvalue()  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize(
    ("url", "spoken"),
    [
        ("unix:///var/run/docker.sock", True),
        ("tcp://10.0.0.1:2375", True),
        ("ssh://me@host", False),
    ],
)
def test_transports_httpx_speaks(url: str, spoken: bool) -> None:
    assert supports(resolve_host({"DOCKER_HOST": url})) is spoken


@pytest.mark.docker
def test_attach_before_start_relays_every_byte(docker_client: Any) -> None:
    """Raw bytes, not text: the attach stream is not the engine's log (whose
    json-file driver turns invalid UTF-8 into U+FFFD)."""
    script = f"{printf_script(EVERY_BYTE)}; {printf_script(EVERY_BYTE[::-1], to_stderr=True)}; {printf_script(b'end')}"
    container = docker_client.containers.create(
        TEST_IMAGE, ["sh", "-c", script], labels={TEST_LABEL_DOCKER: docker_client.launchbay_test_run}
    )
    host = resolve_host()
    stdout, stderr = binary_streams()

    async def main() -> None:
        async with EngineStreams(host, engine_info(host).api_version) as streams:
            output = ContainerOutput(host, streams, container.id, stdout=stdout, stderr=stderr)
            body = await output.attach()
            assert body is not None
            await anyio.to_thread.run_sync(container.start)
            with anyio.fail_after(60):
                await output.relay(body)
            assert output.complete
            output.finish()

    anyio.run(main)
    assert written(stdout) == EVERY_BYTE + b"end"
    assert written(stderr) == EVERY_BYTE[::-1]


@pytest.mark.docker
def test_the_log_of_a_removed_container_is_gone(docker_client: Any) -> None:
    host = resolve_host()

    async def main() -> None:
        async with EngineStreams(host, engine_info(host).api_version) as streams:
            with pytest.raises(ContainerGone):
                await streams.logs("0" * 64, follow=False)

    anyio.run(main)


@pytest.mark.docker
def test_an_unread_stream_releases_its_connection(docker_client: Any) -> None:
    """A run whose start fails closes the attach stream it never read."""
    container = docker_client.containers.create(
        TEST_IMAGE, ["true"], labels={TEST_LABEL_DOCKER: docker_client.launchbay_test_run}
    )
    host = resolve_host()

    async def main() -> None:
        async with EngineStreams(host, engine_info(host).api_version) as streams:
            body = await streams.attach(container.id)
            await body.aclose()
            assert body._response.is_closed

    anyio.run(main)
