"""Timestamped log lines, resuming without repeats, and writing a log to our
stdout (pure logic; the log streams themselves run against the dev cluster in
tests/infrastructure)."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from launchbay._internal.kubernetes.logs import LogCursor, LogFollower, split_line
from launchbay._internal.output import Sink


def test_split_line_parses_kubelet_timestamps() -> None:
    stamp, text, content = split_line(b"2026-01-01T00:00:01.5Z hello world")
    assert stamp == (1767225601, 500_000_000)
    assert text == "2026-01-01T00:00:01.5Z" and content == b"hello world"
    # Trailing zeros are trimmed by the kubelet: .5 > .12 although the text sorts lower.
    later, _, _ = split_line(b"2026-01-01T00:00:01.5Z a")
    earlier, _, _ = split_line(b"2026-01-01T00:00:01.12Z a")
    assert earlier < later
    whole, _, _ = split_line(b"2026-01-01T00:00:01Z a")
    assert whole == (1767225601, 0)
    offset, _, _ = split_line(b"2026-01-01T01:00:01+01:00 a")
    assert offset == (1767225601, 0)
    # The content is kept byte for byte, spaces and all; an empty line stays empty.
    assert split_line(b"2026-01-01T00:00:01Z   indented ")[2] == b"  indented "
    assert split_line(b"2026-01-01T00:00:01Z ")[2] == b""
    assert split_line(b"no timestamp") == (None, None, b"no timestamp")
    # Only a timestamp followed by a space is one; the line is kept whole otherwise.
    assert split_line(b"2026-01-01T00:00:01Z") == (None, None, b"2026-01-01T00:00:01Z")
    assert split_line("२०२६-01-01T00:00:01Z x".encode()) == (None, None, "२०२६-01-01T00:00:01Z x".encode())


def lines(*items: tuple[int, str]) -> list[tuple[tuple[int, int], str]]:
    return [((second, 0), f"t{second}-{body}") for second, body in items]


def test_cursor_resumes_without_repeats_or_losses() -> None:
    cursor = LogCursor()
    first_stream = [(1, "a"), (2, "b"), (2, "c")]  # two lines at the same instant
    written = []
    cursor.new_stream()
    for second, body in first_stream:
        if cursor.accept((second, 0), f"s{second}"):
            written.append(body)
    assert cursor.since_time == "s2"
    # The stream drops; the new one (sinceTime = s2) repeats both lines at s2,
    # then goes on; a line at s2 written after the drop is new.
    cursor.new_stream()
    for second, body in [(2, "b"), (2, "c"), (2, "d"), (3, "e")]:
        if cursor.accept((second, 0), f"s{second}"):
            written.append(body)
    assert written == ["a", "b", "c", "d", "e"]
    # A stream that starts earlier than the cursor (clock skew) repeats nothing.
    cursor.new_stream()
    for second, body in [(1, "a"), (3, "e"), (4, "f")]:
        if cursor.accept((second, 0), f"s{second}"):
            written.append(body)
    assert written == ["a", "b", "c", "d", "e", "f"]


def test_cursor_accepts_lines_without_timestamps() -> None:
    cursor = LogCursor()
    assert cursor.accept(None, None) and cursor.since_time is None


def test_sink_binary_and_text() -> None:
    binary = io.BytesIO()
    wrapper = io.TextIOWrapper(binary, encoding="utf-8")
    Sink(wrapper).write("héllo\n".encode())
    assert binary.getvalue() == "héllo\n".encode()
    text = io.StringIO()
    sink = Sink(text)
    data = "é".encode()
    sink.write(data[:1])  # a character split across chunks
    sink.write(data[1:] + b"\n")
    assert text.getvalue() == "é\n"


def test_a_looking_up_sink_follows_a_redirection_made_after_it() -> None:
    first, second = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(first):
        sink = Sink.looking_up(lambda: sys.stdout)
        sink.write(b"one\n")
    with contextlib.redirect_stdout(second):
        sink.write(b"two\n")
    assert (first.getvalue(), second.getvalue()) == ("one\n", "two\n")


def test_a_looking_up_sink_keeps_the_order_of_text_written_meanwhile() -> None:
    binary = io.BytesIO()
    wrapper = io.TextIOWrapper(binary, encoding="utf-8")
    sink = Sink.looking_up(lambda: wrapper)
    sink.write(b"log 1\n")
    wrapper.write("print\n")  # buffered in the text layer
    sink.write(b"log 2\n")
    wrapper.flush()
    assert binary.getvalue() == b"log 1\nprint\nlog 2\n"


# --- following a log (a stand-in for the API's log stream) --------------------


class FakeContent:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)

    async def readany(self) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""


class FakeApi:
    """Serves one log stream per request, in order."""

    def __init__(self, *streams: list[bytes]) -> None:
        self.streams = list(streams)
        self.queries: list[list[tuple[str, str]]] = []

    @asynccontextmanager
    async def stream(self, path: str, *, what: str, query: list[tuple[str, str]]) -> AsyncIterator[Any]:
        self.queries.append(query)

        class Response:
            content = FakeContent(self.streams.pop(0))

        yield Response()


def follow(api: FakeApi, sink: Sink, done: list[bool]) -> None:
    follower = LogFollower(
        api,  # type: ignore[arg-type]
        "ns",
        "pod",
        "launchbay-job",
        sink,
        container_done=lambda: done[0],
        lost=lambda: False,
    )
    anyio.run(follower.follow, backend="asyncio")


def test_a_partial_utf8_sequence_at_the_end_of_a_log_is_not_lost() -> None:
    out = io.StringIO()  # a text stream: the sink decodes
    api = FakeApi([b"2026-01-01T00:00:01Z caf", b"\xc3\xa9\n2026-01-01T00:00:02Z last \xc3"])
    follow(api, Sink(out), [True])
    assert out.getvalue() == "café\nlast \ufffd"


def test_a_dropped_stream_resumes_from_the_last_timestamp_without_repeats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from launchbay._internal.kubernetes import logs

    monkeypatch.setattr(logs, "FIRST_RETRY_SECONDS", 0.01)
    done = [False]
    first = [
        b"2026-01-01T00:00:01Z a\n2026-01-01T00:00:02Z b\n2026-01-01T00:00:02Z c\n2026-01-01T00:00:03Z cut sh"
    ]
    second = [b"2026-01-01T00:00:02Z b\n2026-01-01T00:00:02Z c\n2026-01-01T00:00:03Z cut short\n"]

    class Api(FakeApi):
        @asynccontextmanager
        async def stream(self, path: str, *, what: str, query: list[tuple[str, str]]) -> AsyncIterator[Any]:
            async with super().stream(path, what=what, query=query) as response:
                yield response
            done[0] = len(self.queries) == 2  # the container ends during the second stream

    out = io.BytesIO()
    api = Api(first, second)
    follow(api, Sink(io.TextIOWrapper(out, encoding="utf-8")), done)
    assert out.getvalue() == b"a\nb\nc\ncut short\n"
    assert ("sinceTime", "2026-01-01T00:00:02Z") in api.queries[1]


class OpenContent:
    """A log stream the kubelet keeps open (a follow): what was fed, then waits."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.fed = anyio.Event()

    def feed(self, data: bytes) -> None:
        self.buffer += data
        self.fed.set()

    async def readany(self) -> bytes:
        while not self.buffer:
            self.fed = anyio.Event()
            await self.fed.wait()
        return self.read_nowait()

    def read_nowait(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def test_a_log_ends_once_the_container_ended_and_the_stream_is_silent() -> None:
    content = OpenContent()
    queries: list[list[tuple[str, str]]] = []

    class Api:
        @asynccontextmanager
        async def stream(self, path: str, *, what: str, query: list[tuple[str, str]]) -> AsyncIterator[Any]:
            queries.append(query)

            class Response:
                pass

            response = Response()
            response.content = content  # type: ignore[attr-defined]
            yield response

    done = [False]
    news = [anyio.Event()]

    async def wait_for_news(timeout: float) -> None:
        with anyio.move_on_after(timeout):
            await news[0].wait()
        news[0] = anyio.Event()

    out = io.BytesIO()
    sink = Sink(io.TextIOWrapper(out, encoding="utf-8", write_through=True))
    follower = LogFollower(
        Api(),  # type: ignore[arg-type]
        "ns",
        "pod",
        "launchbay-job",
        sink,
        container_done=lambda: done[0],
        lost=lambda: False,
        wait_for_news=wait_for_news,
    )

    async def main() -> None:
        # The follower returns by itself (the task group ends), without the stream's end.
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(follower.follow)
                content.feed(b"2026-01-01T00:00:01Z a\n")
                await anyio.sleep(0.1)
                # The watch shows the container ended; its last words (no
                # newline) are still on their way, and the stream stays open.
                done[0] = True
                news[0].set()
                content.feed(b"2026-01-01T00:00:02Z b")

    anyio.run(main, backend="asyncio")
    assert out.getvalue() == b"a\nb" and len(queries) == 1
