"""The record writer thread: writes in order, and no thread left once idle."""

from __future__ import annotations

import functools
import threading
import time
from pathlib import Path

import pytest

from launchbay._internal.records import writer
from launchbay._internal.records.store import open_record_store


def _writer_threads() -> int:
    return sum(thread.name == "launchbay-records" for thread in threading.enumerate())


def test_the_writer_thread_ends_when_idle_and_a_new_write_starts_another(
    launchbay_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "IDLE_SECONDS", 0.05)
    before = _writer_threads()
    store_writer = writer.writer_for(open_record_store())
    done: list[int] = []

    def note(value: int) -> int:
        done.append(value)
        return value

    for value in range(3):
        assert store_writer.call_blocking(functools.partial(note, value)) == value
    assert done == [0, 1, 2]  # in the order asked for
    deadline = time.monotonic() + 5
    while _writer_threads() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _writer_threads() == before
    assert store_writer.call_blocking(lambda: "again") == "again"
