"""Pull progress (SPEC 15): the engine's messages read into layers and bytes,
shown as a live bar on a terminal, plain lines otherwise, nothing under -q."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest

from launchbay._internal.docker import progress

IMAGE = "127.0.0.1:5055/app:v1"
# What the engine sent for a pull of a two-layer image, one layer already present.
MESSAGES: list[dict[str, Any]] = [
    {"status": "Pulling from app", "id": "v1"},
    {"status": "Already exists", "progressDetail": {}, "id": "516d65e9b815"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "60899170ca1a"},
    {"status": "Downloading", "progressDetail": {"current": 36445, "total": 3001127}, "id": "60899170ca1a"},
    {"status": "Verifying Checksum", "progressDetail": {}, "id": "60899170ca1a"},
    {"status": "Download complete", "progressDetail": {}, "id": "60899170ca1a"},
    {"status": "Extracting", "progressDetail": {"current": 32768, "total": 3001127}, "id": "60899170ca1a"},
    {"status": "Pull complete", "progressDetail": {}, "id": "60899170ca1a"},
    {"status": "Digest: sha256:6d29"},
    {"status": "Status: Downloaded newer image for 127.0.0.1:5055/app:v1"},
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_layers_and_bytes_as_the_pull_goes() -> None:
    pull = progress.PullProgress(IMAGE)
    for message in MESSAGES[:4]:
        pull.update(message)
    assert (pull.layers_done, len(pull.layers), pull.downloaded, pull.size) == (1, 2, 36445, 3001127)
    assert pull.summary() == "1/2 layers, 36.45 kB of 3.001 MB"
    for message in MESSAGES[4:]:
        pull.update(message)
    assert pull.summary() == "2/2 layers, 3.001 MB of 3.001 MB"


def test_an_image_already_present_downloads_nothing() -> None:
    pull = progress.PullProgress(IMAGE)
    pull.update({"status": "Already exists", "id": "a"})
    pull.update({"status": "Status: Image is up to date for x"})
    assert pull.summary() == "1/1 layers"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (36450, "36.45 kB"),
        (3001127, "3.001 MB"),
        (10**9, "1 GB"),
        (2 * 10**12, "2000 GB"),
    ],
)
def test_sizes_in_decimal_units_as_docker_writes_them(size: int, text: str) -> None:
    assert progress.human_size(size) == text


def test_plain_lines_every_few_seconds_then_a_closing_line(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("launchbay.test-pull")
    caplog.set_level(logging.INFO, logger.name)
    clock = FakeClock()
    lines = progress.PlainLines(IMAGE, logger, interval=5, clock=clock)
    lines.update(MESSAGES[3])
    assert caplog.messages == []  # not yet: the first line after the interval
    clock.now = 5
    lines.update(MESSAGES[3])
    clock.now = 6
    lines.update(MESSAGES[5])  # within the next interval: no line
    lines.finish(succeeded=True)
    assert caplog.messages == [
        f"Pulling image {IMAGE!r}: 0/1 layers, 36.45 kB of 3.001 MB",
        f"Pulled image {IMAGE!r}: 0/1 layers, 3.001 MB of 3.001 MB",
    ]


def test_a_failed_pull_has_no_closing_line(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("launchbay.test-pull")
    caplog.set_level(logging.INFO, logger.name)
    lines = progress.PlainLines(IMAGE, logger)
    lines.update(MESSAGES[3])
    lines.finish(succeeded=False)
    assert caplog.messages == []


def test_the_reporter_for_where_it_is_shown() -> None:
    logger = logging.getLogger("launchbay.test-pull-reporter")
    logger.setLevel(logging.WARNING)  # as under -q
    assert isinstance(progress.reporter_for(IMAGE, logger, Terminal()), progress.Silent)
    logger.setLevel(logging.INFO)
    assert isinstance(progress.reporter_for(IMAGE, logger, io.StringIO()), progress.PlainLines)
    assert isinstance(progress.reporter_for(IMAGE, logger, Terminal()), progress.TerminalBar)


def test_a_live_bar_on_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("launchbay.test-pull-bar")
    caplog.set_level(logging.INFO, logger.name)
    terminal = Terminal()
    bar = progress.TerminalBar(IMAGE, logger, terminal)
    for message in MESSAGES:
        bar.update(message)
    bar.finish(succeeded=True)
    shown = terminal.getvalue()
    assert f"Pulling {IMAGE}" in shown and "2/2 layers" in shown and "3.0/3.0 MB" in shown
    assert caplog.messages == [f"Pulled image {IMAGE!r}: 2/2 layers, 3.001 MB of 3.001 MB"]
