"""`superpoint-rt demo --verify ...`: the demo's tracker verifies matches (fundamental by default) and reports it."""

from __future__ import annotations

import argparse

import numpy as np

from superpoint_rt.apps.demo import _verification, format_summary, register, run_demo
from superpoint_rt.geometry import points_inside, warp_points
from superpoint_rt.samples import SAMPLE_HOMOGRAPHIES, load_homographies
from superpoint_rt.types import Features
from superpoint_rt.verification import VerificationConfig

H, W = 240, 320


class SwappingOracle:
    """Grid points at their true positions in each sample frame; from frame 1 on, 10% of the descriptors are
    handed to other points (wrong matches that jump)."""

    def __init__(self) -> None:
        self.hs = load_homographies(SAMPLE_HOMOGRAPHIES)
        xs, ys = np.meshgrid(np.arange(12, W - 12, 14.0), np.arange(12, H - 12, 14.0))
        self.p0 = np.stack([xs.ravel(), ys.ravel()], axis=1)
        rng = np.random.default_rng(0)
        d = rng.normal(size=(len(self.p0), 64)).astype(np.float32)
        self.desc = d / np.linalg.norm(d, axis=1, keepdims=True)
        self.rng = rng
        self.k = 0

    def __call__(self, image: np.ndarray) -> Features:
        p = warp_points(self.p0, self.hs[self.k])
        m = points_inside(p, H, W)
        d = self.desc[m].copy()
        if self.k:
            swap = self.rng.choice(len(d), len(d) // 10, replace=False)
            d[swap] = d[np.roll(swap, 1)]
        self.k += 1
        return Features(p[m].astype(np.float32), np.ones(m.sum(), np.float32), d, (H, W), {"network": 1e-3})


def test_demo_verification_ends_the_jumps() -> None:
    before = run_demo(SwappingOracle(), None, None, max_frames=8, progress=False, verification=None)
    after = run_demo(SwappingOracle(), None, None, max_frames=8, progress=False)  # the default: fundamental
    planar = VerificationConfig(model="homography")
    homog = run_demo(SwappingOracle(), None, None, max_frames=8, progress=False, verification=planar)
    assert before["verification"]["model"] is None and before["verification"]["ransac"] == 0
    assert after["verification"]["model"] == "fundamental" and after["verification"]["ransac"] > 0
    assert before["reprojection"]["within_3px"] < 0.95  # measured: 0.90
    assert homog["reprojection"]["within_3px"] == 1.0  # the sample is planar: H is its model
    # F on a planar scene is ill-conditioned: better than nothing, not clean (measured: 0.976)
    assert after["reprojection"]["within_3px"] > before["reprojection"]["within_3px"]
    assert "verification (homography)" in format_summary(homog)


def test_demo_verify_flags() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    parse = parser.parse_args
    assert _verification(parse(["demo"])) == VerificationConfig()
    assert _verification(parse(["demo", "--verify", "none"])) is None
    assert _verification(parse(["demo", "--verify", "homography"])) == VerificationConfig(model="homography")
    gate = _verification(parse(["demo", "--verify", "none", "--max-displacement", "25"]))
    assert gate == VerificationConfig(model=None, max_displacement=25.0)
