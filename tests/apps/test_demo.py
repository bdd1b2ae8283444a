"""The demo: end to end on the bundled sample, its reprojection metric against known answers, the CLI."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from superpoint_rt.apps.demo import format_summary, run_demo
from superpoint_rt.geometry import points_inside, warp_points
from superpoint_rt.samples import SAMPLE_HOMOGRAPHIES, SAMPLE_VIDEO, load_homographies
from superpoint_rt.types import Features

H, W = 240, 320


def read_video(path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def test_bundled_sample_is_consistent() -> None:
    """The sample video and its ground truth agree: frame 0 warped by H_0k looks like frame k."""
    assert SAMPLE_VIDEO.stat().st_size + SAMPLE_HOMOGRAPHIES.stat().st_size < 3 * 2**20
    frames = read_video(SAMPLE_VIDEO)
    hs = load_homographies(SAMPLE_HOMOGRAPHIES)
    assert len(frames) == len(hs) >= 90
    assert frames[0].shape == (H, W, 3)
    np.testing.assert_allclose(hs[0], np.eye(3), atol=1e-12)
    g = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.float32) for f in frames]
    for k in (5, 40, 80):
        warped = cv2.warpPerspective(g[0], hs[k], (W, H))
        valid = cv2.warpPerspective(np.ones((H, W), np.uint8), hs[k], (W, H), flags=cv2.INTER_NEAREST)
        valid = cv2.erode(valid, np.ones((7, 7), np.uint8)) > 0
        a, b = warped[valid], g[k][valid]
        ncc = np.corrcoef(a, b)[0, 1]
        shifted = np.roll(g[k], 4, axis=1)[valid]  # a 4 px misregistration is far worse
        assert ncc > 0.97 and ncc > np.corrcoef(a, shifted)[0, 1] + 0.05


class OracleDetector:
    """Returns a fixed set of scene points at their ground-truth positions in each frame (frames arrive in
    order in file mode), each with its own descriptor; ``offset`` is added to the keypoints of frames >= 1."""

    def __init__(self, offset: tuple[float, float] = (0.0, 0.0), only_always_visible: bool = False) -> None:
        self.hs = load_homographies(SAMPLE_HOMOGRAPHIES)
        xs, ys = np.meshgrid(np.arange(8, W - 8, 16.0), np.arange(8, H - 8, 16.0))
        p0 = np.stack([xs.ravel(), ys.ravel()], axis=1)
        if only_always_visible:
            keep = np.ones(len(p0), bool)
            for h in self.hs:
                keep &= points_inside(warp_points(p0, h), H, W)
            p0 = p0[keep]
        self.p0 = p0
        rng = np.random.default_rng(1)
        d = rng.normal(size=(len(p0), 256)).astype(np.float32)
        self.desc = d / np.linalg.norm(d, axis=1, keepdims=True)
        self.offset = np.asarray(offset)
        self.k = 0

    def __call__(self, image: np.ndarray) -> Features:
        p = warp_points(self.p0, self.hs[self.k])
        if self.k > 0:
            p = p + self.offset
        self.k += 1
        m = points_inside(p, H, W)
        return Features(p[m].astype(np.float32), np.ones(m.sum(), np.float32), self.desc[m], (H, W), {"network": 1e-3})


def test_demo_with_oracle_tracks_has_zero_reprojection_error(tmp_path) -> None:
    out = tmp_path / "demo.mp4"
    r = run_demo(OracleDetector(), None, out, max_frames=30, progress=False)
    assert r["frames"] == 30 and r["source"] == "sample"
    rp = r["reprojection"]
    assert rp["n"] > 1000
    assert rp["median_px"] < 1e-3 and rp["mean_px"] < 1e-3  # float32 keypoints: ~1e-5 px
    assert r["tracks"]["max_length"] == 30
    frames = read_video(out)
    assert len(frames) == 30 and frames[0].shape == (H, W, 3)
    assert "reprojection error" in format_summary(r)


def test_reprojection_error_measures_a_known_offset(tmp_path) -> None:
    det = OracleDetector(offset=(3.0, 4.0), only_always_visible=True)  # every later point 5 px off
    r = run_demo(det, None, None, max_frames=12, progress=False)
    rp = r["reprojection"]
    assert rp["n"] == 11 * len(det.p0)  # every track, every later frame
    assert rp["median_px"] == pytest.approx(5.0, abs=1e-3)
    assert rp["mean_px"] == pytest.approx(5.0, abs=1e-3)
    assert rp["within_3px"] == 0.0
    assert r["output"] is None


def test_reprojection_ground_truth_follows_resize() -> None:
    """With --resize the ground truth is rescaled: an oracle reporting points in the resized frames (cv2.resize
    maps x to (x + 0.5) * s - 0.5) still has zero error."""

    class ResizedOracle(OracleDetector):
        def __call__(self, image: np.ndarray) -> Features:
            assert image.shape[:2] == (120, 160)
            f = super().__call__(image)
            kp = (f.keypoints.astype(np.float64) + 0.5) * 0.5 - 0.5
            return Features(kp.astype(np.float32), f.scores, f.descriptors, (120, 160), f.timings)

    r = run_demo(ResizedOracle(), None, None, max_frames=10, resize=(160, 120), progress=False)
    assert r["image_size"] == [120, 160]
    assert r["reprojection"]["n"] > 500 and r["reprojection"]["mean_px"] < 1e-3


def test_demo_show_without_display(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    msgs: list[str] = []
    r = run_demo(OracleDetector(), None, tmp_path / "o.mp4", max_frames=3, show=True, progress=False, log=msgs.append)
    assert any("no display" in m for m in msgs)
    assert r["frames"] == 3 and len(read_video(tmp_path / "o.mp4")) == 3


def test_demo_live_mode_on_a_folder(tmp_path) -> None:
    frames = read_video(SAMPLE_VIDEO)[:6]
    for i, f in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), f)
    r = run_demo(OracleDetector(), tmp_path, None, progress=False)
    assert r["frames"] == 6 and r["reprojection"] is None and r["mode"] == "file"


def _cli(argv, capsys):
    from superpoint_rt.apps.cli import main

    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _needs_ops() -> None:
    from superpoint_rt import ops

    if not hasattr(ops, "detect"):
        pytest.skip("superpoint_rt.ops is not built yet (the C++ extension / reference ops are missing)")


def _demo_parser():
    import argparse

    from superpoint_rt.apps.demo import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser


def test_demo_cli_end_to_end_random_weights(tmp_path, capsys) -> None:
    _needs_ops()
    out = tmp_path / "annotated.mp4"
    args = _demo_parser().parse_args(
        ["demo", "--weights", "random", "--max-frames", "8", "-o", str(out), "--json", "--no-progress"]
    )
    with pytest.warns(UserWarning, match="RANDOM"):
        code = args.func(args)
    assert code == 0
    r = json.loads(capsys.readouterr().out)
    for key in ("frames", "fps", "stages", "stage_fps", "tracks", "reprojection", "keypoints_mean", "engine", "output"):
        assert key in r
    assert r["frames"] == 8
    for stage in ("decode_wait", "preprocess", "network", "postprocess", "tracking", "drawing"):
        assert r["stages"][stage]["n"] == 8
    assert r["reprojection"]["n"] >= 0 and "mean_length" in r["tracks"]
    frames = read_video(out)
    assert len(frames) == 8 and frames[0].shape == (H, W, 3)


@pytest.mark.parametrize("precision", ["int8", None])
def test_demo_cli_int8_and_the_default(tmp_path, capsys, precision) -> None:
    """The demo runs our weights in INT8 (--precision int8, the shipped IR) and with the engine the rule picks for
    this CPU (no --precision), and says which in its JSON."""
    _needs_ops()
    pytest.importorskip("openvino")
    from superpoint_rt.backends import auto_choice
    from superpoint_rt.weights import load_weights

    argv = ["demo", "--max-frames", "3", "-o", str(tmp_path / "a.mp4"), "--json", "--no-progress"]
    args = _demo_parser().parse_args(argv + (["--precision", precision] if precision else []))
    assert args.func(args) == 0
    r = json.loads(capsys.readouterr().out)
    expected = precision or auto_choice(load_weights(None)).precision
    assert r["frames"] == 3 and r["engine"]["precision"] == expected


def test_demo_cli_without_weights_exits_2(tmp_path, monkeypatch, capsys) -> None:
    """A package built without its weights file (e.g. a trimmed wheel): a clean error, exit 2."""
    from superpoint_rt import weights

    monkeypatch.setattr(weights, "DEFAULT_WEIGHTS", tmp_path / "none.npz")
    args = _demo_parser().parse_args(["demo", "--no-progress"])
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "weights" in err


def test_demo_cli_missing_source_exits_2(tmp_path, capsys) -> None:
    _needs_ops()
    args = _demo_parser().parse_args(["demo", str(tmp_path / "missing.mp4"), "--weights", "random", "--no-progress"])
    with pytest.warns(UserWarning):
        assert args.func(args) == 2
    assert "missing.mp4" in capsys.readouterr().err


def test_load_homographies_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        load_homographies(tmp_path / "none.npz")
    np.savez(tmp_path / "bad.npz", other=np.zeros(3))
    with pytest.raises(ValueError, match="homographies"):
        load_homographies(tmp_path / "bad.npz")
    np.save(tmp_path / "shape.npy", np.zeros((4, 2, 3)))
    with pytest.raises(ValueError, match=r"\(N,3,3\)"):
        load_homographies(tmp_path / "shape.npy")
