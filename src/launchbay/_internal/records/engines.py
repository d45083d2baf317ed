"""What an engine still knows of a run whose record has no end (SPEC 14): a
Docker container or a Kubernetes Job outlives the process that watched it, so
its true outcome can be read back, and its output too.

Each answer costs one or two requests: Docker ``inspect``; Kubernetes a GET of
the job and a LIST of its pods. Loaded only for Docker and Kubernetes records.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

import anyio

from launchbay._internal.exits import ExitReason
from launchbay._internal.timestamps import rfc3339_nanoseconds

if TYPE_CHECKING:
    from launchbay._internal.kubernetes.connection import ClusterConnection
    from launchbay._internal.kubernetes.manifest import ClusterInputs


class EngineState(Enum):
    RUNNING = "running"
    EXITED = "exited"
    GONE = "gone"  # the engine no longer knows it (removed, deleted, expired)


@dataclass(frozen=True)
class EngineView:
    state: EngineState
    status_code: int | None = None
    exit_reason: ExitReason | None = None
    reason: str | None = None
    ended: float | None = None  # seconds since the epoch, when the engine says


GONE = EngineView(EngineState.GONE)
RUNNING = EngineView(EngineState.RUNNING)


# --- Docker ----------------------------------------------------------------------------------


async def docker_view(infrastructure_pid: str) -> EngineView:
    import docker

    from launchbay._internal.docker import exits, runner
    from launchbay._internal.docker.state import ContainerExit, is_finished

    engine, container_id = await runner.reachable(infrastructure_pid)
    try:
        details = await anyio.to_thread.run_sync(engine.client.api.inspect_container, container_id)
    except docker.errors.NotFound:
        return GONE
    state = details.get("State") or {}
    if not is_finished(state):
        return RUNNING
    end = ContainerExit.from_state(state)
    finished = rfc3339_nanoseconds(str(state.get("FinishedAt") or ""))
    return EngineView(
        EngineState.EXITED,
        end.status_code,
        exits.exit_kind(end.status_code, oom_killed=end.oom_killed),
        exits.exit_reason(end.status_code, oom_killed=end.oom_killed, error=end.error),
        finished / 1e9 if finished > 0 else None,
    )


async def docker_logs(infrastructure_pid: str) -> None:
    """The container's output so far, to our stdout and stderr."""
    from launchbay._internal.docker import runner
    from launchbay._internal.docker.output import ContainerOutput
    from launchbay._internal.docker.streams import EngineStreams, supports

    engine, container_id = await runner.reachable(infrastructure_pid)
    details = await anyio.to_thread.run_sync(engine.client.api.inspect_container, container_id)
    streams = EngineStreams(engine.host, engine.info.api_version) if supports(engine.host) else None
    tty = bool((details.get("Config") or {}).get("Tty"))
    output = ContainerOutput(engine.host, streams, container_id, tty=tty)
    try:
        await output.follow_log(follow=False)
    finally:
        output.finish()
        if streams is not None:
            await streams.aclose()


# --- Kubernetes --------------------------------------------------------------------------------


async def _job_and_pods(
    connection: ClusterConnection, cluster: ClusterInputs, infrastructure_pid: str
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    from launchbay._internal.kubernetes.api import KubernetesApiError
    from launchbay._internal.pids import parse_kubernetes_pid
    from launchbay.exceptions import InfrastructureNotAvailable

    pid = parse_kubernetes_pid(infrastructure_pid)
    uid = cluster.cluster_uid or await connection.cluster_uid()
    if uid != pid.cluster_uid:
        raise InfrastructureNotAvailable(
            f"Unable to reach job {infrastructure_pid!r}: it runs on cluster {pid.cluster_uid!r}, "
            f"and this configuration reaches cluster {uid!r}."
        )
    base = f"/apis/batch/v1/namespaces/{pid.namespace}/jobs/{pid.job_name}"
    try:
        job = await connection.api.request("GET", base, what="GET job", retry_for=10)
    except KubernetesApiError as exc:
        if exc.status == 404:
            return None
        raise
    listed = await connection.api.request(
        "GET",
        f"/api/v1/namespaces/{pid.namespace}/pods",
        what="LIST pods",
        query=[("labelSelector", f"job-name={pid.job_name}")],
        retry_for=10,
    )
    return job, [item for item in listed.get("items") or [] if isinstance(item, dict)]


async def kubernetes_view(infrastructure_pid: str, cluster: ClusterInputs) -> EngineView:
    from launchbay._internal.kubernetes.connection import config_source, open_connection
    from launchbay._internal.kubernetes.state import (
        JobState,
        PodState,
        final_status,
        job_end,
        newest_pod,
        succeeded_early,
    )

    async with open_connection(config_source(cluster)) as connection:
        found = await _job_and_pods(connection, cluster, infrastructure_pid)
    if found is None:
        return GONE
    raw_job, raw_pods = found
    job = JobState.from_raw(raw_job)
    pod = newest_pod(PodState.from_raw(raw) for raw in raw_pods)
    end = job_end(job)
    if end is None and not succeeded_early(job, pod):
        return RUNNING
    status = final_status(pod, end, deleted=False)
    completed = str((raw_job.get("status") or {}).get("completionTime") or "")
    ended = rfc3339_nanoseconds(completed) if completed else 0
    return EngineView(
        EngineState.EXITED,
        -1 if status.code is None else status.code,
        status.exit_reason,
        status.reason,
        ended / 1e9 if ended > 0 else None,
    )


async def kubernetes_logs(infrastructure_pid: str, cluster: ClusterInputs) -> None:
    """The output so far of the job's newest pod, to our stdout."""
    from launchbay._internal.kubernetes.connection import config_source, open_connection
    from launchbay._internal.kubernetes.manifest import CONTAINER_NAME
    from launchbay._internal.kubernetes.state import PodState, newest_pod
    from launchbay._internal.output import Sink

    async with open_connection(config_source(cluster)) as connection:
        found = await _job_and_pods(connection, cluster, infrastructure_pid)
        if found is None:
            from launchbay.exceptions import InfrastructureNotFound

            raise InfrastructureNotFound(f"Job {infrastructure_pid!r} was not found (deleted, or expired).")
        pod = newest_pod(PodState.from_raw(raw) for raw in found[1])
        if pod is None or pod.main is None or not pod.main.has_started:
            return  # no container has run yet: no output
        namespace = infrastructure_pid.split(":")[1]
        sink = Sink(sys.stdout)
        async with connection.api.stream(
            f"/api/v1/namespaces/{namespace}/pods/{pod.name}/log",
            what="GET log",
            query=[("container", pod.first_container or CONTAINER_NAME)],
        ) as response:
            async for chunk in response.content.iter_any():
                sink.write(chunk)
        sink.finish()
