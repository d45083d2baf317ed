"""The runner's neutral outcome of a run, against the real engine."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from anyio import TASK_STATUS_IGNORED

from launchbay._internal.docker import runner
from launchbay._internal.docker.spec import ContainerSpec, build_spec
from launchbay._internal.exits import ExitReason
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


def run(labels: dict[str, str], command: list[str], **fields: Any) -> runner.RunOutcome:
    async def main() -> runner.RunOutcome:
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
