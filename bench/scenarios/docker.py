"""Docker: `DockerContainer(image, command=["true"]).run()` vs the `docker` CLI
and docker-py, and the API requests each makes (counted by a proxy socket)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.countingproxy import CountingProxy
from bench.harness import Context, Row, Skip, median, run_worker, worker_environment

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
