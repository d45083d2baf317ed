"""The runner's neutral outcome of a run, against the real engine."""

from __future__ import annotations

import signal
import time
from typing import Any

import anyio
import pytest
from anyio import TASK_STATUS_IGNORED

from launchbay._internal.docker import runner
from launchbay._internal.docker.spec import ContainerSpec, build_spec
from launchbay._internal.exits import ExitReason
from launchbay._internal.stopping import STOP_REQUEST, StopRequest
from tests._internal.docker.test_spec import Fields
from tests.docker_fixtures import TEST_IMAGE, _docker_session, docker_client, test_labels  # noqa: F401


def spec_of(
    engine: runner.Engine, labels: dict[str, str], command: list[str], **fields: Any
) -> ContainerSpec:
    return build_spec(
        Fields(image=TEST_IMAGE, command=command, labels=labels, network_mode="none", **fields),
        base_environment={},
        settings_api_url=None,
        platform="linux",
        engine_version=engine.info.engine_version,
    )


def run(
    labels: dict[str, str], command: list[str], request: StopRequest | None = None, **fields: Any
) -> runner.RunOutcome:
    async def main() -> runner.RunOutcome:
        if request is not None:
            STOP_REQUEST.set(request)
        engine = await runner.connect()
        spec = spec_of(engine, labels, command, **fields)
        return await runner.run_container(engine, spec, TASK_STATUS_IGNORED, stream_output=False)

    return anyio.run(main)


@pytest.mark.parametrize(("grace", "timeout"), [(0, 0), (1, 1), (1.2, 2), (20.0, 20)])
def test_stop_timeouts_are_whole_seconds_never_shorter(grace: float, timeout: int) -> None:
    assert runner.stop_timeout(grace) == timeout


def test_a_container_removed_while_watched_has_no_known_exit() -> None:
    outcome = runner._outcome("pid", "'x'", None)
    assert (outcome.status_code, outcome.reason, outcome.exit_reason) == (
        -1,
        "container removed",
        ExitReason.UNKNOWN,
    )


@pytest.mark.docker
class TestOutcome:
    def test_a_plain_exit(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        outcome = run(test_labels, ["sh", "-c", "exit 3"])
        assert (outcome.status_code, outcome.reason, outcome.exit_reason) == (3, None, ExitReason.EXITED)
        assert outcome.identifier.startswith("unix://")

    def test_a_signal(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        outcome = run(test_labels, ["sh", "-c", "sleep 30 & kill -TERM $!; wait $!"])
        assert (outcome.status_code, outcome.reason, outcome.exit_reason) == (
            143,
            "SIGTERM",
            ExitReason.SIGNALED,
        )

    def test_an_oom_kill(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        outcome = run(
            test_labels,
            ["sh", "-c", "sleep 0.2; x=$(head -c 64m /dev/zero | tr '\\0' a)"],
            mem_limit="8m",
            memswap_limit="8m",
        )
        assert (outcome.status_code, outcome.reason, outcome.exit_reason) == (
            137,
            "OOMKilled",
            ExitReason.OOM_KILLED,
        )


@pytest.mark.docker
class TestTimeout:
    def test_a_run_past_its_timeout_is_stopped_and_says_so(
        self, docker_client: Any, test_labels: dict[str, str]
    ) -> None:
        # sleep as PID 1 ignores SIGTERM: the grace ends it.
        outcome = run(test_labels, ["sleep", "60"], StopRequest(grace_seconds=1), timeout_seconds=1)
        assert (outcome.status_code, outcome.reason, outcome.exit_reason) == (
            137,
            "timed out after 1 s",
            ExitReason.TIMED_OUT,
        )
        container = docker_client.containers.get(outcome.identifier.rsplit(":", 1)[1])
        assert container.status == "exited"

    def test_a_timed_out_container_may_stop_by_itself_in_its_grace(
        self, docker_client: Any, test_labels: dict[str, str]
    ) -> None:
        script = "trap 'exit 3' TERM; while :; do sleep 0.1; done"
        outcome = run(test_labels, ["sh", "-c", script], StopRequest(grace_seconds=60), timeout_seconds=1.5)
        assert (outcome.status_code, outcome.reason, outcome.exit_reason) == (
            3,
            "timed out after 1.5 s",
            ExitReason.TIMED_OUT,
        )

    def test_a_run_that_ends_in_time_is_a_plain_exit(
        self, docker_client: Any, test_labels: dict[str, str]
    ) -> None:
        outcome = run(test_labels, ["sh", "-c", "exit 4"], timeout_seconds=60)
        assert (outcome.status_code, outcome.reason, outcome.exit_reason) == (4, None, ExitReason.EXITED)


def started(docker_client: Any, labels: dict[str, str], script: str) -> Any:
    """A running container of ``script``, once it has printed ``ready``."""
    container = docker_client.containers.run(TEST_IMAGE, ["sh", "-c", script], labels=labels, detach=True)
    deadline = time.monotonic() + 60
    while b"ready" not in container.logs():
        assert time.monotonic() < deadline, container.logs()
        time.sleep(0.05)
    return container


def stop(container: Any, request: StopRequest, *, escalate_after: float | None = None) -> int:
    """``runner.stop_container`` as a cancelled run calls it; the exit code."""

    async def main() -> None:
        engine = await runner.connect()

        async def exited() -> None:
            await anyio.to_thread.run_sync(container.wait, abandon_on_cancel=True)

        async with anyio.create_task_group() as tg:
            tg.start_soon(runner.stop_container, engine.client, container.id, exited, request)
            if escalate_after is not None:
                await anyio.sleep(escalate_after)
                request.escalate()

    anyio.run(main)
    container.reload()
    assert container.status == "exited"
    return int(container.attrs["State"]["ExitCode"])


@pytest.mark.docker
class TestStop:
    def test_the_requests_signal_goes_first(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        script = "trap 'exit 7' INT; trap 'exit 8' TERM; echo ready; while :; do sleep 0.1; done"
        container = started(docker_client, test_labels, script)
        assert stop(container, StopRequest(signum=signal.SIGINT, grace_seconds=60)) == 7

    def test_killed_after_the_grace(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        container = started(docker_client, test_labels, "echo ready; exec sleep 60")  # PID 1 ignores SIGTERM
        assert stop(container, StopRequest(grace_seconds=1)) == 137

    def test_a_second_signal_kills_at_once(self, docker_client: Any, test_labels: dict[str, str]) -> None:
        container = started(docker_client, test_labels, "echo ready; exec sleep 600")
        # Were the escalation ignored, nothing would kill it: the test would time out.
        assert stop(container, StopRequest(grace_seconds=900), escalate_after=0.5) == 137
