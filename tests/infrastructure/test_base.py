import sys
from datetime import datetime, timezone
from uuid import UUID

import pytest

import launchbay
from launchbay import Deployment, Flow, FlowRun, Infrastructure, InfrastructureResult, Process
from launchbay.infrastructure.base import infrastructure_type_for_pid


def test_results_are_truthy_exactly_on_status_zero() -> None:
    assert InfrastructureResult(identifier="h:1", status_code=0)
    assert not InfrastructureResult(identifier="h:1", status_code=3)
    assert not InfrastructureResult(identifier="h:1", status_code=-1)


@pytest.mark.parametrize("command", [None, []])
def test_empty_command_raises(command: list[str] | None) -> None:
    with pytest.raises(ValueError, match="Process cannot be run with empty command."):
        Process(command=command).run()


def test_prepare_for_flow_run_sets_env_labels_name_command() -> None:
    flow_run = FlowRun(id=UUID(int=7), name="brave-otter", entrypoint="flows.py:main", parameters={"n": 2})
    deployment = Deployment(name="nightly", updated=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    prepared = Process(env={"MINE": "1"}).prepare_for_flow_run(flow_run, deployment, Flow(name="etl"))
    assert prepared.env == {
        "LAUNCHBAY__FLOW_RUN_ID": UUID(int=7).hex,
        "LAUNCHBAY__FLOW_ENTRYPOINT": "flows.py:main",
        "LAUNCHBAY__FLOW_PARAMETERS": '{"n": 2}',
        "MINE": "1",
    }
    assert prepared.labels == {
        "launchbay.io/flow-run-id": str(UUID(int=7)),
        "launchbay.io/flow-run-name": "brave-otter",
        "launchbay.io/version": launchbay.__version__,
        "launchbay.io/deployment-name": "nightly",
        "launchbay.io/deployment-updated": "2026-01-02T03:04:05Z",
        "launchbay.io/flow-name": "etl",
    }
    assert prepared.name == "brave-otter"
    assert prepared.command == [sys.executable, "-m", "launchbay.engine"]


def test_prepare_for_flow_run_keeps_the_blocks_own_values() -> None:
    flow_run = FlowRun()
    block = Process(
        name="mine",
        command=["echo"],
        env={"LAUNCHBAY__FLOW_RUN_ID": "x"},
        labels={"launchbay.io/flow-run-name": "custom"},
    )
    prepared = block.prepare_for_flow_run(flow_run)
    assert prepared.name == "mine" and prepared.command == ["echo"]
    assert prepared.env["LAUNCHBAY__FLOW_RUN_ID"] == "x"
    assert prepared.labels["launchbay.io/flow-run-name"] == "custom"
    assert block.env == {"LAUNCHBAY__FLOW_RUN_ID": "x"}  # the original is untouched
    assert "-" in flow_run.name  # generated adjective-animal


def test_base_flow_run_command() -> None:
    assert Infrastructure._base_flow_run_command() == ["python", "-m", "launchbay.engine"]


def test_base_environment_is_what_the_user_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAUNCHBAY_HOME")
    monkeypatch.setenv("LAUNCHBAY_API_URL", "http://localhost:4200")
    assert Process._base_environment() == {"LAUNCHBAY_API_URL": "http://localhost:4200"}


@pytest.mark.parametrize(
    ("pid", "kind"),
    [
        ("myhost:1234", "process"),
        ("unix:///var/run/docker.sock:3f2a", "docker-container"),
        ("9a1e-uid:default:job-abc", "kubernetes-job"),
    ],
)
def test_infrastructure_type_for_pid(pid: str, kind: str) -> None:
    assert infrastructure_type_for_pid(pid) == kind


def test_infrastructure_type_for_a_bad_pid_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="expected HOST:PID"):
        infrastructure_type_for_pid("nonsense")
