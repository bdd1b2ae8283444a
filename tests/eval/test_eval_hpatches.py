"""HPatches reader/writer: round trip, and resizing with corrected homographies (pixel centres at integers)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from superpoint_rt.eval.hpatches import (
    list_sequences,
    load_sequence,
    read_homography,
    resize_homography,
    scaling_matrix,
    write_sequence,
)
from superpoint_rt.geometry import warp_points

SIGMA = 2.5


def render_blobs(shape: tuple[int, int], centres: np.ndarray, sigma: float = SIGMA) -> np.ndarray:
    """uint8 image with a Gaussian blob (peak 200) at each (x, y) centre, computed analytically."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    img = np.zeros(shape)
    for x, y in centres:
        img += 200.0 * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def centroid(img: np.ndarray, near: np.ndarray, radius: float) -> np.ndarray:
    """Intensity-weighted centroid of ``img`` within ``radius`` of ``near`` (x, y)."""
    ys, xs = np.mgrid[0 : img.shape[0], 0 : img.shape[1]].astype(np.float64)
    w = img.astype(np.float64) * (((xs - near[0]) ** 2 + (ys - near[1]) ** 2) <= radius**2)
    return np.array([(w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()])


CENTRES = np.array([[30.0, 25.0], [90.5, 30.0], [140.0, 95.25], [60.0, 80.0], [120.0, 60.0]])
H_TRUE = np.array([[0.9, 0.08, 8.0], [-0.05, 0.95, 5.0], [2e-4, -1e-4, 1.0]])


def make_blob_sequence(folder: Path, size_1=(120, 160), size_k=(110, 170)) -> Path:
    """Image 1 with blobs at CENTRES, images 2..6 with blobs at H_TRUE(CENTRES) (different image size)."""
    img1 = render_blobs(size_1, CENTRES)
    imgk = render_blobs(size_k, warp_points(CENTRES, H_TRUE))
    return write_sequence(folder, [img1] + [imgk] * 5, [H_TRUE] * 5, ext=".png")


def test_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (30, 40), dtype=np.uint8) for _ in range(6)]
    homs = [np.eye(3) + rng.normal(0, 0.01, (3, 3)) for _ in range(5)]
    write_sequence(tmp_path / "v_rand", images, homs, ext=".png")
    seq = load_sequence(tmp_path / "v_rand")
    assert seq.name == "v_rand" and seq.kind == "v"
    for a, b in zip(images, seq.images):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(homs, seq.homographies):
        np.testing.assert_allclose(a, b, rtol=1e-11)
    assert seq.original_sizes == [(30, 40)] * 6
    pairs = list(seq.pairs())
    assert [p[0] for p in pairs] == [2, 3, 4, 5, 6]


def test_scaling_matrix_matches_cv2_resize() -> None:
    img = render_blobs((120, 160), CENTRES)
    for size in [(60, 80), (45, 100), (240, 320)]:
        small = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        s = scaling_matrix((120, 160), size)
        scale = size[1] / 160
        for c in CENTRES:
            predicted = warp_points(c[None], s)[0]
            got = centroid(small, predicted, radius=4 * SIGMA * max(scale, size[0] / 120))
            np.testing.assert_allclose(got, predicted, atol=0.1)


@pytest.mark.parametrize("target", [(60, 80), (48, 100), (240, 320)])
def test_resized_homography_maps_points_correctly(tmp_path: Path, target: tuple[int, int]) -> None:
    folder = make_blob_sequence(tmp_path / "v_blobs")
    seq = load_sequence(folder, size=target)
    assert all(img.shape == target for img in seq.images)
    s1 = scaling_matrix((120, 160), target)
    p1 = warp_points(CENTRES, s1)  # blob centres in resized image 1
    for _, img1, imgk, h in seq.pairs():
        for p_small in p1:
            np.testing.assert_allclose(centroid(img1, p_small, 6.0), p_small, atol=0.12)
            pk = warp_points(p_small[None], h)[0]
            radius = 4 * SIGMA * max(target[0] / 110, target[1] / 170)
            np.testing.assert_allclose(centroid(imgk, pk, radius), pk, atol=0.12)
    # and the corrected homography equals S_k H S_1^-1 computed independently
    sk = np.diag([target[1] / 170, target[0] / 110, 1.0])
    sk[0, 2], sk[1, 2] = (sk[0, 0] - 1) / 2, (sk[1, 1] - 1) / 2
    expected = sk @ H_TRUE @ np.linalg.inv(s1)
    np.testing.assert_allclose(seq.homographies[0], expected / expected[2, 2], rtol=1e-10)


def test_resize_homography_identity_when_size_unchanged() -> None:
    np.testing.assert_allclose(resize_homography(H_TRUE, (120, 160), (120, 160), (120, 160)), H_TRUE)


def test_list_sequences_and_errors(tmp_path: Path) -> None:
    make_blob_sequence(tmp_path / "v_b")
    make_blob_sequence(tmp_path / "i_a")
    (tmp_path / "README.md").write_text("not a sequence")
    (tmp_path / "x_other").mkdir()
    assert [p.name for p in list_sequences(tmp_path)] == ["i_a", "v_b"]
    assert [p.name for p in list_sequences(tmp_path, "v")] == ["v_b"]
    with pytest.raises(ValueError, match="no 'i_"):
        list_sequences(tmp_path / "x_other")
    with pytest.raises(FileNotFoundError):
        list_sequences(tmp_path / "missing")
    with pytest.raises(ValueError, match="not an HPatches sequence"):
        load_sequence(tmp_path / "x_other")
    (tmp_path / "v_b" / "3.png").unlink()
    with pytest.raises(FileNotFoundError, match="no image 3"):
        load_sequence(tmp_path / "v_b")
    (tmp_path / "bad").write_text("1 2 3\n4 5 6\n")
    with pytest.raises(ValueError, match="3x3"):
        read_homography(tmp_path / "bad")


def test_reads_ppm_and_jpg(tmp_path: Path) -> None:
    img = render_blobs((40, 50), CENTRES[:1] / 3)
    for ext in (".ppm", ".jpg"):
        write_sequence(tmp_path / f"i_{ext[1:]}", [img] * 6, [np.eye(3)] * 5, ext=ext)
        seq = load_sequence(tmp_path / f"i_{ext[1:]}")
        assert seq.images[0].shape == (40, 50) and seq.images[0].dtype == np.uint8
