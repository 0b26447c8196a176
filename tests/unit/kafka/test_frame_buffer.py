"""FrameBuffer (the BufferedProtocol receive buffer): frames split across reads, whole big frames, bad sizes."""

from __future__ import annotations

import random

import pytest

from keystream.kafka.codec.framing import FrameBuffer, FrameError


def _frame(body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + body


def _feed(fb: FrameBuffer, data: bytes, chunk: int) -> list[bytes]:
    """Pour data in through get_buffer/buffer_updated, at most chunk bytes per read."""
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        buf = fb.get_buffer()
        n = min(len(buf), chunk, len(data) - pos)
        buf[:n] = data[pos:pos + n]
        pos += n
        out.extend(bytes(f) for f in fb.buffer_updated(n))   # copied before the next read
    return out


@pytest.mark.parametrize("chunk", [1, 3, 7, 4096, 65536, 1 << 20])
def test_frames_come_out_whole_and_in_order(chunk: int) -> None:
    rng = random.Random(chunk)
    sizes = [0, 1, 10, 300, 70_000, 300_000] if chunk >= 4096 else [0, 1, 10, 300, 2000]
    bodies = [rng.randbytes(rng.choice(sizes)) for _ in range(25)]
    fb = FrameBuffer(1 << 20)
    assert _feed(fb, b"".join(_frame(b) for b in bodies), chunk) == bodies
    assert fb.buffered == 0


def test_room_for_a_whole_big_frame() -> None:
    fb = FrameBuffer(8 << 20)
    body = bytes(range(256)) * 12_000          # ~3 MB
    data = _frame(body)
    buf = fb.get_buffer()
    buf[:10] = data[:10]
    assert fb.buffer_updated(10) == []
    buf = fb.get_buffer()
    assert len(buf) >= len(data) - 10           # the rest fits in one contiguous read
    buf[:len(data) - 10] = data[10:]
    (frame,) = fb.buffer_updated(len(data) - 10)
    assert frame.readonly and frame == body


@pytest.mark.parametrize("size", [-1, 101])
def test_bad_frame_size(size: int) -> None:
    fb = FrameBuffer(100)
    buf = fb.get_buffer()
    buf[:4] = size.to_bytes(4, "big", signed=True)
    with pytest.raises(FrameError):
        fb.buffer_updated(4)
