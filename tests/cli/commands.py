"""The installed ``launchbay`` command, run as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

LAUNCHBAY = shutil.which("launchbay") or str(Path(sys.executable).parent / "launchbay")


def launchbay(*args: str, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LAUNCHBAY, *args], capture_output=True, text=True, input=input, timeout=timeout, env={**os.environ}
    )
