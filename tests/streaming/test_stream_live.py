"""Live-mode streaming: a slow consumer over a fast source gets the newest frames, drops are counted."""

from __future__ import annotations

import itertools
import time

from test_stream_helpers import FakeCapture, IndexDetector, capture_threads, decode_index

from superpoint_rt.streaming import stream


def test_live_mode_drops_instead_of_queueing() -> None:
    n = 150
    cap = FakeCapture(n_ok=n, period=0.001)  # ~1000 fps source
    lags = []

    class LagDetector(IndexDetector):
        def __call__(self, image):  # runs right after the frame is taken from the queue
            lags.append(s.stats.frames_read - 1 - decode_index(image))  # frames read after this one
            return super().__call__(image)

    det = LagDetector(delay=0.015)  # ~60 fps consumer
    before = capture_threads()
    with stream(det, cap, mode="live", max_retries=2, retry_delay=0.01) as s:
        assert s.mode == "live"
        for _ in s:
            pass
    indices = det.seen
    assert len(indices) < n // 2  # most frames were dropped, not queued
    assert all(b > a for a, b in itertools.pairwise(indices))  # strictly increasing: newest-first never reorders
    st = s.stats
    assert st.frames_dropped > 0
    assert st.frames_read == n
    assert st.frames_read == st.frames_yielded + st.frames_dropped  # every frame read is either used or dropped
    assert st.end_reason == "disconnected"
    # bounded latency: the consumer gets (about) the newest frame, never a backlog
    assert sorted(lags)[len(lags) // 2] <= 3
    assert capture_threads() == before
    assert cap.released


def test_same_source_in_file_mode_keeps_everything() -> None:
    cap = FakeCapture(n_ok=40, period=0.0005)
    det = IndexDetector(delay=0.003)
    with stream(det, cap, mode="file", max_retries=0) as s:
        list(s)
    assert det.seen == list(range(40))
    assert s.stats.frames_dropped == 0


def test_live_is_default_for_capture_objects() -> None:
    s = stream(IndexDetector(), FakeCapture(n_ok=1), max_retries=0)
    assert s.mode == "live"
    s.close()


def test_live_stream_with_fast_consumer_gets_all_frames() -> None:
    # slow source (50 ms a frame), instant consumer: the margin keeps it so on a loaded 2-core machine, where a 10 ms
    # period lost frames to the consumer thread being descheduled
    cap = FakeCapture(n_ok=20, period=0.05)
    det = IndexDetector()
    t0 = time.perf_counter()
    list(stream(det, cap, mode="live", max_retries=1, retry_delay=0.01))
    assert det.seen == list(range(20))
    assert time.perf_counter() - t0 < 5.0
