"""Fixtures and helpers for tests against the real Docker Engine and the local
registry (started by scripts/services/docker.sh and registry.sh).

Test modules import the fixtures they use: ``from tests.docker_fixtures import ...``.
Every container a test creates carries TEST_LABEL and is removed afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require
from tests.netproxy import ForwardingProxy, tcp_endpoints, unix_endpoints

TEST_IMAGE = os.environ.get("LAUNCHBAY_TEST_DOCKER_IMAGE", "launchbay-test/busybox:1.35")
TEST_LABEL = "launchbay.io/test-run"  # becomes io.launchbay.test-run on containers
TEST_LABEL_DOCKER = "io.launchbay.test-run"
SRC = str(Path(__file__).resolve().parent.parent / "src")


def _engine_reachable() -> tuple[bool, str]:
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        client.images.get(TEST_IMAGE)
        client.close()
        return True, ""
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def _docker_session() -> Iterator[Any]:
    ok, why = _engine_reachable()
    if not ok:
        yield None, why
        return
    import docker

    client = docker.from_env(timeout=60)
    yield client, ""
    client.close()


@pytest.fixture
def docker_client(_docker_session: Any) -> Iterator[Any]:
    """A docker-py client of the test engine; the test's containers are
    removed afterwards."""
    client, why = _docker_session
    require(
        client is not None,
        f"no Docker engine with the image {TEST_IMAGE} ({why}); run scripts/services/docker.sh",
    )
    run_id = uuid.uuid4().hex[:12]
    client.launchbay_test_run = run_id
    yield client
    remove_test_containers(client, run_id)
    # Leave no events thread behind for the tests that follow (it would
    # otherwise linger a few seconds, waiting for the next run).
    from launchbay._internal.docker.events import shutdown_watchers

    shutdown_watchers()


def remove_test_containers(client: Any, run_id: str | None = None) -> None:
    selector = f"{TEST_LABEL_DOCKER}={run_id}" if run_id else TEST_LABEL_DOCKER
    for container in client.containers.list(all=True, filters={"label": selector}):
        try:
            container.remove(force=True)
        except Exception:
            pass


@pytest.fixture
def test_labels(docker_client: Any) -> dict[str, str]:
    """Labels that mark a container as this test's (for clean-up)."""
    return {TEST_LABEL: docker_client.launchbay_test_run}


@pytest.fixture
def registry() -> dict[str, str]:
    """The local registry's address and credentials."""
    address = os.environ.get("LAUNCHBAY_TEST_REGISTRY", "")
    require(bool(address), "LAUNCHBAY_TEST_REGISTRY is not set; run scripts/services/registry.sh")
    return {
        "address": address,
        "username": os.environ.get("LAUNCHBAY_TEST_REGISTRY_USERNAME", ""),
        "password": os.environ.get("LAUNCHBAY_TEST_REGISTRY_PASSWORD", ""),
    }


def unique_name(prefix: str = "lbt") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def container_by_label(client: Any, run_id: str) -> list[Any]:
    return client.containers.list(all=True, filters={"label": f"{TEST_LABEL_DOCKER}={run_id}"})


# --- launchbay in another process ---------------------------------------------------


def start_python(code: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Run ``code`` in a new Python process with launchbay importable."""
    full_env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    full_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# Runs the DockerContainer given as JSON in $LB_CONTAINER; reports "PID <pid>" as
# soon as it starts and "RESULT <json>" at the end, on stderr (the container's
# output goes to stdout).
LAUNCHER = """
import os, sys, anyio
from launchbay import DockerContainer
container = DockerContainer.model_validate_json(os.environ["LB_CONTAINER"])
outcome = {}
async def runner(*, task_status):
    outcome["result"] = await container.run(task_status=task_status)
async def main():
    async with anyio.create_task_group() as tg:
        pid = await tg.start(runner)
        print("PID", pid, file=sys.stderr, flush=True)
anyio.run(main)
print("RESULT", outcome["result"].model_dump_json(), file=sys.stderr, flush=True)
"""


def launch_in_subprocess(container: Any) -> tuple[subprocess.Popen[str], str]:
    """Start ``container`` from another Python process; returns it and the pid."""
    process = start_python(LAUNCHER, env={"LB_CONTAINER": container.model_dump_json()})
    match = read_line_matching(process.stderr, r"^PID (\S+)$")
    return process, match.group(1)


def read_line_matching(stream: Any, pattern: str, timeout: float = 60) -> re.Match[str]:
    """Read lines from ``stream`` until one matches ``pattern``."""
    deadline = time.monotonic() + timeout
    seen = []
    result: dict[str, Any] = {}

    def reader() -> None:
        for line in stream:
            seen.append(line)
            match = re.search(pattern, line)
            if match:
                result["match"] = match
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if "match" not in result:
        raise AssertionError(f"no line matching {pattern!r} within {timeout}s; got: {seen!r}")
    return result["match"]


# --- a proxy in front of the engine: counts requests, can cut connections ---------------


class DockerProxy(ForwardingProxy):
    """A Unix-socket proxy to the engine's socket. Tests point DOCKER_HOST at
    it to count API requests, to cut every open connection (what clients see
    when the daemon restarts), or to refuse connections for a while."""

    def __init__(self, directory: Path, target: str = "/var/run/docker.sock") -> None:
        self.path = str(directory / "docker-proxy.sock")
        super().__init__(*unix_endpoints(self.path, target))

    @property
    def url(self) -> str:
        return f"unix://{self.path}"


class StallingProxy(ForwardingProxy):
    """A TCP proxy (to the local registry, say) that forwards until
    ``stall_after`` bytes have come back from upstream, then holds the rest
    until it is closed: a download that hangs half-way, every time."""

    def __init__(self, target: tuple[str, int], stall_after: int) -> None:
        self.stall_after = stall_after
        self.forwarded = 0
        self.stalled = threading.Event()
        self._released = threading.Event()
        super().__init__(*tcp_endpoints(target))

    def _pump(self, source: Any, sink: Any, record: bool) -> None:
        if record:  # client -> upstream: as it is
            return super()._pump(source, sink, record)
        try:
            while data := source.recv(65536):
                with self._lock:
                    allowed = max(0, self.stall_after - self.forwarded)
                    self.forwarded += min(allowed, len(data))
                sink.sendall(data[:allowed])
                if len(data) > allowed:
                    self.stalled.set()
                    self._released.wait()
                    return
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._released.set()
        super().close()


@pytest.fixture
def docker_proxy(docker_client: Any, tmp_path: Path) -> Iterator[DockerProxy]:
    proxy = DockerProxy(tmp_path)
    yield proxy
    proxy.close()


# --- images in the local registry ---------------------------------------------------


class RegistryImages:
    """Pushes test images to the local registry under a repository of the
    test's own, and makes local variants (other image ids) on demand."""

    def __init__(self, client: Any, registry: dict[str, str]) -> None:
        self.client = client
        self.registry = registry
        self.repository = f"{registry['address']}/launchbay-test/pull-{uuid.uuid4().hex[:10]}"
        self._images: list[str] = []
        self.auth = {
            "username": registry["username"],
            "password": registry["password"],
            "serveraddress": registry["address"],
        }

    def ref(self, tag: str) -> str:
        return f"{self.repository}:{tag}"

    def push(self, tag: str) -> str:
        """Push the test image as ``tag``, then drop the local tag. Returns
        the pushed image's id."""
        image = self.client.images.get(TEST_IMAGE)
        image.tag(self.repository, tag)
        self._push(tag)
        self.untag(tag)
        return str(image.id)

    def push_sized(self, tag: str, size_bytes: int) -> None:
        """Push the test image plus a layer of ``size_bytes`` random bytes (it
        does not compress) as ``tag``, and remove it locally: a pull downloads
        that layer."""
        container = self.client.containers.create(
            TEST_IMAGE,
            ["sh", "-c", f"head -c {size_bytes} /dev/urandom > /blob"],
            labels={TEST_LABEL_DOCKER: "sized"},
        )
        try:
            container.start()
            assert container.wait()["StatusCode"] == 0
            image = container.commit(repository=self.repository, tag=tag)
        finally:
            container.remove(force=True)
        self._push(tag)
        self.client.images.remove(str(image.id), force=True)

    def _push(self, tag: str) -> None:
        for message in self.client.images.push(
            self.repository, tag=tag, auth_config=self.auth, stream=True, decode=True
        ):
            assert "error" not in message, message

    def digest(self, tag: str) -> str:
        """``repository@sha256:...`` of a pushed tag (from the registry)."""
        data = self.client.api.inspect_distribution(self.ref(tag), auth_config=self.auth)
        return f"{self.repository}@{data['Descriptor']['digest']}"

    def local_variant(self, tag: str) -> str:
        """A local image (another id than the test image) tagged ``tag``."""
        container = self.client.containers.create(TEST_IMAGE, ["true"], labels={TEST_LABEL_DOCKER: "variant"})
        try:
            image = container.commit(repository=self.repository, tag=tag, changes=["ENV LAUNCHBAY_VARIANT=1"])
        finally:
            container.remove(force=True)
        self._images.append(str(image.id))
        return str(image.id)

    def local_id(self, tag: str) -> str | None:
        import docker

        try:
            return str(self.client.images.get(self.ref(tag)).id)
        except docker.errors.ImageNotFound:
            return None

    def untag(self, tag: str) -> None:
        import docker

        try:
            self.client.images.remove(self.ref(tag))
        except docker.errors.ImageNotFound:
            pass

    def cleanup(self) -> None:
        """Remove this repository's tags and digests only: a pushed image is
        the test image itself, whose own tag must stay."""
        import docker

        mine = self.repository + ":"
        for image in self.client.images.list(name=self.repository):
            references = [t for t in image.tags if t.startswith(mine)]
            references += [
                d for d in image.attrs.get("RepoDigests") or [] if d.startswith(self.repository + "@")
            ]
            for reference in references:
                try:
                    self.client.images.remove(reference)
                except docker.errors.APIError:
                    pass
        for image_id in self._images:  # local variants: only ever tagged here
            try:
                self.client.images.remove(image_id, force=True)
            except docker.errors.APIError:
                pass


@pytest.fixture
def registry_images(docker_client: Any, registry: dict[str, str]) -> Iterator[RegistryImages]:
    images = RegistryImages(docker_client, registry)
    yield images
    remove_test_containers(docker_client, docker_client.launchbay_test_run)
    images.cleanup()


# --- a private engine, to restart without disturbing the shared one -------------------


class PrivateEngine:
    """A throwaway dockerd of this test's own (live-restore on, own bridge), so
    a test can restart "the" daemon while a run waits, without touching the
    engine everyone else uses."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # Its own bridge: with --bridge=none dockerd deletes docker0, which
        # belongs to the shared engine.
        self.bridge = f"lbt{uuid.uuid4().hex[:8]}"
        self.socket = directory / "docker.sock"
        self.pidfile = directory / "dockerd.pid"
        self.log = directory / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.url, version="auto", timeout=60)

    def create_bridge(self) -> None:
        subnet = f"10.213.{uuid.uuid4().int % 250 + 1}.1/24"
        for command in (
            ["ip", "link", "add", "name", self.bridge, "type", "bridge"],
            ["ip", "addr", "add", subnet, "dev", self.bridge],
            ["ip", "link", "set", self.bridge, "up"],
        ):
            subprocess.run(command, check=True, capture_output=True)

    def delete_bridge(self) -> None:
        subprocess.run(["ip", "link", "delete", self.bridge], check=False, capture_output=True)

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    "dockerd",
                    "--data-root",
                    str(self.directory / "data"),
                    "--exec-root",
                    str(self.directory / "exec"),
                    "--pidfile",
                    str(self.pidfile),
                    "-H",
                    self.url,
                    "--bridge",
                    self.bridge,
                    "--iptables=false",
                    "--ip-masq=false",
                    "--live-restore",
                ],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                client = self.client()
                client.ping()
                client.close()
                return
            except Exception:
                time.sleep(0.2)
        raise AssertionError(f"the private dockerd did not start: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self, down_seconds: float = 1.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


@pytest.fixture
def private_engine(docker_client: Any) -> Iterator[PrivateEngine]:
    require(
        shutil.which("dockerd") is not None and shutil.which("ip") is not None and os.geteuid() == 0,
        "a private engine needs dockerd, iproute2 and root",
    )
    import tempfile

    # A short path: Unix socket paths are limited to 108 bytes.
    directory = Path(tempfile.mkdtemp(prefix="lb-engine-"))
    engine = PrivateEngine(directory)
    engine.create_bridge()
    try:
        engine.start()
        client = engine.client()
        client.images.load(b"".join(docker_client.images.get(TEST_IMAGE).save(named=True)))
        client.close()
        yield engine
    finally:
        if engine.process is not None:
            try:
                client = engine.client()
                for container in client.containers.list(all=True):
                    container.remove(force=True)
                client.close()
            except Exception:
                pass
        engine.stop()
        engine.delete_bridge()
        _unmount_under(directory)
        shutil.rmtree(directory, ignore_errors=True)


def _unmount_under(directory: Path) -> None:
    """dockerd bind-mounts its data root (and overlays under it); a daemon
    that did not exit cleanly can leave them behind."""
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(str(directory))]
    for point in sorted(points, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
