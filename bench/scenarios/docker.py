"""Docker: `DockerContainer(image, command=["true"]).run()` vs the `docker` CLI
and docker-py, and the API requests each makes (counted by a proxy socket)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.countingproxy import CountingProxy
from bench.harness import Context, Row, Skip, median, mid, run_worker, worker_environment

IMAGE = os.environ.get("LAUNCHBAY_TEST_DOCKER_IMAGE", "launchbay-test/busybox:1.35")


def docker_cli() -> str:
    # Debian's client matches Debian's engine (scripts/services/docker.sh).
    if os.path.exists("/usr/bin/docker"):
        return "/usr/bin/docker"
    found = shutil.which("docker")
    if not found:
        raise Skip("no docker CLI")
    return found


def _check(ctx: Context) -> str:
    cli = docker_cli()
    up = subprocess.run([cli, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if up.returncode != 0:
        raise Skip("no Docker Engine answers (scripts/services/docker.sh starts one)")
    if subprocess.run([cli, "image", "inspect", IMAGE], capture_output=True).returncode != 0:
        raise Skip(f"test image {IMAGE} is missing (scripts/services/docker.sh builds it)")
    probe = subprocess.run(
        [ctx.python, "-c", "from launchbay import DockerContainer"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        raise Skip(
            "launchbay.DockerContainer is not importable yet: " + probe.stderr.strip().splitlines()[-1]
        )
    return cli


def _docker_socket() -> str:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        raise Skip(f"request counting needs a unix-socket DOCKER_HOST, not {host}")
    return host[len("unix://") :]


def _cleanup(cli: str) -> None:
    ids = subprocess.run(
        [cli, "ps", "-aq", "--filter", "label=launchbay-bench=1"], capture_output=True, text=True
    ).stdout.split()
    if ids:
        subprocess.run([cli, "rm", "-f", *ids], capture_output=True)


def docker_run(ctx: Context) -> list[Row]:
    cli = _check(ctx)
    n = ctx.pick(12, 2)
    base_args = {"image": IMAGE, "cli": cli, "n": n}
    try:
        lb = run_worker(
            ctx, ctx.python, "docker_time", {**base_args, "arms": ["launchbay", "cli", "docker-py"]}
        )
        ref: dict[str, list[float]] = {}
        if ctx.reference_python:
            ref = run_worker(
                ctx,
                ctx.reference_python,
                "docker_time",
                {**base_args, "arms": ["prefect", "cli"], "n": max(2, n // 2)},
            )
        counts = _count_requests(ctx, cli)
    finally:
        _cleanup(cli)

    timing = Row("docker", "Docker `run()` of `true`", "`docker run --rm` CLI", "s", "<= 1.0x")
    timing.samples = {
        "launchbay": lb["launchbay"],
        "baseline": lb["cli"],
        "docker-py": lb["docker-py"],
        "reference": ref.get("prefect", []),
        "reference_baseline": ref.get("cli", []),
    }
    timing.launchbay, timing.baseline = median(lb["launchbay"]), median(lb["cli"])
    timing.reference, timing.reference_baseline = median(ref.get("prefect", [])), median(ref.get("cli", []))
    timing.met = timing.ratio is not None and timing.ratio <= 1.0
    docker_py = median(lb["docker-py"])
    timing.note = f"docker-py `containers.run(remove=True)`: {docker_py * 1000:.0f} ms ({docker_py / timing.baseline:.2f}x)"

    requests = Row(
        "docker",
        "Docker `run()` of `true`: API requests",
        "`docker run --rm` CLI",
        "requests",
        "<= 5 requests",
        ratio_wanted=False,
    )
    requests.launchbay = counts.get("launchbay")
    requests.baseline = counts.get("cli")
    requests.reference = counts.get("prefect")
    requests.met = requests.launchbay is not None and requests.launchbay <= 5
    firsts = ", ".join(
        f"{name} {counts[name + '-first']}"
        for name in ("launchbay", "cli", "docker-py", "prefect")
        if name + "-first" in counts
    )
    requests.note = (
        f"a second run in the same process; the first run in a process makes: {firsts}. Requests: "
        + "; ".join(
            f"{name}: {' '.join(paths)}"
            for name, paths in counts.get("paths", {}).items()
            if not name.endswith("-first")
        )
    )
    return [timing, requests]


def _count_requests(ctx: Context, cli: str) -> dict:
    upstream = _docker_socket()
    path = os.path.join(tempfile.mkdtemp(prefix="bench-docker-"), "docker.sock")
    counts: dict = {"paths": {}}
    with CountingProxy.for_unix_socket(path, upstream) as proxy:
        env = worker_environment({"DOCKER_HOST": f"unix://{path}"})
        args = {"image": IMAGE, "cli": cli, "proxy_socket": path}
        run_worker(
            ctx, ctx.python, "docker_count", {**args, "arms": ["launchbay", "cli", "docker-py"]}, env=env
        )
        if ctx.reference_python:
            run_worker(ctx, ctx.reference_python, "docker_count", {**args, "arms": ["prefect"]}, env=env)
    for name, requests in proxy.counter.marks.items():
        counts[name] = len(requests)
        counts["paths"][name] = [f"{r.method} {_short(r.path)}" for r in requests]
    Path(path).parent.joinpath("docker.sock").unlink(missing_ok=True)
    return counts


def _short(path: str) -> str:
    """/v1.41/containers/abc123.../wait?x -> /containers/{id}/wait"""
    parts = path.split("?", maxsplit=1)[0].split("/")
    if len(parts) > 1 and parts[1].startswith("v1."):
        parts = parts[:1] + parts[2:]
    parts = ["{id}" if len(p) >= 32 and all(c in "0123456789abcdef" for c in p) else p for p in parts]
    return "/".join(parts)


# --- scale: hundreds of containers at once -------------------------------------------------------


def docker_scale(ctx: Context) -> list[Row]:
    """200 concurrent `DockerContainer(..., command=["sleep", "2"]).run()` in
    one process vs 200 concurrent `docker run --rm`; then the same runs
    through the counting proxy: API requests per run, events streams."""
    cli = _check(ctx)
    count, seconds = ctx.pick((200, 2), (10, 1))
    base_args = {"image": IMAGE, "cli": cli, "count": count, "seconds": seconds}
    runs: dict[str, list[dict]] = {"launchbay": [], "cli": []}
    try:
        arms = ["cli", "launchbay"]
        for rep in range(ctx.pick(2, 1)):
            for arm in arms if rep % 2 == 0 else arms[::-1]:
                runs[arm].append(
                    run_worker(ctx, ctx.python, "docker_scale", {**base_args, "impl": arm}, timeout=900)
                )
        counts = _count_scale_requests(ctx, base_args)
    finally:
        _cleanup(cli)

    failures = [
        f"{arm}: {r['ok']}/{r['count']} exited 0 (codes {r['statuses']})"
        for arm in runs
        for r in runs[arm]
        if r["ok"] != r["count"]
    ]
    what = f"{count} concurrent Docker runs of `sleep {seconds:g}`"
    wall = Row("scale", f"{what}: wall time", f"{count} concurrent `docker run --rm`", "s", "<= 1.0x")
    wall.samples = {
        "launchbay": [r["wall"] for r in runs["launchbay"]],
        "baseline": [r["wall"] for r in runs["cli"]],
    }
    wall.launchbay, wall.baseline = median(wall.samples["launchbay"]), median(wall.samples["baseline"])
    wall.met = wall.ratio is not None and wall.ratio <= 1.0 and not failures
    wall.note = (
        f"all exited 0: {'no: ' + '; '.join(failures) if failures else 'yes'}; peak threads: launchbay "
        f"{max(r['peak_threads'] for r in runs['launchbay'])}; event-loop lag p99 "
        f"{mid([r['lag_p99'] for r in runs['launchbay']]) * 1000:.0f} ms"
    )

    lb, by_cli = counts.get("launchbay", {}), counts.get("cli", {})
    requests = Row(
        "scale",
        f"{what}: API requests per run (after a first run in the process)",
        f"{count} concurrent `docker run --rm`",
        "requests",
        "<= 3 requests",
        ratio_wanted=False,
    )
    requests.launchbay = lb.get("per_run")
    requests.baseline = by_cli.get("per_run")
    streams = lb.get("events", 0)
    requests.met = requests.launchbay is not None and requests.launchbay <= 3 and streams <= 1
    requests.note = (
        f"events streams opened by launchbay for the {count} runs: {streams} (target: one, opened by the warm run "
        f"and shared: {lb.get('events_total', '?')} in the whole worker process); requests by kind: "
        + ", ".join(f"{path} {n}" for path, n in sorted(lb.get("kinds", {}).items(), key=lambda kv: -kv[1]))
        + "; the CLI's: "
        + ", ".join(
            f"{path} {n}" for path, n in sorted(by_cli.get("kinds", {}).items(), key=lambda kv: -kv[1])
        )
    )
    return [wall, requests]


def _count_scale_requests(ctx: Context, base_args: dict) -> dict[str, dict]:
    upstream = _docker_socket()
    path = os.path.join(tempfile.mkdtemp(prefix="bench-docker-scale-"), "docker.sock")
    result: dict[str, dict] = {}
    with CountingProxy.for_unix_socket(path, upstream) as proxy:
        env = worker_environment({"DOCKER_HOST": f"unix://{path}"})
        whole: dict[str, list] = {}
        for arm in ("launchbay", "cli"):
            before = len(proxy.counter.requests)
            run_worker(
                ctx,
                ctx.python,
                "docker_scale",
                {**base_args, "impl": arm, "proxy_socket": path},
                env=env,
                timeout=900,
            )
            whole[arm] = proxy.counter.requests[before:]
    for arm in ("launchbay", "cli"):
        marked = proxy.counter.marks.get(arm, [])
        kinds: dict[str, int] = {}
        for request in marked:
            key = f"{request.method} {_short(request.path)}"
            kinds[key] = kinds.get(key, 0) + 1
        result[arm] = {
            "per_run": len(marked) / base_args["count"],
            "events": sum(1 for r in marked if _short(r.path).startswith("/events")),
            "kinds": kinds,
        }
    result["launchbay"]["events_total"] = sum(
        1 for r in whole["launchbay"] if _short(r.path).startswith("/events")
    )
    Path(path).unlink(missing_ok=True)
    return result
