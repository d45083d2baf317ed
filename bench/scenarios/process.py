"""Local process scenarios: import, CLI start-up, per-run cost, output relay,
kill latency, many concurrent runs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from bench.harness import Context, Row, alternate, median, run_worker, time_command, worker_environment


def _launchbay_script(ctx: Context) -> str:
    return str(Path(ctx.python).parent / "launchbay")


def import_time(ctx: Context) -> list[Row]:
    """`python -c "import launchbay"` vs `python -c "import subprocess"`."""
    env = worker_environment()
    arms = {
        "baseline": lambda: time_command([ctx.python, "-c", "import subprocess"], env),
        "launchbay": lambda: time_command([ctx.python, "-c", "import launchbay"], env),
    }
    limits = {}
    if ctx.reference_python:
        ref = ctx.reference_python
        arms["reference"] = lambda: time_command([ref, "-c", "import prefect"], env)
        arms["reference_baseline"] = lambda: time_command([ref, "-c", "import subprocess"], env)
        limits = {"reference": ctx.pick(8, 1), "reference_baseline": ctx.pick(8, 1)}
    samples = alternate(arms, ctx.pick(30, 6), limits)
    return [
        _row(
            "import",
            '`python -c "import launchbay"`',
            '`python -c "import subprocess"`',
            "<= 4x",
            4.0,
            samples,
            ref_what="`import prefect`",
        )
    ]


def cli_run(ctx: Context) -> list[Row]:
    """`launchbay run -- true` as a whole process vs a Python one-liner running it."""
    env = worker_environment()
    one_liner = "import subprocess; subprocess.run(['true'])"
    arms = {
        "baseline": lambda: time_command([ctx.python, "-c", one_liner], env),
        "launchbay": lambda: time_command([_launchbay_script(ctx), "run", "--", "true"], env),
    }
    limits = {}
    if ctx.reference_python:
        ref = ctx.reference_python
        prefect_run = "from prefect.infrastructure import Process; Process(command=['true']).run()"
        arms["reference"] = lambda: time_command([ref, "-c", prefect_run], env)
        arms["reference_baseline"] = lambda: time_command([ref, "-c", one_liner], env)
        limits = {"reference": ctx.pick(8, 1), "reference_baseline": ctx.pick(8, 1)}
    samples = alternate(arms, ctx.pick(30, 6), limits)
    return [
        _row(
            "cli",
            "`launchbay run -- true`, whole process",
            '`python -c` running `subprocess.run(["true"])`',
            "<= 5x",
            5.0,
            samples,
            ref_what='`python -c` running Prefect\'s `Process(command=["true"]).run()`',
        )
    ]


CONTAINMENTS = ("cgroup-v2", "cgroup-v1", "session")


def per_run(ctx: Context) -> list[Row]:
    """In-process `Process(["true"]).run()` vs `subprocess.run(["true"])`, per run;
    then the same with `working_dir` set (no fresh temporary directory); then
    with each containment forced (LAUNCHBAY_CONTAINMENT), each against
    `subprocess.run` in the same worker."""
    rows = _per_run(ctx, working_dir=False)
    rows += _per_run(ctx, working_dir=True)
    for containment in CONTAINMENTS:
        rows += _per_run(ctx, working_dir=False, containment=containment)
    return rows


def _per_run(ctx: Context, working_dir: bool, containment: str | None = None) -> list[Row]:
    n = ctx.pick(300, 40)
    impl: list[float] = []
    base: list[float] = []
    ref: list[float] = []
    ref_base: list[float] = []
    env = worker_environment({"LAUNCHBAY_CONTAINMENT": containment} if containment else None)
    for _ in range(ctx.pick(3, 1)):
        got = run_worker(
            ctx, ctx.python, "per_run", {"impl": "launchbay", "n": n, "working_dir": working_dir}, env=env
        )
        impl += got["impl"]
        base += got["baseline"]
        if containment is not None:
            continue  # the reference has no containment: its rows are above
        if ctx.reference_python and not (ctx.quick and working_dir):
            got = run_worker(
                ctx,
                ctx.reference_python,
                "per_run",
                {"impl": "prefect", "n": max(n // 3, 20), "working_dir": working_dir},
            )
            ref += got["impl"]
            ref_base += got["baseline"]
    samples = {"launchbay": impl, "baseline": base, "reference": ref, "reference_baseline": ref_base}
    if containment is not None:
        return [
            _row(
                "per-run",
                f"the same with `LAUNCHBAY_CONTAINMENT={containment}`",
                '`subprocess.run(["true"])`',
                "<= 1.5x",
                1.5,
                samples,
            )
        ]
    if working_dir:
        return [
            _row(
                "per-run",
                "the same with `working_dir` set (no fresh temporary directory to create and remove)",
                '`subprocess.run(["true"])`',
                "(<= 1.5x)",
                1.5,
                samples,
            )
        ]
    return [
        _row(
            "per-run",
            'in-process `Process(command=["true"]).run()`, per run',
            '`subprocess.run(["true"])`',
            "<= 1.5x",
            1.5,
            samples,
        )
    ]


class _Drain:
    """Reads a worker's stdout as fast as it comes and counts the bytes."""

    def __init__(self) -> None:
        self.size = 0
        self.thread: threading.Thread | None = None

    def attach(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()

        def pump() -> None:
            while data := os.read(fd, 1 << 20):
                self.size += len(data)

        self.thread = threading.Thread(target=pump, daemon=True)
        self.thread.start()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()


def relay(ctx: Context) -> list[Row]:
    """A child writes 1 GiB of lines to a pipe the bench drains: through
    launchbay's relay vs inheriting the pipe directly."""
    size = ctx.pick(1 << 30, 64 << 20)
    reps = ctx.pick(3, 2)
    impl: list[float] = []
    base: list[float] = []
    ref: list[float] = []
    ref_base: list[float] = []
    lost: list[str] = []
    for rep in range(ctx.pick(2, 1)):
        order = ["launchbay", "reference"] if rep % 2 == 0 else ["reference", "launchbay"]
        for who in order:
            if who == "reference" and not ctx.reference_python:
                continue
            python = ctx.python if who == "launchbay" else ctx.reference_python
            runs = reps if who == "launchbay" else max(1, reps - 1)
            drain = _Drain()
            got = run_worker(
                ctx,
                python,
                "relay",
                {"impl": "launchbay" if who == "launchbay" else "prefect", "size": size, "reps": runs},
                popen_hook=drain.attach,
            )
            drain.join()
            expected = 2 * runs * size
            if drain.size != expected:
                lost.append(f"{who}: {drain.size} of {expected} bytes arrived")
            if who == "launchbay":
                impl += got["impl"]
                base += got["baseline"]
            else:
                ref += got["impl"]
                ref_base += got["baseline"]
    samples = {"launchbay": impl, "baseline": base, "reference": ref, "reference_baseline": ref_base}
    label = f"{size >> 30} GiB" if size >= 1 << 30 else f"{size >> 20} MiB"
    row = _row(
        "relay",
        f"relaying {label} of output to our stdout (a pipe)",
        "the child writing straight to it",
        "<= 1.2x",
        1.2,
        samples,
    )
    notes = [
        f"throughput: launchbay {size / median(impl) / 1e6:.0f} MB/s, direct {size / median(base) / 1e6:.0f} MB/s"
    ]
    if ref:
        notes.append(f"reference {size / median(ref) / 1e6:.0f} MB/s")
    row.note = "; ".join(notes + lost)
    if lost:
        row.met = False
    return [row]


def kill(ctx: Context) -> list[Row]:
    """`Process().kill(pid, grace_seconds=30)` of a `sleep` that exits on SIGTERM."""
    got = run_worker(ctx, ctx.python, "kill", {"impl": "launchbay", "n": ctx.pick(30, 6)})
    samples = {
        "launchbay": got["impl"],
        "baseline": got["baseline"],
        "reference": [],
        "reference_baseline": [],
    }
    if ctx.reference_python:
        # Prefect's kill takes seconds: no warm-up rounds.
        ref = run_worker(
            ctx, ctx.reference_python, "kill", {"impl": "prefect", "n": ctx.pick(4, 1), "warmup": 0}
        )
        samples["reference"], samples["reference_baseline"] = ref["impl"], ref["baseline"]
    row = _row(
        "kill",
        "`kill()` of a process that exits on SIGTERM (grace 30 s)",
        "`os.killpg(SIGTERM)` + reap",
        "<= 0.05 s",
        None,
        samples,
    )
    row.ratio_wanted = False
    row.met = row.launchbay is not None and row.launchbay <= 0.05
    return [row]


def concurrency(ctx: Context) -> list[Row]:
    """N concurrent `sleep` runs from one event loop vs bare `anyio.run_process`."""
    count, seconds = ctx.pick((1000, 2), (100, 0.5))
    arms = ["launchbay", "anyio"] + (["prefect"] if ctx.reference_python else [])
    runs: dict[str, list[dict]] = {arm: [] for arm in arms}
    reps = ctx.pick(3, 1)
    ref_reps = ctx.pick(2, 1)
    for rep in range(reps):
        for arm in arms if rep % 2 == 0 else arms[::-1]:
            if arm == "prefect" and len(runs[arm]) >= ref_reps:
                continue
            python = ctx.reference_python if arm == "prefect" else ctx.python
            got = run_worker(ctx, python, "concurrent", {"impl": arm, "count": count, "seconds": seconds})
            runs[arm].append(got)
    failures = [
        f"{arm}: {r['ok']}/{r['count']} ok" for arm in arms for r in runs[arm] if r["ok"] != r["count"]
    ]
    what = f"{count} concurrent `sleep {seconds:g}` runs from one process"
    wall = _row(
        "concurrency",
        f"{what}: wall time",
        "bare `anyio.run_process`",
        "<= 1.1x",
        1.1,
        {
            "launchbay": [r["wall"] for r in runs["launchbay"]],
            "baseline": [r["wall"] for r in runs["anyio"]],
            "reference": [r["wall"] for r in runs.get("prefect", [])],
            "reference_baseline": [],
        },
    )
    wall.note = "; ".join(failures)
    if failures:
        wall.met = False
    threads = Row(
        "concurrency",
        f"{what}: peak threads",
        "bare `anyio.run_process`",
        "threads",
        "<= 10",
        ratio_wanted=False,
    )
    threads.launchbay = max(r["peak_threads"] for r in runs["launchbay"])
    threads.baseline = max(r["peak_threads"] for r in runs["anyio"])
    if runs.get("prefect"):
        threads.reference = max(r["peak_threads"] for r in runs["prefect"])
    threads.met = threads.launchbay <= 10
    threads.note = (
        "the baseline's threads are asyncio's child watcher, one per child "
        f"(Python {sys.version_info.major}.{sys.version_info.minor})"
    )
    return [wall, threads]


def _row(
    key: str,
    what: str,
    baseline_name: str,
    target: str,
    limit: float | None,
    samples: dict[str, list[float]],
    ref_what: str = "",
) -> Row:
    row = Row(key, what, baseline_name, "s", target)
    row.samples = samples
    row.launchbay = median(samples.get("launchbay", []))
    row.baseline = median(samples.get("baseline", []))
    row.reference = median(samples.get("reference", []))
    row.reference_baseline = median(samples.get("reference_baseline", []))
    if limit is not None and row.ratio is not None:
        row.met = row.ratio <= limit
    if ref_what:
        row.note = f"reference: {ref_what}"
    return row
