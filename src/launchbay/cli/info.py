"""``launchbay info``: what launchbay would use here, and with which guarantees."""

from __future__ import annotations

import json
import os
import platform
import sys
from typing import Any

import typer


def _docker() -> dict[str, Any]:
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            version = client.version()
        finally:
            client.close()
    except Exception as exc:
        return {"reachable": False, "error": str(exc).splitlines()[0][:200]}
    return {
        "reachable": True,
        "version": version.get("Version"),
        "api_version": version.get("ApiVersion"),
        "host": os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
    }


def _kubernetes() -> dict[str, Any]:
    try:
        from kubernetes import client, config

        api_client = config.new_client_from_config()
        try:
            version = client.VersionApi(api_client).get_code(_request_timeout=3)
        finally:
            api_client.close()
    except Exception as exc:
        return {
            "reachable": False,
            "error": str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
        }
    return {"reachable": True, "version": version.git_version}


def collect(engines: bool = True) -> dict[str, Any]:
    from launchbay import __version__
    from launchbay._internal.process.runner import containment_in_effect

    try:
        containment = containment_in_effect()
    except Exception as exc:
        containment = f"unavailable: {exc}"
    facts: dict[str, Any] = {
        "launchbay": __version__,
        "python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        "platform": platform.platform(),
        "containment": containment,
        "containment_setting": os.environ.get("LAUNCHBAY_CONTAINMENT", "auto"),
    }
    if engines:
        facts["docker"] = _docker()
        facts["kubernetes"] = _kubernetes()
    return facts


_GUARANTEES = {
    "cgroup-v2": "every descendant is in the run's cgroup: kill, cancel, signals and timeouts stop all of them",
    "cgroup-v1": "every descendant is in the run's freezer cgroup: frozen, killed and thawed as one",
    "session": "the run's session, group, descendants and marked processes are stopped; a process "
    "that scrubs its environment and leaves the tree can escape",
}


def info(
    as_json: bool = typer.Option(False, "--json", help="Print the facts as JSON."),
    no_engines: bool = typer.Option(False, "--no-engines", help="Do not ask Docker and Kubernetes."),
) -> None:
    """Show launchbay's version, Python, the process containment in effect and the engines found."""
    facts = collect(engines=not no_engines)
    if as_json:
        print(json.dumps(facts, indent=2))
        return
    print(f"launchbay:    {facts['launchbay']}")
    print(f"python:       {facts['python']}")
    print(f"platform:     {facts['platform']}")
    mechanism = facts["containment"]
    print(f"containment:  {mechanism} (LAUNCHBAY_CONTAINMENT={facts['containment_setting']})")
    if mechanism in _GUARANTEES:
        print(f"              {_GUARANTEES[mechanism]}")
    for engine in ("docker", "kubernetes"):
        if engine not in facts:
            continue
        found = facts[engine]
        if found["reachable"]:
            print(f"{engine + ':':<13} {found['version']}")
        else:
            print(f"{engine + ':':<13} not reachable ({found['error']})")
