"""bench/run [--quick] [--only NAME...] [--no-reference] [--list]

Measures launchbay against its baselines and the reference (Prefect 2.20) in
one run on this machine, alternating them, and prints a markdown table of
medians and ratios; also written to bench/results/latest.md and latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench.harness import RESULTS, ROOT, Context, Row, Skip, log
from bench.reference import reference_python, reference_version
from bench.report import markdown
from bench.scenarios import docker, kubernetes, process, scale

SCENARIOS: dict[str, tuple[Callable[[Context], list[Row]], str]] = {
    "import": (process.import_time, "`import launchbay` vs `import subprocess`"),
    "cli": (process.cli_run, "`launchbay run -- true` whole process"),
    "per-run": (process.per_run, "in-process Process.run() per run"),
    "relay": (process.relay, "relaying 1 GiB of output"),
    "kill": (process.kill, "kill() latency"),
    "concurrency": (process.concurrency, "1000 concurrent runs: wall time and threads"),
    "docker": (docker.docker_run, "DockerContainer.run() vs docker CLI and docker-py; API requests"),
    "kubernetes": (kubernetes.kubernetes_run, "KubernetesJob: completion latency, requests, watches"),
    "scale-process": (
        scale.scale_process,
        "10,000 concurrent runs from one process vs a Popen + waitpid floor",
    ),
    "scale-output": (scale.scale_output, "10,000 runs with stream_output=True writing 100 lines each"),
    "scale-docker": (
        docker.docker_scale,
        "200 concurrent Docker runs vs docker run --rm; requests, events streams",
    ),
    "scale-kubernetes": (
        kubernetes.kubernetes_scale,
        "100 concurrent Jobs vs kubectl; requests, watches, completion",
    ),
    "scale-records": (
        scale.scale_records,
        "launchbay ps -a over 10,000 run records; store writes and the loop",
    ),
}
# Names that stand for several scenarios in --only.
GROUPS: dict[str, list[str]] = {"scale": [name for name in SCENARIOS if name.startswith("scale-")]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[1])
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: small sizes, few repetitions (< 1 minute)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        choices=[*SCENARIOS, *GROUPS],
        help="run only these scenarios (scale: every scale-* scenario)",
    )
    parser.add_argument("--no-reference", action="store_true", help="leave out Prefect 2.20 (no install)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument(
        "--results",
        metavar="DIR",
        type=Path,
        default=RESULTS,
        help=f"where to write latest.md, latest.json and the workers' logs (default: {RESULTS})",
    )
    options = parser.parse_args(argv)
    if options.list:
        for name, (_, description) in SCENARIOS.items():
            print(f"{name:17} {description}")
        for name, members in GROUPS.items():
            print(f"{name:17} {', '.join(members)}")
        return 0

    if options.no_reference:
        ref, ref_note = None, "left out (--no-reference)"
    else:
        # A quick run uses the reference when it is installed; a full run installs it.
        ref, ref_note = reference_python(create=not options.quick)
    results: Path = options.results
    ctx = Context(
        quick=options.quick,
        python=sys.executable,
        reference_python=ref,
        reference_note=ref_note,
        log_dir=results,
    )
    results.mkdir(parents=True, exist_ok=True)
    for stale in results.glob("*.log"):
        stale.unlink()

    _compile_bytecode(ctx)
    started = time.time()
    rows: list[Row] = []
    skipped: dict[str, str] = {}
    chosen = [member for name in options.only or SCENARIOS for member in GROUPS.get(name, [name])]
    for name in dict.fromkeys(chosen):
        function, description = SCENARIOS[name]
        log(f"{name}: {description}")
        t0 = time.perf_counter()
        try:
            rows += function(ctx)
        except Skip as exc:
            skipped[name] = f"skipped: {exc}"
            log(f"{name}: {skipped[name]}")
        except Exception as exc:
            skipped[name] = f"failed: {str(exc).strip().splitlines()[0][:300]}"
            log(f"{name}: {skipped[name]}\n{traceback.format_exc()}")
        log(f"{name}: {time.perf_counter() - t0:.1f}s")

    meta = _machine(ctx, options, time.time() - started)
    table = markdown(rows, skipped, meta)
    print(table)
    (results / "latest.md").write_text(table)
    (results / "latest.json").write_text(
        json.dumps({"meta": meta, "rows": [row.as_json() for row in rows], "skipped": skipped}, indent=2)
    )
    log(f"written: {results / 'latest.md'} and latest.json")
    return 0


def _compile_bytecode(ctx: Context) -> None:
    """Write launchbay's bytecode first, as installing a package does: with
    PYTHONDONTWRITEBYTECODE set (as on the development machine) and a source
    checkout, every measured start would otherwise compile the modules that
    have none yet, which no installed copy does."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(
        [ctx.python, "-m", "compileall", "-q", str(ROOT / "src" / "launchbay")],
        env=env,
        stdout=subprocess.DEVNULL,
        check=False,
    )


def _machine(ctx: Context, options: argparse.Namespace, seconds: float) -> dict[str, str]:
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "src"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "mode": "quick" if options.quick else "full",
        "commit": commit + ("+changes" if dirty else ""),
        "python": platform.python_version(),
        "cpus": str(os.cpu_count()),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "kernel": platform.release(),
        "reference": f"Prefect {reference_version(ctx.reference_python)}"
        if ctx.reference_python
        else ctx.reference_note,
        "seconds": f"{seconds:.0f}",
    }


if __name__ == "__main__":
    raise SystemExit(main())
