"""The bench runs end to end in --quick mode and prints its table (no timing
assertions: speed is measured, not tested)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_bench_prints_and_writes_a_table_of_process_rows(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            str(ROOT / "bench" / "run"),
            "--quick",
            "--no-reference",
            "--results",
            str(tmp_path),
            "--only",
            "import",
            "per-run",
            "kill",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LAUNCHBAY_BENCH_PYTHON": sys.executable},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert table[0].startswith("| what | baseline |")
    body = "\n".join(table[2:])
    assert '`python -c "import launchbay"`' in body
    assert '`Process(command=["true"]).run()`' in body
    assert "`kill()`" in body
    assert "failed" not in body and "skipped" not in body
    assert (tmp_path / "latest.md").read_text().count("\n|") == len(table)
    written = json.loads((tmp_path / "latest.json").read_text())
    # per-run: the default, with working_dir, then each containment forced
    assert [row["key"] for row in written["rows"]] == ["import", *["per-run"] * 5, "kill"]
    for containment in ("cgroup-v2", "cgroup-v1", "session"):
        assert f"`LAUNCHBAY_CONTAINMENT={containment}`" in body
    for row in written["rows"]:
        assert row["launchbay"] is not None and row["launchbay"] > 0, row
    assert written["meta"]["reference"].startswith("left out")
