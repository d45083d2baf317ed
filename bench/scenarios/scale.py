"""Scale: ten thousand concurrent process runs from one supervisor (with the
cgroup containment ``auto`` picks here, and with ``session``), ten thousand
runs relaying output, and ``launchbay ps -a`` over ten thousand run records.

Each process row compares launchbay with the floor measured in the same run:
the same children started with ``subprocess.Popen`` and reaped by one
``os.waitpid(-1)`` loop (bare ``anyio.run_process`` is in the notes). The
Docker and Kubernetes rows of the scale issue live beside their kinds
(``docker.docker_scale``, ``kubernetes.kubernetes_scale``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import Context, Row, Skip, log, median, mid, run_worker, worker_environment


def _containment_label(mechanism: str) -> str:
    return {"auto": "auto: cgroup v2 here", "session": "session, no cgroup"}.get(mechanism, mechanism)


def _in_effect(ctx: Context, setting: str) -> str:
    """The containment ``setting`` resolves to on this machine."""
    got = subprocess.run(
        [
            ctx.python,
            "-c",
            "from launchbay._internal.process import runner; print(runner.containment_in_effect())",
        ],
        capture_output=True,
        text=True,
        env=worker_environment({"LAUNCHBAY_CONTAINMENT": setting}),
    )
    if got.returncode != 0:
        raise RuntimeError(f"LAUNCHBAY_CONTAINMENT={setting}: {got.stderr.strip()[-300:]}")
    return got.stdout.strip()


def scale_process(ctx: Context) -> list[Row]:
    """10,000 concurrent `sleep 5` runs from one process, per containment,
    against the Popen + waitpid(-1) floor."""
    count, seconds = ctx.pick((10_000, 5), (300, 1))
    rows: list[Row] = []
    anyio_runs: list[dict[str, Any]] = []
    pidfd_runs: list[dict[str, Any]] = []

    def one(impl: str, env: dict[str, str] | None = None, timeout: float = 1800) -> dict[str, Any]:
        args = {"impl": impl, "count": count, "seconds": seconds}
        return run_worker(ctx, ctx.python, "scale_process", args, env=env, timeout=timeout, sample_every=0.1)

    for setting, reps in (("auto", ctx.pick(2, 1)), ("session", 1)):
        mechanism = _in_effect(ctx, setting)
        env = worker_environment({"LAUNCHBAY_CONTAINMENT": setting})
        runs: dict[str, list[dict[str, Any]]] = {"floor": [], "launchbay": []}
        arms = ["floor", "launchbay"]
        for rep in range(reps):
            for arm in arms if rep % 2 == 0 else arms[::-1]:
                got = one(arm, env=env, timeout=3600)
                runs[arm].append(got)
                log(f"scale-process {setting} {arm}: {_brief(got)}")
        if not anyio_runs:
            anyio_runs.append(one("anyio"))
            log(f"scale-process anyio: {_brief(anyio_runs[0])}")
        if not pidfd_runs:
            pidfd_runs += [one("floor"), one("pidfd-loop")]
            log(f"scale-process floor, pidfd-loop: {_brief(pidfd_runs[0])}; {_brief(pidfd_runs[1])}")
            rows.append(_least_loop_row(count, seconds, *pidfd_runs))
        rows += _process_rows(count, seconds, mechanism, runs, anyio_runs[0])
    return rows


def _least_loop_row(count: int, seconds: float, floor: dict[str, Any], least: dict[str, Any]) -> Row:
    """What the <= 1.1x target leaves to supervise with: the least an event
    loop can do per run (own session, one pidfd watched), against the floor
    run just before it. Its "launchbay" column is that loop, not launchbay."""
    row = Row(
        "scale",
        f"{count:,} concurrent `sleep {seconds:g}` runs: the least an event loop can do per run "
        "(a session and a pidfd each; no containment, registry, directory or result)",
        "`subprocess.Popen` + one `os.waitpid(-1)` loop",
        "s",
        "report (the room a <= 1.1x target leaves)",
    )
    row.samples = {"launchbay": [least["wall"]], "baseline": [floor["wall"]]}
    row.launchbay, row.baseline = least["wall"], floor["wall"]
    row.met = None
    row.note = (
        "the launchbay column here is that minimal loop (bench/worker_scale.py `_pidfd_loop`); "
        "every child copies the parent's descriptor table at vfork and closes it at exec, so "
        "a pidfd per running run makes each start slower as runs pile up; "
        f"all exited 0: {'yes' if least['ok'] == least['count'] and floor['ok'] == floor['count'] else 'no'}"
    )
    return row


def peak(got: dict[str, Any], what: str) -> int:
    """The larger of a worker's own sample and the bench's view from outside
    (``threads`` or ``fds``)."""
    return max(int(got.get(f"peak_{what}", 0)), int(got.get(f"outside_peak_{what}", 0)))


def _errors(got: dict[str, Any]) -> str:
    errors: dict[str, int] = got.get("errors") or {}
    return "".join(f" ({n} runs: {text})" for text, n in errors.items())


def _brief(got: dict[str, Any]) -> str:
    keys = (
        "wall",
        "ok",
        "count",
        "peak_threads",
        "outside_peak_threads",
        "outside_peak_fds",
        "rss_growth_kb",
        "lag_p99",
        "lag_max",
        "errors",
    )
    return ", ".join(
        f"{k}={got[k]:.3g}" if isinstance(got.get(k), float) else f"{k}={got.get(k)}"
        for k in keys
        if k in got
    )


def _process_rows(
    count: int,
    seconds: float,
    mechanism: str,
    runs: dict[str, list[dict[str, Any]]],
    bare: dict[str, Any],
) -> list[Row]:
    what = f"{count:,} concurrent `sleep {seconds:g}` runs from one process ({mechanism})"
    floor_name = "`subprocess.Popen` + one `os.waitpid(-1)` loop"
    lb, floor = runs["launchbay"], runs["floor"]
    failures = [
        f"{arm}: {r['ok']}/{r['count']} exited 0{_errors(r)}"
        for arm in runs
        for r in runs[arm]
        if r["ok"] != r["count"]
    ]
    if bare["ok"] != bare["count"]:
        failures.append(f"anyio.run_process: {bare['ok']}/{bare['count']} exited 0")

    wall = Row("scale", f"{what}: wall time", floor_name, "s", "<= 1.1x")
    wall.samples = {"launchbay": [r["wall"] for r in lb], "baseline": [r["wall"] for r in floor]}
    wall.launchbay, wall.baseline = median(wall.samples["launchbay"]), median(wall.samples["baseline"])
    wall.met = wall.ratio is not None and wall.ratio <= 1.1 and not failures
    spawn = median([r["spawned"] for r in floor])
    notes = [
        f"bare `anyio.run_process` beside it: {bare['wall']:.2f} s "
        f"({bare['wall'] / wall.baseline:.2f}x the floor, {peak(bare, 'threads')} threads)",
        f"the floor's Popen loop took {spawn:.2f} s to start them all",
        f"launchbay's first run returned {mid([r['first_done'] for r in lb]):.2f} s after the first start",
        f"all runs exited 0: {'no: ' + '; '.join(failures) if failures else 'yes'}",
    ]
    wall.note = "; ".join(notes)

    threads = Row("scale", f"{what}: peak threads", floor_name, "threads", "<= 10", ratio_wanted=False)
    threads.launchbay = max(peak(r, "threads") for r in lb)
    threads.baseline = max(peak(r, "threads") for r in floor)
    threads.met = threads.launchbay <= 10
    threads.note = (
        f"peak open file descriptors: launchbay {max(peak(r, 'fds') for r in lb)}, "
        f"the floor {max(peak(r, 'fds') for r in floor)} (soft limit raised to "
        f"{lb[0].get('open_file_limit')} by `launchbay.raise_open_file_limit()`)"
    )

    rss = Row(
        "scale", f"{what}: RSS growth per concurrent run", floor_name, "KiB", "report", ratio_wanted=False
    )
    rss.launchbay = median([r["rss_growth_kb"] / r["count"] for r in lb])
    rss.baseline = median([r["rss_growth_kb"] / r["count"] for r in floor])
    rss.note = (
        f"peak RSS growth over the process before the runs: launchbay {mid([r['rss_growth_kb'] for r in lb]) / 1024:.0f} MiB, "
        f"the floor {mid([r['rss_growth_kb'] for r in floor]) / 1024:.0f} MiB"
    )

    lag = Row(
        "scale",
        f"{what}: event-loop lag, p99",
        "bare `anyio.run_process`",
        "s",
        "report",
        ratio_wanted=False,
    )
    lag.launchbay = median([r["lag_p99"] for r in lb if r.get("lag_p99") is not None])
    lag.baseline = bare.get("lag_p99")
    lag.note = (
        "a task sleeping 10 ms, woken late by that much (samples over the whole run); "
        f"max: launchbay {max(r['lag_max'] or 0 for r in lb):.2f} s, anyio {bare.get('lag_max') or 0:.2f} s"
    )
    return [wall, threads, rss, lag]


def scale_output(ctx: Context) -> list[Row]:
    """10,000 runs with stream_output=True, each writing 100 lines: to our
    stdout, a file (launchbay hands the children its descriptor), and to a
    stream with no descriptor (launchbay copies every pipe); the floor is
    the same children writing to the file."""
    count, lines = ctx.pick((10_000, 100), (300, 100))
    arms = ["floor", "launchbay", "launchbay-copy"]
    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in arms}
    for rep in range(ctx.pick(2, 1)):
        for arm in arms if rep % 2 == 0 else arms[::-1]:
            got = run_worker(
                ctx,
                ctx.python,
                "scale_output",
                {"impl": arm, "count": count, "lines": lines},
                timeout=1800,
                sample_every=0.1,
            )
            runs[arm].append(got)
            log(f"scale-output {arm}: {_brief(got)}, lines={got['lines']}/{got['expected']}")
    floor_name = "the same children (`subprocess.Popen`) writing to the file"
    rows = []
    for arm, what in (
        ("launchbay", "our stdout is a file: the children write to it"),
        ("launchbay-copy", "our stdout has no file descriptor: launchbay copies each pipe"),
    ):
        row = Row(
            "scale",
            f"{count:,} concurrent runs with `stream_output=True`, each writing {lines} lines ({what})",
            floor_name,
            "s",
            "no line lost; report",
        )
        row.samples = {
            "launchbay": [r["wall"] for r in runs[arm]],
            "baseline": [r["wall"] for r in runs["floor"]],
        }
        row.launchbay, row.baseline = median(row.samples["launchbay"]), median(row.samples["baseline"])
        problems = [
            f"{r['lines']}/{r['expected']} lines whole, {r['broken']} broken, {r['duplicated']} twice, "
            f"{r['ok']}/{r['count']} exited 0{_errors(r)}"
            for r in runs[arm] + runs["floor"]
            if r["lines"] != r["expected"] or r["broken"] or r["duplicated"] or r["ok"] != r["count"]
        ]
        row.met = not problems
        row.note = (
            "every line checked: "
            + ("; ".join(problems) if problems else f"all {count * lines:,} arrived, whole, once")
            + f"; peak threads {max(peak(r, 'threads') for r in runs[arm])}, "
            f"file descriptors {max(peak(r, 'fds') for r in runs[arm])}; "
            f"event-loop lag p99 {mid([r['lag_p99'] for r in runs[arm]]) * 1000:.0f} ms"
        )
        rows.append(row)
    return rows


# --- run records ---------------------------------------------------------------------------


def _records_available(ctx: Context) -> str | None:
    probe = subprocess.run(
        [
            ctx.python,
            "-c",
            "from launchbay._internal.records import recorder, store; import launchbay.cli.runs",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return (probe.stderr.strip().splitlines() or ["?"])[-1]
    return None


def scale_records(ctx: Context) -> list[Row]:
    """`launchbay ps -a` over 10,000 recorded runs (written through the
    recorder, three short transactions per run, as runs write them)."""
    missing = _records_available(ctx)
    if missing:
        raise Skip(f"run records are not available: {missing}")
    count = ctx.pick(10_000, 500)
    home = Path(tempfile.mkdtemp(prefix="bench-records-"))
    try:
        env = worker_environment({"LAUNCHBAY_HOME": str(home)})
        filled = run_worker(
            ctx,
            ctx.python,
            "records_fill",
            {"count": count, "concurrent": ctx.pick(1000, 100)},
            env=env,
            timeout=1800,
        )
        launchbay = str(Path(ctx.python).parent / "launchbay")
        database = filled["database"]
        query = (
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            f"rows = c.execute('SELECT * FROM {filled['table']} ORDER BY created DESC').fetchall(); "
            "print(len(rows))"
        )
        arms = {
            "ps": [launchbay, "ps", "-a"],
            "ps-json": [launchbay, "ps", "-a", "--json"],
            "ps-running": [launchbay, "ps"],
            "sqlite": [ctx.python, "-c", query, database],
        }
        samples: dict[str, list[float]] = {name: [] for name in arms}
        outputs: dict[str, int] = {}
        for rep in range(ctx.pick(10, 3)):
            names = list(arms) if rep % 2 == 0 else list(arms)[::-1]
            for name in names:
                started = time.perf_counter()
                done = subprocess.run(arms[name], capture_output=True, env=env)
                samples[name].append(time.perf_counter() - started)
                if done.returncode != 0:
                    raise RuntimeError(
                        f"{' '.join(arms[name])}: {done.stderr.decode(errors='replace')[-500:]}"
                    )
                outputs[name] = len(done.stdout.splitlines())
    finally:
        shutil.rmtree(home, ignore_errors=True)

    ps = Row(
        "scale",
        f"`launchbay ps -a` with {count:,} recorded runs, whole process",
        "`python -c` selecting every row with `sqlite3`",
        "s",
        "<= 200 ms",
        ratio_wanted=True,
    )
    ps.samples = {"launchbay": samples["ps"], "baseline": samples["sqlite"]}
    ps.launchbay, ps.baseline = median(samples["ps"]), median(samples["sqlite"])
    ps.met = ps.launchbay is not None and ps.launchbay <= 0.2
    writes = filled["write_seconds"]
    ps.note = (
        f"{outputs.get('ps', 0) - 1} lines listed; `ps -a --json` {mid(samples['ps-json']) * 1000:.0f} ms, "
        f"`ps` (running only) {mid(samples['ps-running']) * 1000:.0f} ms; "
        f"each record write (one transaction, WAL) took {mid(writes) * 1e3:.2f} ms median, "
        f"p99 {sorted(writes)[int(len(writes) * 0.99)] * 1e3:.2f} ms, "
        f"max {max(writes) * 1e3:.1f} ms, on the calling thread"
    )
    stall = Row(
        "scale",
        f"{filled['concurrent']:,} concurrent recorded `sleep 1` process runs on one event loop: event-loop lag, p99",
        "the same runs unrecorded",
        "s",
        "report (store writes off the loop)",
        ratio_wanted=False,
    )
    stall.launchbay, stall.baseline = filled["recorded"]["lag_p99"], filled["unrecorded"]["lag_p99"]
    on_loop = filled["recorded"]["store_seconds"]
    elsewhere = filled["recorded"].get("store_seconds_elsewhere", [])
    stall.note = (
        f"the store's calls on the loop's thread: {len(on_loop)}, {sum(on_loop):.2f} s in all "
        f"({sum(on_loop) / filled['concurrent'] * 1e3:.2f} ms per run, the longest {max(on_loop, default=0) * 1e3:.1f} ms); "
        f"on other threads (the store's writer): {len(elsewhere)}, {sum(elsewhere):.2f} s in all; "
        f"wall {filled['recorded']['wall']:.2f} s recorded vs {filled['unrecorded']['wall']:.2f} s unrecorded; "
        f"lag max {filled['recorded']['lag_max'] * 1000:.0f} ms vs {filled['unrecorded']['lag_max'] * 1000:.0f} ms; "
        f"{filled['recorded']['ok']}/{filled['concurrent']} exited 0; " + filled.get("how", "")
    )
    return [ps, stall]
