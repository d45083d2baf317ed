"""What every scenario shares: settings of a run, result rows, A/B alternation,
and running a worker script in a given interpreter."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
WORKER = BENCH / "worker.py"


class Skip(Exception):
    """A scenario cannot run here (no engine, no cluster, class not written yet)."""


@dataclass
class Context:
    """How this run of the bench is set up."""

    quick: bool
    python: str  # the interpreter launchbay is installed in
    reference_python: str | None  # Prefect 2.20's interpreter, or None
    reference_note: str  # why there is no reference, when there is none
    log_dir: Path = RESULTS

    def pick(self, full: Any, quick: Any) -> Any:
        return quick if self.quick else full


@dataclass
class Row:
    """One line of the results table.

    ``launchbay``/``baseline``/``reference`` are medians in ``unit``; the ratios
    compare each to the baseline measured alongside it in the same run.
    """

    key: str
    what: str
    baseline_name: str
    unit: str
    target: str
    launchbay: float | None = None
    baseline: float | None = None
    reference: float | None = None
    reference_baseline: float | None = None  # the baseline measured next to the reference
    met: bool | None = None
    note: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)
    ratio_wanted: bool = True  # False for absolute figures (latency, counts)

    @property
    def ratio(self) -> float | None:
        return _ratio(self.launchbay, self.baseline) if self.ratio_wanted else None

    @property
    def reference_ratio(self) -> float | None:
        base = self.reference_baseline if self.reference_baseline is not None else self.baseline
        return _ratio(self.reference, base) if self.ratio_wanted else None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["reference_ratio"] = self.reference_ratio
        return data


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def mid(values: Sequence[float]) -> float:
    """The median of samples that must exist (a figure written into a note)."""
    if not values:
        raise ValueError("no samples")
    return statistics.median(values)


def alternate(
    arms: dict[str, Callable[[], float]],
    reps: int,
    limits: dict[str, int] | None = None,
) -> dict[str, list[float]]:
    """Call each arm once per repetition, reversing the order every other
    repetition (A B C, C B A, ...), so drift on a noisy machine hits all arms
    alike. ``limits`` caps the samples of slow arms (they take part in the
    first repetitions only)."""
    limits = limits or {}
    samples: dict[str, list[float]] = {name: [] for name in arms}
    names = list(arms)
    for rep in range(reps):
        for name in names if rep % 2 == 0 else names[::-1]:
            if len(samples[name]) < limits.get(name, reps):
                samples[name].append(arms[name]())
    return samples


def time_command(argv: Sequence[str], env: dict[str, str] | None = None) -> float:
    """Wall time of a whole process, output discarded; a failure is an error."""
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}"
        )
    return elapsed


def run_worker(
    ctx: Context,
    python: str,
    mode: str,
    args: dict[str, Any],
    *,
    env: dict[str, str] | None = None,
    stdout: int | None = subprocess.DEVNULL,
    timeout: float = 900,
    popen_hook: Callable[[subprocess.Popen[bytes]], None] | None = None,
    sample_every: float | None = None,
) -> dict[str, Any]:
    """Run ``worker.py MODE`` in ``python``; returns the JSON it writes.

    The worker's stderr (the runs' logs) goes to ``results/<mode>.log``.
    ``popen_hook`` gets the process to read its stdout while it runs.
    ``sample_every`` (seconds): watch the worker from outside (its threads
    and open file descriptors, from /proc) and add ``outside_peak_threads``
    and ``outside_peak_fds`` to what it returns; a busy event loop cannot
    sample itself.
    """
    ctx.log_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out_path = handle.name
    log_path = ctx.log_dir / f"{mode}.log"
    try:
        with open(log_path, "ab") as log:
            log.write(f"\n=== {python} {mode} {json.dumps(args)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                [python, str(WORKER), mode, json.dumps(args), out_path],
                stdout=stdout if popen_hook is None else subprocess.PIPE,
                stderr=log,
                env=env if env is not None else worker_environment(),
                cwd=tempfile.gettempdir(),
            )
            if popen_hook is not None:
                popen_hook(proc)
            sampler = ProcessSampler(proc.pid, sample_every) if sample_every else None
            try:
                returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise RuntimeError(
                    f"worker {mode} took longer than {timeout:.0f}s (log: {log_path})"
                ) from None
            finally:
                if sampler is not None:
                    sampler.stop()
        if returncode != 0:
            tail = log_path.read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(f"worker {mode} exited {returncode}; log {log_path}:\n" + "\n".join(tail))
        with open(out_path) as handle:
            result: dict[str, Any] = json.load(handle)
        if sampler is not None:
            result["outside_peak_threads"] = sampler.threads
            result["outside_peak_fds"] = sampler.fds
        return result
    finally:
        os.unlink(out_path)


class ProcessSampler:
    """Peak threads and open file descriptors of a process, read from /proc
    by a thread of the bench (outside the measured process)."""

    def __init__(self, pid: int, interval: float) -> None:
        import threading

        self.pid = pid
        self.interval = interval
        self.threads = 0
        self.fds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with open(f"/proc/{self.pid}/status") as handle:
                    for line in handle:
                        if line.startswith("Threads:"):
                            self.threads = max(self.threads, int(line.split()[1]))
                            break
                self.fds = max(self.fds, len(os.listdir(f"/proc/{self.pid}/fd")))
            except (OSError, ValueError):
                continue

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def worker_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of measured processes: ours, minus launchbay settings a
    developer may have set, with throwaway homes for launchbay and Prefect."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAUNCHBAY_", "PREFECT_"))}
    home = RESULTS / "homes"
    for sub in ("launchbay", "prefect"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    env["LAUNCHBAY_HOME"] = str(home / "launchbay")
    env["PREFECT_HOME"] = str(home / "prefect")
    env.pop("PYTHONPATH", None)
    env.update(extra or {})
    return env


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s":
        if value < 1:
            return f"{value * 1000:.1f} ms"
        return f"{value:.2f} s"
    if unit in {"requests", "threads", "watches"}:
        return f"{value:g} {unit}"
    return f"{value:.3g} {unit}"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)
