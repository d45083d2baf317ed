"""The reference, Prefect 2.20, in a virtual environment of its own
(bench/.venv-prefect), created on first use."""

from __future__ import annotations

import subprocess
import sys

from bench.harness import BENCH, log

VENV = BENCH / ".venv-prefect"
# docker and kubernetes: Prefect 2's DockerContainer and KubernetesJob need them.
REQUIREMENTS = ["prefect==2.20.26", "docker", "kubernetes"]
_READY = VENV / ".installed"


def reference_python(create: bool) -> tuple[str | None, str]:
    """(interpreter, "") when the reference is there, else (None, why not)."""
    python = VENV / "bin" / "python"
    if _READY.exists() and python.exists():
        return str(python), ""
    if not create:
        return None, "not installed (a full `bench/run` installs it once)"
    log(
        f"one-time install of the reference into {VENV}: pip install {' '.join(REQUIREMENTS)} (a few minutes)"
    )
    base = getattr(sys, "_base_executable", sys.executable)
    try:
        if not python.exists():
            subprocess.run([base, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS], check=True)
        subprocess.run([str(python), "-c", "import prefect.infrastructure"], check=True, capture_output=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        return None, f"install failed ({exc}); see the output above"
    _READY.write_text(" ".join(REQUIREMENTS) + "\n")
    return str(python), ""


def reference_version(python: str) -> str:
    got = subprocess.run(
        [python, "-c", "import prefect; print(prefect.__version__)"], capture_output=True, text=True
    )
    return got.stdout.strip() or "?"
