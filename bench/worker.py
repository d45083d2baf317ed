"""Measurements taken inside the interpreter under test: launchbay's, or the
reference's (Prefect 2.20, in its own virtual environment).

Usage: python worker.py MODE JSON_ARGS OUT_JSON

Each mode alternates the implementation under test with the baseline in the
same process, so both see the same machine state; the bench driver alternates
whole workers on top of that. Only the standard library is imported here, the
implementation under test when its mode asks for it: this file runs in either
interpreter.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

perf = time.perf_counter


# --- implementations ------------------------------------------------------------


def process_class(impl: str) -> Any:
    if impl == "launchbay":
        from launchbay import Process
    elif impl == "prefect":
        from prefect.infrastructure import Process
    else:
        raise ValueError(impl)
    return Process


def pairs(a: Callable[[], float], b: Callable[[], float], n: int) -> tuple[list[float], list[float]]:
    """n samples of each, in A B, B A, ... order."""
    xs: list[float] = []
    ys: list[float] = []
    for i in range(n):
        if i % 2 == 0:
            xs.append(a())
            ys.append(b())
        else:
            ys.append(b())
            xs.append(a())
    return xs, ys


def raise_file_limit() -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


# --- process scenarios ------------------------------------------------------------


def _timed(fn: Callable[[], None]) -> Callable[[], float]:
    def timed() -> float:
        started = perf()
        fn()
        return perf() - started

    return timed


def timed_process(Process: Any, command: list[str], **fields: Any) -> Callable[[], float]:
    """One timed ``Process(...).run()`` that must succeed."""

    def run() -> None:
        result = Process(command=command, **fields).run()
        assert result.status_code == 0, result

    return _timed(run)


def timed_subprocess(command: list[str]) -> Callable[[], float]:
    return _timed(functools.partial(subprocess.run, command, check=True))


def per_run(args: dict[str, Any]) -> dict[str, Any]:
    """In-process ``Process(["true"]).run()`` from sync code vs ``subprocess.run``."""
    Process = process_class(args["impl"])
    command = ["true"]
    extra = {"working_dir": tempfile.gettempdir()} if args.get("working_dir") else {}

    impl, baseline = timed_process(Process, command, **extra), timed_subprocess(command)
    pairs(impl, baseline, args.get("warmup", 10))
    xs, ys = pairs(impl, baseline, args["n"])
    return {"impl": xs, "baseline": ys}


GENERATOR = (
    "import sys\n"
    "n=int(sys.argv[1]); line=b'launchbay relays every byte of this line in order......'*1+b'\\n'\n"
    "block=line*(1048576//len(line)); w=sys.stdout.buffer.write; left=n\n"
    "while left>0:\n"
    "    chunk=block[:left]; w(chunk); left-=len(chunk)\n"
    "sys.stdout.buffer.flush()\n"
)


def relay(args: dict[str, Any]) -> dict[str, Any]:
    """A child writes ``size`` bytes of lines; our stdout is a pipe the bench
    drains. launchbay relays them; the baseline child inherits our stdout."""
    Process = process_class(args["impl"])
    command = [sys.executable, "-c", GENERATOR, str(args["size"])]

    impl, baseline = timed_process(Process, command), timed_subprocess(command)
    Process(command=["true"]).run()  # warm: first-run imports
    sys.stdout.flush()
    xs, ys = pairs(impl, baseline, args["reps"])
    return {"impl": xs, "baseline": ys}


def _spawn_sleeper() -> tuple[subprocess.Popen[bytes], threading.Thread]:
    """A `sleep` in its own session, reaped the moment it exits (as its
    launcher would), running its own program before we return."""
    popen = subprocess.Popen(["sleep", "60"], start_new_session=True)
    reaper = threading.Thread(target=popen.wait, daemon=True)
    reaper.start()
    deadline = perf() + 5
    while perf() < deadline:
        try:
            with open(f"/proc/{popen.pid}/cmdline", "rb") as handle:
                if handle.read().startswith(b"sleep"):
                    break
        except OSError:
            pass
        time.sleep(0.001)
    return popen, reaper


def _launchbay_sleeper() -> tuple[str, threading.Thread]:
    """A launchbay run of `sleep 60`, watched by its own event loop on a thread."""
    import anyio

    from launchbay import Process

    started = threading.Event()
    box: dict[str, Any] = {}

    def watch() -> None:
        async def main() -> None:
            async with anyio.create_task_group() as tg:
                box["id"] = await tg.start(Process(command=["sleep", "60"]).arun)
                started.set()

        anyio.run(main)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the launchbay sleeper did not start")
    return str(box["id"]), thread


def kill(args: dict[str, Any]) -> dict[str, Any]:
    """``Process().kill(pid, grace_seconds=30)`` of a process that exits on
    SIGTERM, vs signalling its group and seeing it gone."""
    Process = process_class(args["impl"])
    host = socket.gethostname()

    def impl() -> float:
        if args["impl"] == "launchbay":
            # launchbay kills only its own runs: the sleeper is a launchbay run.
            identifier, runner = _launchbay_sleeper()
            started = perf()
            Process().kill(identifier, grace_seconds=30)
            elapsed = perf() - started
            runner.join(5)
            return elapsed
        popen, reaper = _spawn_sleeper()
        started = perf()
        killing = Process().kill(f"{host}:{popen.pid}", grace_seconds=30)
        if killing is not None:  # Prefect 2's kill is a plain coroutine function
            import asyncio

            asyncio.run(killing)
        elapsed = perf() - started
        reaper.join(5)
        assert popen.returncode == -signal.SIGTERM, popen.returncode
        return elapsed

    def baseline() -> float:
        popen, reaper = _spawn_sleeper()
        started = perf()
        os.killpg(popen.pid, signal.SIGTERM)
        reaper.join(5)
        return perf() - started

    pairs(impl, baseline, args.get("warmup", 2))
    xs, ys = pairs(impl, baseline, args["n"])
    return {"impl": xs, "baseline": ys}


def concurrent(args: dict[str, Any]) -> dict[str, Any]:
    """``count`` concurrent ``sleep`` runs from one event loop: wall time from
    the first start to the last result, and the peak number of threads."""
    import anyio

    raise_file_limit()
    impl = args["impl"]
    command = ["sleep", str(args["seconds"])]
    count = args["count"]
    statuses: list[int] = []

    if impl == "anyio":

        async def one() -> None:
            done = await anyio.run_process(command, stdout=None, stderr=None, check=False)
            statuses.append(done.returncode)

    else:
        Process = process_class(impl)

        async def one() -> None:
            result = await Process(command=command).run()
            statuses.append(result.status_code)

    peak = thread_count()

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, thread_count())
            await anyio.sleep(0.02)

    async def main() -> float:
        async with anyio.create_task_group() as outer:
            outer.start_soon(sample)
            started = perf()
            async with anyio.create_task_group() as runs:
                for _ in range(count):
                    runs.start_soon(one)
            wall = perf() - started
            outer.cancel_scope.cancel()
        return wall

    wall = anyio.run(main)
    return {"wall": wall, "peak_threads": peak, "ok": sum(1 for s in statuses if s == 0), "count": count}


# --- Docker ----------------------------------------------------------------------------


def _docker_arms(args: dict[str, Any]) -> dict[str, Callable[[], None]]:
    image = args["image"]
    labels = {"launchbay-bench": "1"}
    arms: dict[str, Callable[[], None]] = {}
    for arm in args["arms"]:
        if arm == "launchbay":
            from launchbay import DockerContainer

            def run_launchbay() -> None:
                result = DockerContainer(image=image, command=["true"], auto_remove=True, labels=labels).run()
                assert result.status_code == 0, result

            arms[arm] = run_launchbay
        elif arm == "prefect":
            from prefect.infrastructure import DockerContainer as PrefectContainer

            def run_prefect() -> None:
                result = PrefectContainer(
                    image=image, command=["true"], auto_remove=True, labels=labels
                ).run()
                assert result.status_code in (0, -1), result  # -1: Prefect lost the removed container

            arms[arm] = run_prefect
        elif arm == "cli":
            cli = args["cli"]

            def run_cli() -> None:
                subprocess.run(
                    [cli, "run", "--rm", "--label", "launchbay-bench=1", image, "true"],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )

            arms[arm] = run_cli
        elif arm == "docker-py":
            import docker

            client = docker.from_env()

            def run_docker_py() -> None:
                client.containers.run(image, ["true"], remove=True, labels=labels)

            arms[arm] = run_docker_py
        else:
            raise ValueError(arm)
    return arms


def docker_time(args: dict[str, Any]) -> dict[str, Any]:
    arms = {name: _timed(fn) for name, fn in _docker_arms(args).items()}
    for fn in arms.values():
        fn()  # warm: imports, client set-up, image metadata
    samples: dict[str, list[float]] = {name: [] for name in arms}
    names = list(arms)
    for rep in range(args["n"]):
        for name in names if rep % 2 == 0 else names[::-1]:
            samples[name].append(arms[name]())
    return samples


def _mark(socket_path: str | None, url: tuple[str, int] | None, what: str) -> None:
    """Tell the counting proxy where a measured run begins or ends."""
    if socket_path:
        conn = socket.socket(socket.AF_UNIX)
        conn.connect(socket_path)
    else:
        assert url is not None
        conn = socket.create_connection(url)
    with conn:
        conn.sendall(f"GET /_bench/{what} HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n".encode())
        conn.recv(4096)


def docker_count(args: dict[str, Any]) -> dict[str, Any]:
    """One warm run per arm, then one marked run the proxy counts."""
    socket_path = args["proxy_socket"]
    for name, fn in _docker_arms(args).items():
        _mark(socket_path, None, f"begin/{name}-first")
        fn()
        _mark(socket_path, None, f"end/{name}-first")
        _mark(socket_path, None, f"begin/{name}")
        fn()
        _mark(socket_path, None, f"end/{name}")
    return {}


# --- Kubernetes ---------------------------------------------------------------------------

JOB_SCRIPT = "sleep 1; cat /proc/uptime"


def _uptime() -> float:
    with open("/proc/uptime") as handle:
        return float(handle.read().split()[0])


class _CapturedStdout:
    """fd 1 into a file while a run relays its pod's log, so the bench can read
    the moment the pod's process printed (and exited)."""

    def __enter__(self) -> _CapturedStdout:
        sys.stdout.flush()
        self.file = tempfile.TemporaryFile()
        self.saved = os.dup(1)
        os.dup2(self.file.fileno(), 1)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()
        os.dup2(self.saved, 1)
        os.close(self.saved)
        self.file.seek(0)
        self.text = self.file.read().decode(errors="replace")
        self.file.close()


def _exit_uptime(log_text: str) -> float | None:
    for line in reversed(log_text.splitlines()):
        parts = line.split()
        if len(parts) == 2:
            try:
                return float(parts[0])
            except ValueError:
                continue
    return None


def _kubernetes_arms(args: dict[str, Any]) -> dict[str, Callable[[], dict[str, Any]]]:
    image, namespace = args["image"], args["namespace"]
    command = ["sh", "-c", JOB_SCRIPT]
    labels = {"launchbay-bench": "1"}
    arms: dict[str, Callable[[], dict[str, Any]]] = {}
    for arm in args["arms"]:
        if arm in ("launchbay", "prefect"):
            if arm == "launchbay":
                from launchbay import KubernetesJob
            else:
                from prefect.infrastructure import KubernetesJob

            def run_job(job_class: Any = KubernetesJob) -> dict[str, Any]:
                job = job_class(image=image, command=command, namespace=namespace, labels=labels)
                started = perf()
                with _CapturedStdout() as out:
                    result = job.run()
                    seen = _uptime()
                wall = perf() - started
                return {
                    "wall": wall,
                    "seen": seen,
                    "exited": _exit_uptime(out.text),
                    "status": result.status_code,
                }

            arms[arm] = run_job
        elif arm == "kubectl":
            kubectl = args["kubectl"]
            manifest = json.dumps(
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": {"generateName": "bench-kubectl-", "namespace": namespace, "labels": labels},
                    "spec": {
                        "backoffLimit": 0,
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [{"name": "job", "image": image, "command": command}],
                            }
                        },
                    },
                }
            )

            def run_kubectl(watch_pod: bool = args.get("watch_pod", False)) -> dict[str, Any]:
                started = perf()
                name = (
                    subprocess.run(
                        [kubectl, "create", "-f", "-", "-o", "name"],
                        input=manifest.encode(),
                        check=True,
                        capture_output=True,
                    )
                    .stdout.decode()
                    .strip()
                )
                pod_seen: dict[str, float] = {}
                watcher = None
                if watch_pod:
                    watcher = threading.Thread(
                        target=_watch_pod_succeeded, args=(namespace, name.split("/")[-1], pod_seen)
                    )
                    watcher.start()
                subprocess.run(
                    [kubectl, "wait", "-n", namespace, "--for=condition=complete", "--timeout=180s", name],
                    check=True,
                    capture_output=True,
                )
                seen = _uptime()
                logs = subprocess.run(
                    [kubectl, "logs", "-n", namespace, name], check=True, capture_output=True
                ).stdout.decode()
                wall = perf() - started
                if watcher is not None:
                    watcher.join(30)
                return {
                    "wall": wall,
                    "seen": seen,
                    "exited": _exit_uptime(logs),
                    "status": 0,
                    "pod_succeeded_seen": pod_seen.get("at"),
                }

            arms[arm] = run_kubectl
        else:
            raise ValueError(arm)
    return arms


def _watch_pod_succeeded(namespace: str, job_name: str, seen: dict[str, float]) -> None:
    """When a watch on the job's pods first shows it Succeeded (the earliest a
    client can know the work ended well, before the job controller says so)."""
    from kubernetes import client, config, watch

    config.load_kube_config()
    core = client.CoreV1Api()
    stream = watch.Watch()
    for event in stream.stream(
        core.list_namespaced_pod, namespace, label_selector=f"job-name={job_name}", timeout_seconds=120
    ):
        if event["object"].status.phase == "Succeeded":
            seen["at"] = _uptime()
            stream.stop()


def kubernetes_time(args: dict[str, Any]) -> dict[str, Any]:
    arms = _kubernetes_arms(args)
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in arms}
    names = list(arms)
    for rep in range(args["n"]):
        for name in names if rep % 2 == 0 else names[::-1]:
            samples[name].append(arms[name]())
    return samples


def kubernetes_count(args: dict[str, Any]) -> dict[str, Any]:
    """Warm run, then a marked run per arm; then ``concurrent`` runs at once
    (marked) to see whether watches are shared."""
    proxy = (args["proxy_host"], args["proxy_port"])
    arms = _kubernetes_arms(args)
    statuses: dict[str, Any] = {}
    for name, fn in arms.items():
        if args.get("warm", True):
            fn()
        _mark(None, proxy, f"begin/{name}")
        statuses[name] = fn()["status"]
        _mark(None, proxy, f"end/{name}")
    concurrent_runs = args.get("concurrent", 0)
    for name in args.get("concurrent_arms", []):
        import anyio

        if name == "launchbay":
            from launchbay import KubernetesJob
        else:
            from prefect.infrastructure import KubernetesJob

        async def one() -> None:
            job = KubernetesJob(
                image=args["image"],
                command=["sh", "-c", "sleep 2"],
                namespace=args["namespace"],
                labels={"launchbay-bench": "1"},
                stream_output=False,
            )
            await job.run()

        async def main() -> None:
            async with anyio.create_task_group() as tg:
                for _ in range(concurrent_runs):
                    tg.start_soon(one)

        _mark(None, proxy, f"begin/{name}-concurrent")
        anyio.run(main)
        _mark(None, proxy, f"end/{name}-concurrent")
    return {"statuses": statuses}


MODES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "per_run": per_run,
    "relay": relay,
    "kill": kill,
    "concurrent": concurrent,
    "docker_time": docker_time,
    "docker_count": docker_count,
    "kubernetes_time": kubernetes_time,
    "kubernetes_count": kubernetes_count,
}


def _mode(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    if name in MODES:
        return MODES[name]
    # Scale modes live beside this file (this directory is sys.path[0]).
    from worker_scale import MODES as SCALE_MODES

    return SCALE_MODES[name]


def main() -> None:
    mode, raw_args, out_path = sys.argv[1:4]
    result = _mode(mode)(json.loads(raw_args))
    with open(out_path, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
