"""Splitting Docker's multiplexed output stream."""

from __future__ import annotations

import struct

from launchbay._internal.docker.output import STDERR, STDOUT, FrameDecoder


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def collect(decoder: FrameDecoder, chunks: list[bytes]) -> dict[int, bytes]:
    out = {STDOUT: b"", STDERR: b""}
    for chunk in chunks:
        for stream, data in decoder.feed(chunk):
            out[stream] += data
    return out


def test_whole_frames() -> None:
    data = frame(1, b"hello\n") + frame(2, b"oops\n") + frame(1, b"last")
    assert collect(FrameDecoder(), [data]) == {STDOUT: b"hello\nlast", STDERR: b"oops\n"}


def test_frames_split_at_every_byte() -> None:
    data = frame(1, b"a" * 10) + frame(2, b"b" * 3) + frame(1, b"") + frame(1, b"c")
    decoder = FrameDecoder()
    out = collect(decoder, [data[i : i + 1] for i in range(len(data))])
    assert out == {STDOUT: b"a" * 10 + b"c", STDERR: b"bbb"}
    assert not decoder.mid_frame


def test_a_truncated_stream_is_noticed() -> None:
    decoder = FrameDecoder()
    collect(decoder, [frame(1, b"abcdef")[:-2]])
    assert decoder.mid_frame


def test_large_frames_pass_through_as_they_arrive() -> None:
    payload = bytes(range(256)) * 4096
    data = frame(1, payload)
    decoder = FrameDecoder()
    pieces = list(decoder.feed(data[:100_000])) + list(decoder.feed(data[100_000:]))
    assert len(pieces) == 2
    assert b"".join(p for _, p in pieces) == payload
