"""Invariance probe: hand-worked homographies, views that agree with them, and the per-level aggregation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from superpoint_rt.eval.hpatches import list_sequences, load_sequence
from superpoint_rt.eval.invariance import (
    LEVELS,
    invariance_curves,
    make_invariance_benchmark,
    make_invariance_sequence,
    strength_axis,
    transform_homography,
)


def _apply(h: np.ndarray, x: float, y: float) -> tuple[float, float]:
    p = h @ np.array([x, y, 1.0])
    return p[0] / p[2], p[1] / p[2]


def test_homographies_hand_worked() -> None:
    cx, cy = 319.5, 239.5
    # 90 degrees counter-clockwise on screen (y down): +x goes to -y, +y to +x
    r = transform_homography("rot", 90.0)
    np.testing.assert_allclose(_apply(r, cx + 10, cy), (cx, cy - 10), atol=1e-9)
    np.testing.assert_allclose(_apply(r, cx, cy + 10), (cx + 10, cy), atol=1e-9)
    z = transform_homography("zin", 2.0)
    np.testing.assert_allclose(_apply(z, cx, cy), (cx, cy), atol=1e-9)
    np.testing.assert_allclose(_apply(z, cx + 10, cy - 5), (cx + 20, cy - 10), atol=1e-9)
    # tilt by a (f = width = 640), centred coordinates: K R_x K^-1 sends (x, y) to
    # (x, y cos a - f sin a) / (y sin a / f + cos a); then the centre is shifted back by f tan a
    a, f = np.deg2rad(30.0), 640.0
    t = transform_homography("tilt", 30.0)
    for x, y in [(0.0, 0.0), (100.0, 0.0), (0.0, 80.0), (-50.0, -120.0)]:
        den = y * np.sin(a) / f + np.cos(a)
        want = (cx + x / den, cy + (y * np.cos(a) - f * np.sin(a)) / den + f * np.tan(a))
        np.testing.assert_allclose(_apply(t, cx + x, cy + y), want, atol=1e-9)
    assert np.allclose(transform_homography("rot", 0.0), np.eye(3))
    assert strength_axis("zout") == [1.2, 1.4, 1.6, 1.8, 2.0] and strength_axis("rot")[0] == 10.0
    with pytest.raises(ValueError, match="transform"):
        transform_homography("shear", 1.0)
    with pytest.raises(ValueError, match="zoom"):
        transform_homography("zin", 0.0)


def _blob_canvas(points: list[tuple[float, float]], shape: tuple[int, int]) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    img = np.zeros(shape)
    for x, y in points:
        img += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 3.0**2))
    return np.clip(40 + 200 * img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("kind", sorted(LEVELS))
def test_views_agree_with_their_homographies(kind: str) -> None:
    h, w = 120, 160  # canvas 240x320, reference = its centre crop at offset (80, 60)
    ref_pt = (60.0, 50.0)
    canvas = _blob_canvas([(ref_pt[0] + 80, ref_pt[1] + 60)], (2 * h, 2 * w))
    images, homs = make_invariance_sequence(canvas, kind, np.random.default_rng(0), noise_sigma=0.0)
    assert len(images) == 6 and len(homs) == 5 and images[0].shape == (h, w)
    y0, x0 = np.unravel_index(np.argmax(images[0]), images[0].shape)
    assert (x0, y0) == ref_pt
    for img, hom in zip(images[1:], homs, strict=True):
        x, y = _apply(hom, *ref_pt)
        if not (3 <= x <= w - 4 and 3 <= y <= h - 4):
            continue  # the point left this view
        yk, xk = np.unravel_index(np.argmax(img), img.shape)
        assert abs(xk - x) <= 1.0 and abs(yk - y) <= 1.0, (kind, (xk, yk), (x, y))


def test_benchmark_layout_and_curves(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    photo = tmp_path / "Some Photo.png"
    import cv2

    cv2.imwrite(str(photo), rng.integers(0, 255, (300, 400), dtype=np.uint8))
    (tmp_path / "other").mkdir()
    same_name = tmp_path / "other" / "Some Photo.png"  # another package's file of the same name
    cv2.imwrite(str(same_name), rng.integers(0, 255, (300, 400), dtype=np.uint8))
    written = make_invariance_benchmark([photo, same_name], tmp_path / "bench", size=(60, 80), kinds=("rot", "zout"))
    assert sorted(p.name for p in written) == [
        "v_rot-some-photo", "v_rot-some-photo-2", "v_zout-some-photo", "v_zout-some-photo-2",
    ]  # fmt: skip
    seqs = list_sequences(tmp_path / "bench", "v")
    assert len(seqs) == 4
    seq = load_sequence(seqs[0])
    assert len(seq.images) == 6 and seq.images[0].shape[:2] == (60, 80)
    # aggregation, hand-worked: two sequences of one transform, a failed estimate (null) counts as wrong
    pairs = [
        {"sequence": "v_rot-a", "k": 2, "corner_error": 1.0, "repeatability": 0.8, "nn_map": 0.6},
        {"sequence": "v_rot-b", "k": 2, "corner_error": None, "repeatability": 0.4, "nn_map": None},
        {"sequence": "v_rot-a", "k": 6, "corner_error": 5.0, "repeatability": 0.2, "nn_map": 0.1},
        {"sequence": "v_other", "k": 2, "corner_error": 0.0, "repeatability": 1.0, "nn_map": 1.0},
    ]
    c = invariance_curves(pairs)
    assert set(c) == {"rot"}
    assert c["rot"]["homography"][0] == 0.5 and c["rot"]["homography"][4] == 0.0
    assert c["rot"]["repeatability"][0] == pytest.approx(0.6) and c["rot"]["nn_map"][0] == 0.6
    assert np.isnan(c["rot"]["repeatability"][1])
    assert "homography_trials" not in c["rot"]
    # several RANSAC orders per pair: each pair's share of orders within eps, a pair without estimates counts as 0
    pairs[0]["corner_errors"] = [1.0, 4.0, 2.0, None]  # 2 of 4 within 3 px
    pairs[2]["corner_errors"] = [5.0, 2.5]  # 1 of 2
    c = invariance_curves(pairs)
    assert c["rot"]["homography_trials"][0] == pytest.approx((0.5 + 0.0) / 2)
    assert c["rot"]["homography_trials"][4] == pytest.approx(0.5)
    assert c["rot"]["homography"][4] == 0.0  # the single run (trial 0) is unchanged
