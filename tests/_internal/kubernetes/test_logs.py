"""Timestamped log lines and resuming without repeats (pure logic)."""

from __future__ import annotations

import io

from launchbay._internal.kubernetes.logs import LogCursor, OutputSink, split_line


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


def test_output_sink_binary_and_text() -> None:
    binary = io.BytesIO()
    wrapper = io.TextIOWrapper(binary, encoding="utf-8")
    OutputSink(wrapper).write("héllo\n".encode())
    assert binary.getvalue() == "héllo\n".encode()
    text = io.StringIO()
    sink = OutputSink(text)
    data = "é".encode()
    sink.write(data[:1])  # a character split across chunks
    sink.write(data[1:] + b"\n")
    assert text.getvalue() == "é\n"
