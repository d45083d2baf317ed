"""A detached run's log file: owner-only, bounded, read across the switch to
a new file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from launchbay._internal.records import logs


def test_the_log_is_owner_only_in_an_owner_only_directory(tmp_path: Path) -> None:
    path = logs.log_path(tmp_path / "home", "a" * 32)
    log = logs.CappedLog(path)
    log.write(b"hello\n")
    log.close()
    assert path == tmp_path / "home" / "runs" / f"{'a' * 32}.log"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert b"".join(logs.read_all(path)) == b"hello\n"


def test_a_log_keeps_at_most_two_files_and_its_latest_output(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "r.log"
    log = logs.CappedLog(path, max_bytes=100)
    written = b"".join(f"line {i:04d}\n".encode() for i in range(200))  # 2000 bytes
    for start in range(0, len(written), 7):  # pieces that straddle the switches
        log.write(written[start : start + 7])
    log.close()
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["r.log", "r.log.1"]
    assert path.stat().st_size <= 100 and logs.rotated(path).stat().st_size == 100
    kept = b"".join(logs.read_all(path))
    assert written.endswith(kept) and len(kept) > 100  # the newest output, in order
    assert stat.S_IMODE(os.stat(logs.rotated(path)).st_mode) == 0o600


def test_remove_takes_both_files(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "r.log"
    log = logs.CappedLog(path, max_bytes=10)
    log.write(b"x" * 25)
    log.close()
    logs.remove_log(str(path))
    assert list(path.parent.iterdir()) == []
    logs.remove_log(str(path))  # already gone: nothing to do
    logs.remove_log(None)


def test_a_follower_reads_everything_across_switches(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "r.log"
    log = logs.CappedLog(path, max_bytes=64)
    expected = b"".join(f"{i}\n".encode() for i in range(300))
    got: list[bytes] = []
    follower = logs.LogFollower(path)
    # Written in small pieces, read after each: a follower that keeps up
    # misses nothing, even as the file is switched every 64 bytes.
    for start in range(0, len(expected), 5):
        log.write(expected[start : start + 5])
        got.extend(follower.read_available())
    log.close()
    got.extend(follower.read_available())
    follower.close()
    assert b"".join(got) == expected
