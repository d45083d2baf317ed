"""Scale measurements, run by ``worker.py`` (same usage): thousands of
concurrent process runs from one event loop, their output, and the floor
they are compared with (the same children started with ``subprocess.Popen``
and reaped by one ``os.waitpid(-1)`` loop).

Standard library only at import; launchbay and anyio when a mode asks for them.
"""

from __future__ import annotations

import io
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

perf = time.perf_counter
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# --- what the process looks like ---------------------------------------------------------


def rss_kb() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE_KB


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def raise_file_limit() -> int:
    """The baselines' own raise (launchbay's runs use ``raise_open_file_limit``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def peak_rss_kb() -> int:
    """The process's peak resident set so far (VmHWM), in KiB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Peaks:
    """Peak threads and file descriptors, sampled by the event loop's lag
    watcher (no thread of our own: a sampling thread would take the GIL from
    the runs it measures); peak RSS from the kernel's high-water mark."""

    def __init__(self) -> None:
        self.threads = thread_count()
        self.fds = fd_count()
        self.base_rss_kb = rss_kb()
        self.rss_kb = self.base_rss_kb
        self._last_fds = 0.0

    def take(self, now: float) -> None:
        self.threads = max(self.threads, thread_count())
        if now - self._last_fds >= 0.5:  # listing 10,000 descriptors takes a few ms
            self._last_fds = now
            self.fds = max(self.fds, fd_count())

    def finish(self) -> None:
        self.take(perf() + 1)
        self.rss_kb = peak_rss_kb()

    @property
    def rss_growth_kb(self) -> int:
        return self.rss_kb - self.base_rss_kb


def lag_summary(lags: list[float]) -> dict[str, float | int | None]:
    if not lags:
        return {"lag_p50": None, "lag_p99": None, "lag_max": None, "lag_samples": 0}
    ordered = sorted(lags)
    return {
        "lag_p50": statistics.median(ordered),
        "lag_p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "lag_max": ordered[-1],
        "lag_samples": len(ordered),
    }


async def watch_lag(lags: list[float], peaks: Peaks | None = None, period: float = 0.01) -> None:
    """How late the event loop wakes a task that sleeps ``period``: its lag."""
    import anyio

    while True:
        started = perf()
        await anyio.sleep(period)
        now = perf()
        lags.append(max(0.0, now - started - period))
        if peaks is not None:
            peaks.take(now)


# --- many concurrent runs --------------------------------------------------------------------


def _floor(command: list[str], count: int, stdout: int | None = None) -> dict[str, Any]:
    """Popen ``count`` children, then one ``os.waitpid(-1)`` loop reaps them all."""
    raise_file_limit()
    peaks = Peaks()
    statuses: list[int] = []
    started = perf()
    children = {}
    for _ in range(count):
        popen = subprocess.Popen(command, stdout=stdout)
        children[popen.pid] = popen
    spawned = perf() - started
    peaks.take(perf() + 1)  # every child is running now
    while len(statuses) < count:
        pid, status = os.waitpid(-1, 0)
        popen = children.pop(pid, None)  # type: ignore[arg-type]
        if popen is None:
            continue
        popen.returncode = os.waitstatus_to_exitcode(status)
        statuses.append(popen.returncode)
    wall = perf() - started
    peaks.finish()
    return {**_tally(wall, statuses, count, peaks), "spawned": spawned}


def _pidfd_loop(command: list[str], count: int) -> dict[str, Any]:
    """The least an event-loop supervisor can do per run, for scale: each child
    started in its own session (as every run is) with one pidfd the asyncio
    loop watches, reaped when it is readable; no containment, registry file,
    working directory, logging or result. Starts are batched (8 per loop
    iteration) as launchbay's start gate does. Unlike the floor's
    ``waitpid(-1)``, it reaps only its own children, as a library must."""
    import asyncio

    raise_file_limit()
    peaks = Peaks()
    statuses: list[int] = []

    async def main() -> float:
        loop = asyncio.get_running_loop()
        all_done = loop.create_future()

        def ended(fd: int, popen: subprocess.Popen[bytes]) -> None:
            loop.remove_reader(fd)
            os.close(fd)
            statuses.append(popen.wait())
            if len(statuses) == count:
                all_done.set_result(None)

        started = perf()
        for index in range(count):
            popen = subprocess.Popen(command, start_new_session=True)
            fd = os.pidfd_open(popen.pid)
            loop.add_reader(fd, ended, fd, popen)
            if index % 8 == 7:
                await asyncio.sleep(0)
        peaks.take(perf() + 1)
        await all_done
        return perf() - started

    wall = asyncio.run(main())
    peaks.finish()
    return _tally(wall, statuses, count, peaks)


def _tally(wall: float, statuses: list[int] | list[int | None], count: int, peaks: Peaks) -> dict[str, Any]:
    """What every scale worker reports: wall time, runs that exited 0, and the peaks."""
    return {
        "wall": wall,
        "ok": statuses.count(0),
        "count": count,
        "peak_threads": peaks.threads,
        "peak_fds": peaks.fds,
        "rss_growth_kb": peaks.rss_growth_kb,
    }


def _event_loop_runs(
    make_run: Callable[[], Any], count: int, warm: Callable[[], Any] | None = None
) -> dict[str, Any]:
    """``count`` concurrent ``await make_run()`` in one task group; each returns
    its exit status. Wall time from the first start to the last result."""
    import anyio

    statuses: list[int | None] = []
    errors: dict[str, int] = {}
    lags: list[float] = []
    marks: dict[str, float] = {}

    async def one() -> None:
        try:
            statuses.append(await make_run())
        except Exception as exc:  # a run that could not start: counted, not fatal
            text = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            errors[text] = errors.get(text, 0) + 1
            statuses.append(None)
        if len(statuses) == 1:
            marks["first_done"] = perf()

    async def main() -> dict[str, Any]:
        if warm is not None:
            await warm()
        peaks = Peaks()
        async with anyio.create_task_group() as outer:
            outer.start_soon(watch_lag, lags, peaks)
            await anyio.sleep(0.05)
            started = perf()
            async with anyio.create_task_group() as runs:
                for _ in range(count):
                    runs.start_soon(one)
            wall = perf() - started
            outer.cancel_scope.cancel()
        peaks.finish()
        return {
            **_tally(wall, statuses, count, peaks),
            "first_done": marks.get("first_done", started) - started,
            "errors": errors,
            **lag_summary(lags),
        }

    return anyio.run(main)


def scale_process(args: dict[str, Any]) -> dict[str, Any]:
    """``count`` concurrent ``sleep SECONDS`` runs from one process: wall time,
    peak threads, file descriptors, RSS growth and event-loop lag.
    ``impl``: ``launchbay`` (containment from LAUNCHBAY_CONTAINMENT), ``floor``
    (Popen + one waitpid(-1) loop) or ``anyio`` (bare ``anyio.run_process``)."""
    command = ["sleep", str(args["seconds"])]
    count = args["count"]
    impl = args["impl"]
    if impl == "floor":
        return _floor(command, count)
    if impl == "pidfd-loop":
        return _pidfd_loop(command, count)
    if impl == "anyio":
        import anyio

        raise_file_limit()

        async def bare() -> int:
            done = await anyio.run_process(command, stdout=None, stderr=None, check=False)
            return done.returncode

        return _event_loop_runs(bare, count)
    if impl != "launchbay":
        raise ValueError(impl)
    import launchbay
    from launchbay import Process

    limit = launchbay.raise_open_file_limit()
    fields: dict[str, Any] = {"stream_output": False}
    if args.get("working_dir"):
        fields["working_dir"] = tempfile.gettempdir()

    async def run() -> int:
        result = await Process(command=command, **fields).arun()
        return result.status_code

    async def warm() -> None:
        await Process(command=["true"], **fields).arun()

    got = _event_loop_runs(run, count, warm)
    got["open_file_limit"] = limit
    return got


# --- many runs writing output ------------------------------------------------------------------

LINE_SCRIPT = 'i=0; while [ $i -lt "$2" ]; do echo "run $1 line $i"; i=$((i+1)); done'


def _line_command(index: int, lines: int) -> list[str]:
    return ["sh", "-c", LINE_SCRIPT, "sh", str(index), str(lines)]


class _CopiedStream:
    """A stream with no file descriptor (as captured output is): launchbay
    must read the child's pipe and copy it here."""

    def __init__(self, target: io.BufferedWriter) -> None:
        self.buffer = target

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no file descriptor")

    def write(self, text: str) -> int:
        return self.buffer.write(text.encode())

    def flush(self) -> None:
        self.buffer.flush()


def lines_lost(path: str, count: int, lines: int) -> dict[str, Any]:
    """Every ``run I line J`` line, whole and once, or how many are not."""
    seen: set[tuple[int, int]] = set()
    broken = duplicated = 0
    with open(path, "rb") as handle:
        for raw in handle:
            parts = raw.split()
            if len(parts) != 4 or parts[0] != b"run" or parts[2] != b"line" or not raw.endswith(b"\n"):
                broken += 1
                continue
            key = (int(parts[1]), int(parts[3]))
            if key in seen:
                duplicated += 1
            seen.add(key)
    return {"lines": len(seen), "expected": count * lines, "broken": broken, "duplicated": duplicated}


def scale_output(args: dict[str, Any]) -> dict[str, Any]:
    """``count`` concurrent runs each writing ``lines`` lines with
    ``stream_output=True``; our stdout is a file (``launchbay``: the children
    write to it), or a stream without a file descriptor (``launchbay-copy``:
    launchbay copies every pipe to it); ``floor``: Popen'd children writing to
    the file. Every line is checked."""
    count, lines, impl = args["count"], args["lines"], args["impl"]
    out_dir = tempfile.mkdtemp(prefix="bench-scale-output-")
    path = os.path.join(out_dir, "out.txt")
    try:
        with open(path, "wb") as target:
            if impl == "floor":
                got = _floor_with_commands(count, lines, target.fileno())
            else:
                got = _launchbay_output(impl, count, lines, target)
        got.update(lines_lost(path, count, lines))
        got["bytes"] = os.path.getsize(path)
        return got
    finally:
        if os.path.exists(path):
            os.unlink(path)
        os.rmdir(out_dir)


def _floor_with_commands(count: int, lines: int, stdout: int) -> dict[str, Any]:
    raise_file_limit()
    peaks = Peaks()
    statuses: list[int] = []
    started = perf()
    children = {}
    for index in range(count):
        popen = subprocess.Popen(_line_command(index, lines), stdout=stdout)
        children[popen.pid] = popen
    peaks.take(perf() + 1)
    while len(statuses) < count:
        pid, status = os.waitpid(-1, 0)
        if children.pop(pid, None) is not None:
            statuses.append(os.waitstatus_to_exitcode(status))
    wall = perf() - started
    peaks.finish()
    return _tally(wall, statuses, count, peaks)


def _launchbay_output(impl: str, count: int, lines: int, target: io.BufferedWriter) -> dict[str, Any]:
    import launchbay
    from launchbay import Process

    limit = launchbay.raise_open_file_limit()
    sys.stdout.flush()
    saved_fd = os.dup(1)
    saved_stdout = sys.stdout
    os.dup2(target.fileno(), 1)
    if impl == "launchbay-copy":
        sys.stdout = _CopiedStream(target)  # type: ignore[assignment,unused-ignore]
    elif impl != "launchbay":
        raise ValueError(impl)
    counter = iter(range(count))

    async def run() -> int:
        result = await Process(command=_line_command(next(counter), lines), stream_output=True).arun()
        return result.status_code

    async def warm() -> None:
        await Process(command=["true"], stream_output=True).arun()

    try:
        got = _event_loop_runs(run, count, warm)
    finally:
        sys.stdout.flush()
        sys.stdout = saved_stdout
        os.dup2(saved_fd, 1)
        os.close(saved_fd)
    got["open_file_limit"] = limit
    return got


MODES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "scale_process": scale_process,
    "scale_output": scale_output,
}


# --- run records -----------------------------------------------------------------------------


def records_fill(args: dict[str, Any]) -> dict[str, Any]:
    """Write ``count`` run records as runs write them (the recorder: begin,
    started, end; one short transaction each), timing every write; then
    ``concurrent`` process runs on one event loop, recorded and not, for the
    event-loop lag the store's writes cause."""
    from launchbay._internal.records import recorder
    from launchbay._internal.records.store import open_record_store

    writes: list[float] = []
    host = os.uname().nodename
    concurrent = min(args.get("concurrent", 1000), args["count"])
    # The concurrent recorded runs below add theirs: ``count`` records in all.
    for index in range(args["count"] - concurrent):
        started = perf()
        recording = recorder.begin("process", command=["sleep", str(index)], cli=True)
        writes.append(perf() - started)
        assert recording is not None, "recording is off"
        started = perf()
        recording.started(f"{host}:{100000 + index}")
        writes.append(perf() - started)
        started = perf()
        recording.end(index % 3, "exited", None)
        writes.append(perf() - started)
    store = open_record_store()
    database = getattr(store, "path", None)
    store.close()
    from launchbay._internal.records import schema

    return {
        "write_seconds": writes,
        "database": str(database),
        "table": schema.RUNS_TABLE,
        "concurrent": concurrent,
        "unrecorded": _recorded_runs(concurrent, record=False),
        "recorded": _recorded_runs(concurrent, record=True),
        "how": "recorded by Process.arun itself with LAUNCHBAY_RECORD_RUNS=1 (its record written "
        "at the start, its pid, its end)",
    }


def _recorded_runs(count: int, record: bool) -> dict[str, Any]:
    import threading

    import launchbay
    from launchbay import Process

    launchbay.raise_open_file_limit()
    command = ["sleep", "1"]
    calls: list[tuple[float, int]] = []
    if record:
        _time_store_writes(calls)

    # The API records its runs when LAUNCHBAY_RECORD_RUNS is on (Infrastructure.arun).
    os.environ["LAUNCHBAY_RECORD_RUNS"] = "1" if record else "0"

    async def run() -> int:
        return (await Process(command=command, stream_output=False).arun()).status_code

    loop_thread = threading.get_ident()  # anyio.run runs the loop on this thread
    got = _event_loop_runs(run, count)
    got["store_seconds"] = [seconds for seconds, thread in calls if thread == loop_thread]
    got["store_seconds_elsewhere"] = [seconds for seconds, thread in calls if thread != loop_thread]
    return got


def _time_store_writes(into: list[tuple[float, int]]) -> None:
    """Time every record-store call the runs make, with the thread that made
    it: one made on the event loop's thread blocks the loop that long."""
    import functools
    import threading

    from launchbay._internal.records import store

    def timed(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = perf()
            try:
                return function(*args, **kwargs)
            finally:
                into.append((perf() - started, threading.get_ident()))

        return wrapper

    for name in ("insert", "set_started", "set_end", "delete", "close"):
        for cls in (store.RecordStore, *store.RecordStore.__subclasses__()):
            if name in vars(cls):
                setattr(cls, name, timed(vars(cls)[name]))
    opener = store.open_record_store
    store.open_record_store = timed(opener)
    from launchbay._internal.records import recorder

    recorder.open_record_store = store.open_record_store


MODES["records_fill"] = records_fill


# --- Docker: many containers at once -----------------------------------------------------------


def _mark(socket_path: str | None, what: str) -> None:
    """Tell the counting proxy where the measured part begins or ends."""
    if not socket_path:
        return
    import socket

    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(socket_path)
        conn.sendall(f"GET /_bench/{what} HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n".encode())
        conn.recv(4096)


def docker_scale(args: dict[str, Any]) -> dict[str, Any]:
    """``count`` concurrent containers of ``sleep SECONDS``: launchbay's
    ``DockerContainer(...).run()`` in one task group after one warm run, or
    as many ``docker run --rm`` processes at once. With ``proxy_socket``
    (DOCKER_HOST points at the counting proxy) the concurrent part is marked."""
    import anyio

    image, count, impl = args["image"], args["count"], args["impl"]
    command = ["sleep", str(args["seconds"])]
    labels = {"launchbay-bench": "1"}
    proxy = args.get("proxy_socket")
    statuses: list[int] = []
    lags: list[float] = []

    if impl == "launchbay":
        from launchbay import DockerContainer

        async def one() -> None:
            result = await DockerContainer(
                image=image, command=command, auto_remove=True, labels=labels
            ).arun()
            statuses.append(result.status_code)

        async def warm() -> None:
            result = await DockerContainer(
                image=image, command=["true"], auto_remove=True, labels=labels
            ).arun()
            assert result.status_code == 0, result

    elif impl == "cli":
        cli = args["cli"]

        async def one() -> None:
            done = await anyio.run_process(
                [cli, "run", "--rm", "--label", "launchbay-bench=1", image, *command],
                check=False,
                stdout=None,
                stderr=None,
            )
            statuses.append(done.returncode)

        async def warm() -> None:
            await anyio.run_process([cli, "run", "--rm", "--label", "launchbay-bench=1", image, "true"])

    else:
        raise ValueError(impl)

    async def main() -> dict[str, Any]:
        await warm()
        peaks = Peaks()
        async with anyio.create_task_group() as outer:
            outer.start_soon(watch_lag, lags, peaks)
            _mark(proxy, f"begin/{impl}")
            started = perf()
            async with anyio.create_task_group() as runs:
                for _ in range(count):
                    runs.start_soon(one)
            wall = perf() - started
            _mark(proxy, f"end/{impl}")
            outer.cancel_scope.cancel()
        peaks.finish()
        return {
            "wall": wall,
            "ok": statuses.count(0),
            "count": count,
            "statuses": sorted(set(statuses)),
            "peak_threads": peaks.threads,
            "peak_fds": peaks.fds,
            **lag_summary(lags),
        }

    raise_file_limit()
    return anyio.run(main)


MODES["docker_scale"] = docker_scale


# --- Kubernetes: many Jobs at once ---------------------------------------------------------------


class PodWatch:
    """When a watch on the namespace's pods (the kubernetes client, on a
    thread, straight to the API server) first sees each job's pod in a
    terminal phase: the earliest any client can know a run ended."""

    def __init__(self, namespace: str, kubeconfig: str) -> None:
        self.namespace = namespace
        self.kubeconfig = kubeconfig
        self.seen: dict[str, tuple[float, str]] = {}  # job name -> (monotonic time, phase)
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> PodWatch:
        self._thread.start()
        if not self.ready.wait(30) or self.error is not None:
            raise RuntimeError(f"the pod watch did not start: {self.error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        if self.error is not None:
            raise RuntimeError(f"the pod watch failed: {self.error!r}")

    def _watch(self) -> None:
        try:
            self._follow()
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    def _follow(self) -> None:
        from kubernetes import client, config, watch

        api = client.CoreV1Api(config.new_client_from_config(config_file=self.kubeconfig))
        version: str | None = None
        while not self._stop.is_set():
            if version is None:  # (re)list: what ended while no watch was open counts too
                listed = api.list_namespaced_pod(self.namespace)
                for pod in listed.items:
                    self._look(pod)
                version = listed.metadata.resource_version if listed.metadata else None
                self.ready.set()
            stream = watch.Watch()
            for event in stream.stream(
                api.list_namespaced_pod,
                self.namespace,
                resource_version=version,
                timeout_seconds=5,
                allow_watch_bookmarks=True,
            ):
                pod = event["object"]
                if event["type"] == "ERROR":  # e.g. 410 Gone: list again
                    version = None
                    stream.stop()
                    break
                if isinstance(pod, dict):  # a bookmark
                    version = pod.get("metadata", {}).get("resourceVersion", version)
                    continue
                version = pod.metadata.resource_version
                self._look(pod)
                if self._stop.is_set():
                    stream.stop()

    def _look(self, pod: Any) -> None:
        phase = pod.status.phase if pod.status else None
        job = (pod.metadata.labels or {}).get("job-name")
        if job and phase in ("Succeeded", "Failed") and job not in self.seen:
            self.seen[job] = (time.monotonic(), phase)


def _job_manifest(namespace: str, image: str, command: list[str]) -> str:
    import json

    return json.dumps(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "generateName": "bench-scale-kubectl-",
                "namespace": namespace,
                "labels": {"launchbay-bench": "1"},
            },
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


def kubernetes_scale(args: dict[str, Any]) -> dict[str, Any]:
    """``count`` concurrent Jobs of ``sleep SECONDS; exit CODE``: launchbay's
    ``KubernetesJob(...).run()`` in one task group after one warm run (a pod
    watch beside it times each return against the pod's terminal phase), or
    as many ``kubectl create`` + ``kubectl wait`` at once. ``mixed_codes``: job
    i exits with i % 4 (launchbay only; kubectl waits for completion)."""
    import socket

    import anyio

    image, namespace, count, impl = args["image"], args["namespace"], args["count"], args["impl"]
    seconds = args["seconds"]
    mixed = args.get("mixed_codes", False)
    proxy = (args["proxy_host"], args["proxy_port"]) if args.get("proxy_host") else None
    lags: list[float] = []
    results: list[dict[str, Any]] = []

    def expected(index: int) -> int:
        return index % 4 if mixed else 0

    def command_for(index: int) -> list[str]:
        return ["sh", "-c", f"sleep {seconds}; exit {expected(index)}"]

    def mark(what: str) -> None:
        if proxy is None:
            return
        with socket.create_connection(proxy) as conn:
            conn.sendall(f"GET /_bench/{what} HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n".encode())
            conn.recv(4096)

    if impl == "launchbay":
        from launchbay import KubernetesJob

        def job(command: list[str]) -> Any:
            return KubernetesJob(
                image=image, command=command, namespace=namespace, labels={"launchbay-bench": "1"}
            )

        async def one(index: int) -> None:
            box: dict[str, Any] = {}

            async def go(*, task_status: Any) -> None:
                box["result"] = await job(command_for(index)).arun(task_status=task_status)

            async with anyio.create_task_group() as tg:
                identifier = await tg.start(go)
            results.append(
                {
                    "job": str(identifier).rsplit(":", 1)[-1],
                    "returned": time.monotonic(),
                    "status": box["result"].status_code,
                    "expected": expected(index),
                }
            )

        async def warm() -> None:
            result = await job(["true"]).arun()
            assert result.status_code == 0, result

    elif impl == "kubectl":
        kubectl = args["kubectl"]

        async def one(index: int) -> None:
            created = await anyio.run_process(
                [kubectl, "create", "-f", "-", "-o", "name"],
                input=_job_manifest(namespace, image, command_for(index)).encode(),
            )
            name = created.stdout.decode().strip()
            done = await anyio.run_process(
                [kubectl, "wait", "-n", namespace, "--for=condition=complete", "--timeout=600s", name],
                check=False,
            )
            results.append(
                {
                    "job": name.rsplit("/", 1)[-1],
                    "returned": time.monotonic(),
                    "status": 0 if done.returncode == 0 else -1,
                    "expected": 0,
                }
            )

        async def warm() -> None:
            await anyio.run_process([kubectl, "get", "jobs", "-n", namespace, "-o", "name"])

    else:
        raise ValueError(impl)

    peaks = Peaks()

    async def main(watch: PodWatch | None) -> float:
        await warm()
        async with anyio.create_task_group() as outer:
            outer.start_soon(watch_lag, lags, peaks)
            mark(f"begin/{impl}")
            started = perf()
            async with anyio.create_task_group() as runs:
                for index in range(count):
                    runs.start_soon(one, index)
            wall = perf() - started
            mark(f"end/{impl}")
            outer.cancel_scope.cancel()
        return wall

    if args.get("watch_pods"):
        with PodWatch(namespace, args["real_kubeconfig"]) as watch:
            wall = anyio.run(main, watch)
            time.sleep(0.5)  # the watch's last events
        seen = watch.seen
    else:
        wall = anyio.run(main, None)
        seen = {}
    latencies: dict[str, list[float]] = {"Succeeded": [], "Failed": []}
    for result in results:
        if result["job"] in seen:
            at, phase = seen[result["job"]]
            latencies[phase].append(result["returned"] - at)
    return {
        "wall": wall,
        "count": count,
        "correct": sum(1 for r in results if r["status"] == r["expected"]),
        "wrong": [(r["status"], r["expected"]) for r in results if r["status"] != r["expected"]][:20],
        "after_pod_succeeded": latencies["Succeeded"],
        "after_pod_failed": latencies["Failed"],
        "peak_threads": peaks.threads,
        **lag_summary(lags),
    }


MODES["kubernetes_scale"] = kubernetes_scale
