"""Progress of an image pull, shown as the ``docker`` CLI shows it (SPEC 15).

``PullProgress`` reads the engine's pull messages (one per layer event) into
what a person wants to know: layers done of layers, bytes downloaded of the
bytes known so far. ``reporter_for`` picks how that is shown: a live bar on a
terminal (rich, loaded only then), otherwise a plain line every few seconds,
through the logger; nothing when the logger would not show INFO (``-q``).
Both end with one line saying what was pulled.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

# How often a plain (not terminal) progress line is written while a pull lasts.
LINE_INTERVAL_SECONDS = 5.0

# The engine's per-layer statuses (the others are about the whole image).
_DONE = ("Pull complete", "Already exists")
_LAYER_STATUSES = (
    "Pulling fs layer",
    "Waiting",
    "Downloading",
    "Verifying Checksum",
    "Download complete",
    "Extracting",
    "Retrying",
    *_DONE,
)


@dataclass
class LayerProgress:
    downloaded: int = 0
    size: int = 0  # 0 until the engine says it (when the download starts)
    done: bool = False
    cached: bool = False  # already on the engine: nothing to download


class PullProgress:
    """What an image's pull messages said so far."""

    def __init__(self, image: str) -> None:
        self.image = image
        self.layers: dict[str, LayerProgress] = {}

    def update(self, message: Mapping[str, Any]) -> None:
        status = str(message.get("status") or "")
        layer_id = message.get("id")
        if not layer_id or not status.startswith(_LAYER_STATUSES):
            return
        layer = self.layers.setdefault(str(layer_id), LayerProgress())
        detail = message.get("progressDetail") or {}
        if status == "Downloading":
            layer.downloaded = int(detail.get("current") or layer.downloaded)
            layer.size = int(detail.get("total") or layer.size)
        elif status in ("Download complete", "Extracting", "Pull complete") and layer.size:
            layer.downloaded = layer.size
        elif status == "Already exists":
            layer.cached = True
        if status in _DONE:
            layer.done = True

    @property
    def layers_done(self) -> int:
        return sum(layer.done for layer in self.layers.values())

    @property
    def downloaded(self) -> int:
        return sum(layer.downloaded for layer in self.layers.values())

    @property
    def size(self) -> int:
        """Bytes to download, as far as known (a layer's size comes with its download)."""
        return sum(layer.size for layer in self.layers.values())

    def summary(self) -> str:
        """``2/3 layers, 12.3 MB of 40.1 MB``."""
        text = f"{self.layers_done}/{len(self.layers)} layers"
        if self.size:
            text += f", {human_size(self.downloaded)} of {human_size(self.size)}"
        return text


def human_size(size: int) -> str:
    """Bytes in decimal units, as the docker CLI writes them (``3.001 MB``)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.4g} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


class PullReporter(Protocol):
    """Shows a pull's progress; called from the thread that reads the pull."""

    def update(self, message: Mapping[str, Any]) -> None: ...

    def finish(self, succeeded: bool) -> None: ...


class Silent:
    """Nothing to show (the logger would not show INFO: ``-q``)."""

    def update(self, message: Mapping[str, Any]) -> None:
        pass

    def finish(self, succeeded: bool) -> None:
        pass


class PlainLines:
    """A line every ``interval`` seconds while the pull lasts, and one at the end."""

    def __init__(
        self,
        image: str,
        logger: logging.Logger,
        *,
        interval: float = LINE_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.progress = PullProgress(image)
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self.next_line = clock() + interval

    def update(self, message: Mapping[str, Any]) -> None:
        self.progress.update(message)
        now = self.clock()
        if now >= self.next_line and self.progress.layers:
            self.next_line = now + self.interval
            self.logger.info("Pulling image %r: %s", self.progress.image, self.progress.summary())

    def finish(self, succeeded: bool) -> None:
        _closing_line(self.progress, self.logger, succeeded)


class TerminalBar:
    """A live bar on the terminal while the pull lasts, then the closing line.
    rich is imported here: only when a pull is shown on a terminal."""

    def __init__(self, image: str, logger: logging.Logger, stream: IO[str]) -> None:
        self.progress = PullProgress(image)
        self.logger = logger
        self.stream = stream
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def _start(self) -> tuple[Progress, TaskID]:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[layers]} layers"),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=Console(file=self.stream),
            transient=True,  # the closing line stays, the bar goes
        )
        bar.start()
        task = bar.add_task(f"Pulling {self.progress.image}", total=None, layers="0/0")
        return bar, task

    def update(self, message: Mapping[str, Any]) -> None:
        progress = self.progress
        progress.update(message)
        if not progress.layers:
            return
        if self.bar is None or self.task is None:
            self.bar, self.task = self._start()
        self.bar.update(
            self.task,
            completed=progress.downloaded,
            total=progress.size or None,
            layers=f"{progress.layers_done}/{len(progress.layers)}",
        )

    def finish(self, succeeded: bool) -> None:
        if self.bar is not None:
            self.bar.stop()
        _closing_line(self.progress, self.logger, succeeded)


def _closing_line(progress: PullProgress, logger: logging.Logger, succeeded: bool) -> None:
    if succeeded:
        logger.info("Pulled image %r: %s", progress.image, progress.summary())


def reporter_for(image: str, logger: logging.Logger, stream: IO[str] | None = None) -> PullReporter:
    """How this pull is shown: nothing when the logger would not show INFO,
    a live bar when ``stream`` (stderr) is a terminal, plain lines otherwise."""
    if not logger.isEnabledFor(logging.INFO):
        return Silent()
    stream = stream if stream is not None else sys.stderr
    if _is_terminal(stream):
        return TerminalBar(image, logger, stream)
    return PlainLines(image, logger)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
