"""The scale scenarios: their checks (every line of output, which API requests
are shared), and a quick run of the process and record rows end to end (no
timing assertions: speed is measured, not tested)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench.__main__ import GROUPS, SCENARIOS
from bench.scenarios.kubernetes import _is_shared, _kind

from bench import worker_scale

ROOT = Path(__file__).resolve().parents[2]


def test_lines_lost_counts_every_line_whole_and_once(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    out.write_bytes(b"run 0 line 0\nrun 0 line 1\nrun 1 line 0\nrun 1 line 1\n")
    assert worker_scale.lines_lost(str(out), 2, 2) == {
        "lines": 4,
        "expected": 4,
        "broken": 0,
        "duplicated": 0,
    }
    # A line written twice, two lines interleaved into one, one missing.
    out.write_bytes(b"run 0 line 0\nrun 0 line 0\nrun 0 lirun 1 line 0\nne 1\n")
    got = worker_scale.lines_lost(str(out), 2, 2)
    assert got["lines"] == 1 and got["duplicated"] == 1 and got["broken"] == 2


def test_the_line_command_writes_what_lines_lost_expects(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    with open(out, "wb") as handle:
        for index in range(3):
            subprocess.run(worker_scale._line_command(index, 5), stdout=handle, check=True)
    assert worker_scale.lines_lost(str(out), 3, 5)["lines"] == 15


def test_lag_summary() -> None:
    lags = [0.001] * 99 + [2.0]
    got = worker_scale.lag_summary(lags)
    assert got["lag_max"] == 2.0 and got["lag_samples"] == 100
    assert got["lag_p99"] == 2.0 and got["lag_p50"] == 0.001
    assert worker_scale.lag_summary([])["lag_p99"] is None


@pytest.mark.parametrize(
    ("method", "path", "shared"),
    [
        ("GET", "/api/v1/namespaces/kube-system", True),
        ("GET", "/apis/batch/v1/namespaces/default/jobs?watch=true&resourceVersion=1", True),
        ("GET", "/api/v1/namespaces/default/pods?labelSelector=job-name", True),
        ("GET", "/api", True),
        ("GET", "/apis/batch/v1", True),
        ("POST", "/apis/batch/v1/namespaces/default/jobs", False),
        ("GET", "/api/v1/namespaces/default/pods/job-abc-x1/log?follow=true", False),
        ("GET", "/apis/batch/v1/namespaces/default/jobs/job-abc", False),
        ("DELETE", "/apis/batch/v1/namespaces/default/jobs/job-abc", False),
        # A list narrowed to one run's object is that run's request.
        ("GET", "/api/v1/namespaces/default/events?fieldSelector=involvedObject.uid%3Dabc", False),
        ("GET", "/apis/batch/v1/namespaces/default/jobs?fieldSelector=metadata.name%3Dx&watch=true", False),
    ],
)
def test_requests_shared_by_every_run_are_told_from_one_runs(method: str, path: str, shared: bool) -> None:
    assert _is_shared(method, path) is shared


def test_request_kinds_leave_names_out() -> None:
    assert (
        _kind("GET", "/api/v1/namespaces/default/pods/job-abc-x1/log?follow=true")
        == "GET /api/v1/namespaces/default/pods/{name}/log (follow=true)"
    )
    assert (
        _kind("GET", "/api/v1/namespaces/default/events?fieldSelector=involvedObject.uid%3Dabc")
        == "GET /api/v1/namespaces/default/events (involvedObject.uid=…)"
    )


def test_scale_names_every_scale_scenario() -> None:
    assert GROUPS["scale"] == [name for name in SCENARIOS if name.startswith("scale-")]
    assert {"scale-process", "scale-output", "scale-docker", "scale-kubernetes", "scale-records"} <= set(
        GROUPS["scale"]
    )


@pytest.mark.slow
def test_quick_scale_rows_for_processes_and_records(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            str(ROOT / "bench" / "run"),
            "--quick",
            "--no-reference",
            "--results",
            str(tmp_path),
            "--only",
            "scale-process",
            "scale-output",
            "scale-records",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "LAUNCHBAY_BENCH_PYTHON": sys.executable},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    written = json.loads((tmp_path / "latest.json").read_text())
    assert written["skipped"] == {}, written["skipped"]
    rows = written["rows"]
    whats = [row["what"] for row in rows]
    assert (
        sum("concurrent `sleep 1` runs from one process" in what for what in whats) == 8
    )  # 4 x 2 containments
    least = [row for row in rows if "the least an event loop can do" in row["what"]]
    assert len(least) == 1 and least[0]["launchbay"] > 0 and least[0]["baseline"] > 0
    assert "all exited 0: yes" in least[0]["note"]
    assert any("(session)" in what for what in whats)
    output_rows = [row for row in rows if "stream_output=True" in row["what"]]
    assert len(output_rows) == 2
    for row in output_rows:  # every line arrived, whole, once
        assert row["met"] is True, row["note"]
    threads = [row for row in rows if row["what"].endswith("peak threads")]
    assert threads and all(row["launchbay"] >= 1 for row in threads)
    assert any("`launchbay ps -a`" in what for what in whats)
