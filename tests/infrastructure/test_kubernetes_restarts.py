"""Runs survive the control plane (issue 12): the dev cluster's real API
server, and separately its controller manager, are restarted in the middle of
a few concurrent runs that stream their logs; every run still ends with its
true exit code and its whole output. (Watch drops and 410s through a
connection-cutting proxy: test_kubernetes_cluster.py.)"""

from __future__ import annotations

import subprocess
from typing import Any

import anyio
import pytest

from launchbay import ExitReason, KubernetesJobResult
from tests.infrastructure.kubernetes_fixtures import (  # noqa: F401 - fixtures
    DEVCLUSTER,
    Cluster,
    cluster,
    make_job,
    namespace,
)

pytestmark = [pytest.mark.kubernetes, pytest.mark.slow, pytest.mark.timeout(420)]

LINES = 15
EXIT_CODES = (0, 3, 7)  # a success (decided from the pod) and failures (the Job controller's verdict)


def numbered_lines(run: int) -> list[str]:
    return [f"run {run} line {line:02d}" for line in range(1, LINES + 1)]


def script(run: int, code: int) -> str:
    return (
        f"i=1; while [ $i -le {LINES} ]; do printf 'run {run} line %02d\\n' $i; i=$((i+1)); sleep 1; done; "
        f"exit {code}"
    )


def restart(component: str) -> None:
    subprocess.run([str(DEVCLUSTER), "restart", component], check=True, timeout=180, capture_output=True)


def runs_across_a_restart(
    cluster: Cluster, namespace: str, make_job: Any, component: str
) -> list[KubernetesJobResult]:
    jobs = [make_job(["sh", "-c", script(run, code)]) for run, code in enumerate(EXIT_CODES)]
    results: dict[int, KubernetesJobResult] = {}

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            pids = []
            for run, job in enumerate(jobs):

                async def one(run: int = run, job: Any = job, *, task_status: Any) -> None:
                    results[run] = await job.arun(task_status=task_status)

                pids.append(await tg.start(one))

            def all_running() -> bool:
                names = [pid.rsplit(":", 1)[1] for pid in pids]
                return all(
                    any(p.status.phase == "Running" for p in cluster.pods(namespace, name)) for name in names
                )

            await anyio.to_thread.run_sync(lambda: cluster.wait_for("every run's pod to run", all_running))
            await anyio.sleep(3)  # some lines streamed, most to come
            await anyio.to_thread.run_sync(lambda: restart(component))

    anyio.run(main)
    return [results[run] for run in range(len(EXIT_CODES))]


def check(results: list[KubernetesJobResult], out: str) -> None:
    assert [result.status_code for result in results] == list(EXIT_CODES)
    assert all(result.exit_reason is ExitReason.EXITED for result in results)
    lines = out.splitlines()
    for run in range(len(EXIT_CODES)):
        # Every line of every run, each once, in order.
        assert [line for line in lines if line.startswith(f"run {run} ")] == numbered_lines(run)
    assert len(lines) == LINES * len(EXIT_CODES)


def test_runs_survive_an_api_server_restart(
    cluster: Cluster, namespace: str, make_job: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    results = runs_across_a_restart(cluster, namespace, make_job, "apiserver")
    check(results, capfd.readouterr().out)


def test_runs_survive_a_controller_manager_restart(
    cluster: Cluster, namespace: str, make_job: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    results = runs_across_a_restart(cluster, namespace, make_job, "controller-manager")
    check(results, capfd.readouterr().out)
