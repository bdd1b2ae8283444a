"""Shared helpers for the streaming/tracking/demo tests (fake detectors, fake captures, index-coded videos),
and the tests of those helpers themselves."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np

from superpoint_rt.types import Features

BLOCK = 32  # px per bit block of the frame-index code


def capture_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("superpoint_rt-capture")}


def encode_index(index: int, height: int = 64, width: int = 128) -> np.ndarray:
    """A BGR frame whose BLOCKxBLOCK blocks spell ``index`` in binary (white = 1), robust to MPEG-4."""
    img = np.zeros((height, width, 3), np.uint8)
    cols, rows = width // BLOCK, height // BLOCK
    for bit in range(rows * cols):
        if (index >> bit) & 1:
            r, c = divmod(bit, cols)
            img[r * BLOCK : (r + 1) * BLOCK, c * BLOCK : (c + 1) * BLOCK] = 255
    return img


def decode_index(img: np.ndarray) -> int:
    gray = img if img.ndim == 2 else img.mean(axis=2)
    cols, rows = gray.shape[1] // BLOCK, gray.shape[0] // BLOCK
    value = 0
    q = BLOCK // 4
    for bit in range(rows * cols):
        r, c = divmod(bit, cols)
        block = gray[r * BLOCK + q : (r + 1) * BLOCK - q, c * BLOCK + q : (c + 1) * BLOCK - q]
        if block.mean() > 128:
            value |= 1 << bit
    return value


def write_indexed_video(path: Path, n: int, height: int = 64, width: int = 128) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (width, height))
    assert w.isOpened()
    for i in range(n):
        w.write(encode_index(i, height, width))
    w.release()
    return path


class IndexDetector:
    """A stand-in detector: records the index encoded in each frame it sees; returns empty Features."""

    def __init__(self, delay: float = 0.0) -> None:
        self.seen: list[int] = []
        self.delay = delay

    def __call__(self, image: np.ndarray) -> Features:
        self.seen.append(decode_index(image))
        if self.delay:
            time.sleep(self.delay)
        f = Features.empty(image.shape[:2])
        f.timings = {"preprocess": 1e-4, "network": self.delay, "postprocess": 1e-4}
        return f


class FakeCapture:
    """cv2.VideoCapture look-alike: ``n_ok`` frames (index-coded), then ``read()`` fails forever.

    ``period`` seconds per read; ``shapes`` maps a frame index to a different (height, width) for that frame;
    ``block_at`` makes read() number ``block_at`` block for ``block_s`` seconds (a hung device).
    """

    def __init__(
        self,
        n_ok: int,
        period: float = 0.0,
        height: int = 64,
        width: int = 128,
        shapes: dict[int, tuple[int, int]] | None = None,
        block_at: int | None = None,
        block_s: float = 0.0,
    ) -> None:
        self.n_ok, self.period, self.h, self.w = n_ok, period, height, width
        self.shapes = shapes or {}
        self.block_at, self.block_s = block_at, block_s
        self.reads = 0
        self.failed_reads = 0
        self.released = False

    def read(self) -> tuple[bool, np.ndarray | None]:
        i = self.reads
        self.reads += 1
        if self.period:
            time.sleep(self.period)
        if self.block_at is not None and i == self.block_at:
            time.sleep(self.block_s)
        if i >= self.n_ok:
            self.failed_reads += 1
            return False, None
        h, w = self.shapes.get(i, (self.h, self.w))
        return True, encode_index(i, h, w)

    def release(self) -> None:
        self.released = True


def test_index_code_roundtrip() -> None:
    for i in (0, 1, 5, 31, 42, 255):
        assert decode_index(encode_index(i)) == i


def test_index_code_survives_mpeg4(tmp_path) -> None:
    path = write_indexed_video(tmp_path / "v.mp4", 20)
    cap = cv2.VideoCapture(str(path))
    got = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        got.append(decode_index(img))
    cap.release()
    assert got == list(range(20))


def test_fake_capture_fails_after_n() -> None:
    cap = FakeCapture(n_ok=2)
    assert [cap.read()[0] for _ in range(4)] == [True, True, False, False]
