"""The benchmark generator: its homographies map image-1 features onto image k."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from superpoint_rt.eval.generate import (
    STRENGTHS,
    _centre_patch_homography,
    make_benchmark,
    make_illumination_sequence,
    make_viewpoint_sequence,
    photometric_change,
    prepare_reference,
    sample_viewpoint,
    sequence_name,
)
from superpoint_rt.eval.hpatches import load_sequence
from superpoint_rt.geometry import points_inside, warp_points

SHAPE = (120, 160)


def blob_image(shape: tuple[int, int], centres: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    img = np.full(shape, 20.0)
    for x, y in centres:
        img += 200.0 * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def centroid(img: np.ndarray, near: np.ndarray, radius: float) -> np.ndarray:
    ys, xs = np.mgrid[0 : img.shape[0], 0 : img.shape[1]].astype(np.float64)
    w = np.maximum(img.astype(np.float64) - 20.0, 0) * (((xs - near[0]) ** 2 + (ys - near[1]) ** 2) <= radius**2)
    return np.array([(w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()])


def blob_centres(shape: tuple[int, int], step: int = 20) -> np.ndarray:
    ys, xs = np.mgrid[10 : shape[0] - 5 : step, 10 : shape[1] - 5 : step]
    return np.stack([xs.ravel() + 0.3, ys.ravel() + 0.6], axis=1).astype(np.float64)


def test_viewpoint_homographies_map_features() -> None:
    centres = blob_centres(SHAPE)
    ref = blob_image(SHAPE, centres)
    images, homs = make_viewpoint_sequence(ref, np.random.default_rng(5), noise_sigma=0.0)
    assert len(images) == 6 and len(homs) == 5
    np.testing.assert_array_equal(images[0], ref)
    checked = 0
    for img, h in zip(images[1:], homs):
        assert img.shape == SHAPE
        warped = warp_points(centres, h)
        inside = points_inside(warped, *SHAPE, margin=8)
        for p in warped[inside]:
            np.testing.assert_allclose(centroid(img, p, 6.0), p, atol=0.3)
            checked += 1
    assert checked > 50


def test_viewpoint_images_show_only_the_reference() -> None:
    """Every pixel of image k comes from inside image 1 (no black borders): H^-1 maps corners inside."""
    rng = np.random.default_rng(0)
    corners = np.array([[0, 0], [SHAPE[1] - 1, 0], [0, SHAPE[0] - 1], [SHAPE[1] - 1, SHAPE[0] - 1]], float)
    for s in STRENGTHS:
        h = sample_viewpoint(*SHAPE, s, rng)
        back = warp_points(corners, np.linalg.inv(h))
        assert points_inside(back, *SHAPE, margin=-1e-6).all()
        assert not np.allclose(h, _centre_patch_homography(*SHAPE, 0.9 - 0.2 * s))


def test_illumination_sequence() -> None:
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 256, (*SHAPE, 3), dtype=np.uint8)
    images, homs = make_illumination_sequence(ref, rng)
    assert all(np.array_equal(h, np.eye(3)) for h in homs)
    assert all(img.shape == ref.shape and img.dtype == np.uint8 for img in images)
    diffs = [np.abs(img.astype(int) - ref).mean() for img in images[1:]]
    assert min(diffs) > 3.0
    gray = photometric_change(ref[..., 0], 1.0, rng)
    assert gray.shape == SHAPE


def test_prepare_reference_crops_to_the_aspect_ratio() -> None:
    img = np.zeros((600, 512), np.uint8)
    img[:, :] = np.arange(600)[:, None] // 3  # rows encode their index
    ref = prepare_reference(img, (480, 640))
    assert ref.shape == (480, 640)
    # a centre crop of 384 rows out of 600: rows 108..491 -> values 36..163
    assert abs(int(ref[0, 0]) - 36) <= 1 and abs(int(ref[-1, 0]) - 163) <= 1
    wide = prepare_reference(np.zeros((100, 400, 3), np.uint8), (48, 64))
    assert wide.shape == (48, 64, 3)


def test_make_benchmark_writes_readable_sequences(tmp_path: Path) -> None:
    photo = tmp_path / "My Photo.png"
    rng = np.random.default_rng(2)
    cv2.imwrite(str(photo), cv2.GaussianBlur(rng.integers(0, 256, (150, 200, 3), dtype=np.uint8), (5, 5), 1.5))
    written = make_benchmark([photo], tmp_path / "bench", size=(96, 128), ext=".png", seed=3)
    assert [p.name for p in written] == ["v_my-photo", "i_my-photo"]
    seq = load_sequence(written[0])
    assert seq.images[0].shape == (96, 128)
    again = make_benchmark([photo], tmp_path / "bench2", size=(96, 128), ext=".png", seed=3)
    np.testing.assert_allclose(load_sequence(again[0]).homographies[4], seq.homographies[4])
    with pytest.raises(ValueError, match="kinds"):
        make_benchmark([photo], tmp_path / "x", kinds="q")
    with pytest.raises(ValueError, match="no photos"):
        make_benchmark([], tmp_path / "x")


def test_sequence_name() -> None:
    assert sequence_name("v", "/a/Kleiber_by_Lukas.jpg") == "v_kleiber-by-lukas"
    assert sequence_name("i", "x/grace_hopper.jpg") == "i_grace-hopper"
