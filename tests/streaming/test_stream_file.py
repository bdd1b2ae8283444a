"""File-mode streaming: every frame exactly once, in order; folders, globs, arrays; stats; real SuperPoint."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_stream_helpers import (
    FakeCapture,
    IndexDetector,
    capture_threads,
    decode_index,
    encode_index,
    write_indexed_video,
)

from superpoint_rt.streaming import FrameReader, StreamStats, stream
from superpoint_rt.types import Features


def test_video_file_every_frame_once_in_order(tmp_path) -> None:
    n = 40
    path = write_indexed_video(tmp_path / "idx.mp4", n)
    det = IndexDetector(delay=0.002)  # slower than decoding: the capture thread must wait, not drop
    before = capture_threads()
    with stream(det, path, queue_size=2) as s:
        assert s.mode == "file"
        indices = [i for i, _, _ in s]
    assert indices == list(range(n))
    assert det.seen == list(range(n))  # the pixels say the same: the frames themselves are in order
    assert s.stats.frames_yielded == s.stats.frames_read == n
    assert s.stats.frames_dropped == 0
    assert s.stats.end_reason == "end_of_stream"
    assert capture_threads() == before


def test_file_mode_over_fast_source_drops_nothing() -> None:
    cap = FakeCapture(n_ok=30)
    det = IndexDetector(delay=0.005)
    out = [i for i, _, _ in stream(det, cap, mode="file", max_retries=0)]
    assert out == list(range(30)) and det.seen == list(range(30))


def test_image_folder_glob_and_single_image(tmp_path) -> None:
    for i in (3, 0, 2, 1):  # written out of order: the folder is read sorted by name
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.png"), encode_index(i))
    (tmp_path / "notes.txt").write_text("not an image")
    det = IndexDetector()
    assert [i for i, _, _ in stream(det, tmp_path)] == [0, 1, 2, 3]
    assert det.seen == [0, 1, 2, 3]
    det = IndexDetector()
    assert [i for i, _, _ in stream(det, str(tmp_path / "frame_00[12].png"))] == [0, 1]
    assert det.seen == [1, 2]
    det = IndexDetector()
    assert len(list(stream(det, tmp_path / "frame_003.png"))) == 1 and det.seen == [3]


def test_array_list_source_and_max_frames() -> None:
    frames = [encode_index(i) for i in range(10)]
    det = IndexDetector()
    s = stream(det, frames, max_frames=4)
    assert [i for i, _, _ in s] == [0, 1, 2, 3]
    assert s.stats.end_reason == "max_frames"
    # a generator works too (file mode by default)
    det = IndexDetector()
    assert [i for i, _, _ in stream(det, (f for f in frames))] == list(range(10))


def test_resize_option() -> None:
    frames = [encode_index(i, 64, 128) for i in range(3)]
    shapes = [f.shape for _, f, _ in stream(IndexDetector(), frames, resize=(64, 32))]
    assert shapes == [(32, 64, 3)] * 3


def test_frame_reader_alone(tmp_path) -> None:
    path = write_indexed_video(tmp_path / "idx.mp4", 12)
    with FrameReader(path) as r:
        got = [(i, decode_index(f)) for i, f in r]
    assert got == [(i, i) for i in range(12)]
    assert r.closed


def test_stats_summary() -> None:
    st = StreamStats()
    for v in (0.001, 0.002, 0.003):
        st.record("network", v)
    with st.measure("drawing"):
        pass
    st.record("decode", 0.5)
    s = st.summary()
    net = s["stages"]["network"]
    assert net["n"] == 3
    assert net["mean_ms"] == pytest.approx(2.0)
    assert net["p50_ms"] == pytest.approx(2.0)
    assert s["stages"]["decode"]["share"] is None  # runs in parallel, not part of the loop's shares
    shares = [v["share"] for v in s["stages"].values() if v["share"] is not None]
    assert sum(shares) == pytest.approx(1.0)
    for key in ("frames_read", "frames_yielded", "frames_dropped", "read_failures", "end_reason", "fps", "wall_s"):
        assert key in s


def test_detector_timings_recorded() -> None:
    s = stream(IndexDetector(delay=0.001), [encode_index(i) for i in range(5)])
    list(s)
    st = s.stats.summary()["stages"]
    for k in ("decode", "decode_wait", "preprocess", "network", "postprocess"):
        assert st[k]["n"] == 5
    assert s.stats.fps > 0


def _real_superpoint():
    from superpoint_rt import ops

    if not hasattr(ops, "detect"):
        pytest.skip("superpoint_rt.ops is not built yet (the C++ extension / reference ops are missing)")
    from superpoint_rt import SuperPoint

    with pytest.warns(UserWarning, match="RANDOM"):
        return SuperPoint(weights="random")


def test_real_superpoint_stream_matches_direct_calls(tmp_path) -> None:
    sp = _real_superpoint()
    rng = np.random.default_rng(0)
    frames = [cv2.GaussianBlur(rng.integers(0, 255, (64, 96), np.uint8), (5, 5), 1.5) for _ in range(4)]
    direct = [sp(f) for f in frames]
    with sp.stream(frames) as s:
        got = list(s)
    assert [i for i, _, _ in got] == [0, 1, 2, 3]
    for (_, _, f), d in zip(got, direct):
        assert isinstance(f, Features)
        np.testing.assert_array_equal(f.keypoints, d.keypoints)
        np.testing.assert_allclose(f.descriptors, d.descriptors, atol=1e-6)


def test_opened_videocapture_of_a_file_is_file_mode(tmp_path) -> None:
    path = write_indexed_video(tmp_path / "idx.mp4", 10)
    cap = cv2.VideoCapture(str(path))
    det = IndexDetector()
    with stream(det, cap) as s:
        assert s.mode == "file"
        assert [i for i, _, _ in s] == list(range(10))
    assert det.seen == list(range(10))
