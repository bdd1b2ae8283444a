"""Streaming errors: missing/corrupt sources, cameras and URLs that do not open, disconnects, hangs,
size changes, and no capture thread surviving any of it."""

from __future__ import annotations

import logging
import os
import time

import cv2
import numpy as np
import pytest
from test_stream_helpers import FakeCapture, IndexDetector, capture_threads, encode_index, write_indexed_video

from superpoint_rt import streaming
from superpoint_rt.streaming import StreamError, stream


@pytest.fixture
def no_leak():
    before = capture_threads()
    yield
    assert capture_threads() == before, "a capture thread survived the stream"


def test_missing_file(tmp_path, no_leak) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.mp4"):
        stream(IndexDetector(), tmp_path / "nope.mp4")


def test_corrupt_and_empty_files(tmp_path, no_leak) -> None:
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(StreamError, match=r"corrupt\.mp4"):
        stream(IndexDetector(), bad)
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    with pytest.raises(StreamError, match=r"empty\.avi"):
        stream(IndexDetector(), str(empty))
    assert issubclass(StreamError, ValueError)


def test_truncated_file_raises_or_ends_cleanly(tmp_path, no_leak) -> None:
    path = write_indexed_video(tmp_path / "v.mp4", 30)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    try:
        s = stream(IndexDetector(), cut)
    except StreamError as e:  # no index atom: cannot be opened at all
        assert "cut.mp4" in str(e)
        return
    frames = list(s)
    assert len(frames) <= 30


def test_empty_folder_and_unmatched_glob(tmp_path, no_leak) -> None:
    with pytest.raises(FileNotFoundError, match="no image files"):
        stream(IndexDetector(), tmp_path)
    with pytest.raises(FileNotFoundError, match="pattern"):
        stream(IndexDetector(), str(tmp_path / "*.png"))


def test_corrupt_image_in_folder(tmp_path, no_leak) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), encode_index(1))
    (tmp_path / "b.png").write_bytes(b"not a png")
    s = stream(IndexDetector(), tmp_path)
    got = []
    with pytest.raises(StreamError, match=r"b\.png"):
        for i, _, _ in s:
            got.append(i)
    assert got == [0]
    assert s.closed


class _ClosedCapture:
    def __init__(self, *args, **kwargs) -> None:
        pass

    def isOpened(self) -> bool:
        return False

    def release(self) -> None:
        pass


def test_camera_and_url_that_cannot_open(monkeypatch, no_leak) -> None:
    monkeypatch.setattr(streaming.cv2, "VideoCapture", _ClosedCapture)
    with pytest.raises(StreamError, match="camera 3"):
        stream(IndexDetector(), 3)
    with pytest.raises(StreamError, match=r"rtsp://192\.0\.2\.1/cam"):
        stream(IndexDetector(), "rtsp://192.0.2.1/cam")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="mode"):
        stream(IndexDetector(), [encode_index(0)], mode="fast")
    with pytest.raises(ValueError, match="queue_size"):
        stream(IndexDetector(), [encode_index(0)], queue_size=0)
    with pytest.raises(ValueError, match="on_size_change"):
        stream(IndexDetector(), [encode_index(0)], on_size_change="crop")
    with pytest.raises(TypeError):
        stream(IndexDetector(), 3.5)
    with pytest.raises(TypeError):
        stream("not callable", [encode_index(0)])


@pytest.mark.parametrize("mode", ["live", "file"])
def test_source_disconnecting_mid_stream_ends_cleanly(mode, caplog, no_leak) -> None:
    cap = FakeCapture(n_ok=7)
    det = IndexDetector()
    t0 = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="superpoint_rt.streaming"):
        s = stream(det, cap, mode=mode, max_retries=3, retry_delay=0.01)
        frames = [i for i, _, _ in s]
    assert time.perf_counter() - t0 < 5.0
    if mode == "file":  # every frame; the first failure is the end
        assert frames == det.seen == list(range(7))
    else:  # live mode may drop frames, but never the last one (nothing newer replaces it)
        assert frames == det.seen and frames[-1] == 6 and sorted(set(frames)) == frames
    assert cap.released
    if s.stats.end_reason == "disconnected":
        assert cap.failed_reads == 4  # the first failure + 3 retries
        assert "failed 4 times" in caplog.text


def test_live_source_disconnect_retries_then_warns(caplog, no_leak) -> None:
    cap = FakeCapture(n_ok=5)
    with caplog.at_level(logging.WARNING, logger="superpoint_rt.streaming"):
        s = stream(IndexDetector(), cap, mode="live", max_retries=3, retry_delay=0.01)
        list(s)
    assert s.stats.end_reason == "disconnected"
    assert s.stats.read_failures == 4
    assert "ending the stream" in caplog.text


def test_hung_source_times_out(caplog, no_leak) -> None:
    cap = FakeCapture(n_ok=100, block_at=3, block_s=0.8)  # read() of frame 3 hangs for 0.8 s
    t0 = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="superpoint_rt.streaming"):
        s = stream(IndexDetector(), cap, mode="live", read_timeout=0.2)
        frames = [i for i, _, _ in s]
    assert frames[-1] == 2 and set(frames) <= {0, 1, 2}  # live mode may drop 0 or 1, never the newest
    assert s.stats.end_reason == "timeout"
    assert "no frame for" in caplog.text
    assert time.perf_counter() - t0 < 3.0  # close() joined the thread once read() returned


def test_size_change_raises(no_leak) -> None:
    cap = FakeCapture(n_ok=10, shapes={4: (32, 64)})
    got = []
    with pytest.raises(StreamError, match=r"frame 4 has shape \(32, 64, 3\)"):
        for i, _, _ in stream(IndexDetector(), cap, mode="file"):
            got.append(i)
    assert got == [0, 1, 2, 3]


def test_size_change_resize_and_allow(no_leak) -> None:
    cap = FakeCapture(n_ok=6, shapes={2: (32, 64)})
    shapes = [f.shape for _, f, _ in stream(IndexDetector(), cap, mode="file", on_size_change="resize", max_retries=0)]
    assert shapes == [(64, 128, 3)] * 6
    cap = FakeCapture(n_ok=4, shapes={2: (32, 64)})
    shapes = [f.shape for _, f, _ in stream(IndexDetector(), cap, mode="file", on_size_change="allow", max_retries=0)]
    assert shapes[2] == (32, 64, 3)


def test_no_thread_survives_break(tmp_path, no_leak) -> None:
    path = write_indexed_video(tmp_path / "v.mp4", 30)
    for i, _, _ in stream(IndexDetector(), path, queue_size=2):
        if i == 3:
            break
    # the stream object was a temporary: dropping it joined its thread (checked by no_leak)
    with stream(IndexDetector(), path) as s:
        for i, _, _ in s:
            if i == 1:
                break
    assert s.closed


def test_no_thread_survives_exception_in_loop_body(tmp_path, no_leak) -> None:
    path = write_indexed_video(tmp_path / "v.mp4", 30)
    with pytest.raises(RuntimeError, match="boom"):
        for i, _, _ in stream(IndexDetector(), path):
            if i == 2:
                raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"), stream(IndexDetector(), path) as s:
        for _ in s:
            raise RuntimeError("boom")


def test_no_thread_survives_detector_error(no_leak) -> None:
    def bad_detector(image):
        raise ValueError("detector failed")

    s = stream(bad_detector, FakeCapture(n_ok=50), mode="live")
    with pytest.raises(ValueError, match="detector failed"):
        next(s)
    assert s.closed
    with pytest.raises(TypeError, match="expected Features"):
        next(stream(lambda img: None, FakeCapture(n_ok=5), mode="file"))


def test_abandoned_stream_is_collected(tmp_path, no_leak) -> None:
    path = write_indexed_video(tmp_path / "v.mp4", 30)
    s = stream(IndexDetector(), path, queue_size=1)
    next(s)  # thread running, blocked on a full queue
    assert capture_threads()
    del s  # no close(): garbage collection must stop and join the thread


def test_close_is_idempotent_and_iteration_after_close_stops(no_leak) -> None:
    s = stream(IndexDetector(), [encode_index(i) for i in range(5)])
    next(s)
    s.close()
    s.close()
    assert list(s) == []


@pytest.mark.skipif(os.name != "posix", reason="uses /dev/null")
def test_non_video_file(no_leak) -> None:
    with pytest.raises(StreamError):
        stream(IndexDetector(), "/dev/null")
