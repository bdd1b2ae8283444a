"""ops.sample_descriptors (C++) against the NumPy reference, torch's grid_sample and hand-worked cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from superpoint_rt import ops
from superpoint_rt.ops import reference

COMBOS = list(itertools.product(ops.INTERPOLATIONS, ops.CONVENTIONS))
SIZES = [(240, 320), (480, 640), (720, 1280)]


def random_keypoints(n: int, h: int, w: int, seed: int, margin: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-margin, w - 1 + margin, n)
    y = rng.uniform(-margin, h - 1 + margin, n)
    return np.stack([x, y], 1).astype(np.float32)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("interpolation", "convention"), COMBOS)
def test_matches_reference(size: tuple[int, int], interpolation: str, convention: str) -> None:
    h, w = size
    rng = np.random.default_rng(h + len(convention))
    coarse = rng.standard_normal((256, h // 8, w // 8)).astype(np.float32)
    kps = random_keypoints(500, h, w, seed=w, margin=12.0)
    desc = ops.sample_descriptors(coarse, kps, interpolation, convention)
    assert desc.dtype == np.float32 and desc.shape == (500, 256)
    np.testing.assert_allclose(desc, reference.sample_descriptors(coarse, kps, interpolation, convention), atol=1e-5)
    norms = np.linalg.norm(desc, axis=1)
    np.testing.assert_allclose(norms[norms > 0], 1.0, atol=1e-5)


@pytest.mark.parametrize(("interpolation", "convention"), COMBOS)
def test_float16_coarse(interpolation: str, convention: str) -> None:
    rng = np.random.default_rng(21)
    coarse16 = rng.standard_normal((64, 12, 16)).astype(np.float16)
    kps = random_keypoints(200, 96, 128, seed=22, margin=20.0)
    desc = ops.sample_descriptors(coarse16, kps, interpolation, convention)
    np.testing.assert_allclose(desc, reference.sample_descriptors(coarse16, kps, interpolation, convention), atol=1e-5)
    np.testing.assert_allclose(
        desc, ops.sample_descriptors(coarse16.astype(np.float32), kps, interpolation, convention), atol=1e-6
    )


def _torch_grid_sample(coarse: np.ndarray, kps: np.ndarray, mode: str, convention: str) -> np.ndarray:
    """Second oracle: each convention written as the grid_sample call that defines it (float64)."""
    torch = pytest.importorskip("torch")
    f = torch.nn.functional
    _, hc, wc = coarse.shape
    x = torch.from_numpy(kps[:, 0].astype(np.float64))
    y = torch.from_numpy(kps[:, 1].astype(np.float64))
    if convention == "center":  # u = (x - 3.5) / 8 with align_corners=False: x' = (2u + 1) / Wc - 1
        gx, gy = (2 * (x - 3.5) / 8 + 1) / wc - 1, (2 * (y - 3.5) / 8 + 1) / hc - 1
        align, padding = False, "border"
    elif convention == "magicleap":  # the original demo: x / (W / 2) - 1, align_corners=False, zeros
        gx, gy = x / (8 * wc / 2) - 1, y / (8 * hc / 2) - 1
        align, padding = False, "zeros"
    else:  # SuperGlue's formula with s = 8, align_corners=True (clamped taps: see ops docstring)
        s = 8
        gx = (x - s / 2 + 0.5) / (wc * s - s / 2 - 0.5) * 2 - 1
        gy = (y - s / 2 + 0.5) / (hc * s - s / 2 - 0.5) * 2 - 1
        align, padding = True, "border"
    grid = torch.stack([gx, gy], -1)[None, None]
    inp = torch.from_numpy(coarse.astype(np.float64))[None]
    out = f.grid_sample(inp, grid, mode=mode, padding_mode=padding, align_corners=align)[0, :, 0].T
    return f.normalize(out, dim=1).numpy()


@pytest.mark.parametrize(("interpolation", "convention"), COMBOS)
def test_matches_torch_grid_sample(interpolation: str, convention: str) -> None:
    rng = np.random.default_rng(31)
    coarse = rng.standard_normal((32, 7, 9)).astype(np.float32)
    kps = random_keypoints(400, 56, 72, seed=32, margin=40.0)  # many points outside the image
    kps[:20] = np.round(kps[:20])  # integer pixels
    kps[20:40] = np.round(kps[20:40] - 0.5) + 0.5  # half-integers (exact cell boundaries/centres)
    expected = _torch_grid_sample(coarse, kps, interpolation, convention)
    np.testing.assert_allclose(ops.sample_descriptors(coarse, kps, interpolation, convention), expected, atol=1e-5)


@pytest.mark.parametrize("interpolation", ops.INTERPOLATIONS)
def test_cell_centres_read_exact_cells(interpolation: str) -> None:
    rng = np.random.default_rng(41)
    coarse = rng.standard_normal((16, 5, 6)).astype(np.float32)
    unit = coarse / np.linalg.norm(coarse, axis=0, keepdims=True)
    ii, jj = np.meshgrid(np.arange(5), np.arange(6), indexing="ij")
    i, j = ii.ravel(), jj.ravel()
    cells = unit[:, i, j].T
    centre = np.stack([8 * j + 3.5, 8 * i + 3.5], 1).astype(np.float32)
    np.testing.assert_allclose(ops.sample_descriptors(coarse, centre, interpolation, "center"), cells, atol=1e-6)
    magic = np.stack([8 * j + 4.0, 8 * i + 4.0], 1).astype(np.float32)  # u = x / 8 - 0.5 = j
    np.testing.assert_allclose(ops.sample_descriptors(coarse, magic, interpolation, "magicleap"), cells, atol=1e-6)
    # superglue: x = 3.5 -> u = 0 and x = 8 Wc - 1 -> u = Wc - 1 (the corner cells)
    corners = np.array([[3.5, 3.5], [8 * 6 - 1, 8 * 5 - 1]], np.float32)
    np.testing.assert_allclose(
        ops.sample_descriptors(coarse, corners, interpolation, "superglue"), unit[:, [0, 4], [0, 5]].T, atol=1e-6
    )


def test_bilinear_midpoint_hand_worked() -> None:
    coarse = np.zeros((2, 1, 2), np.float32)
    coarse[:, 0, 0] = [1.0, 0.0]
    coarse[:, 0, 1] = [0.0, 1.0]
    # x = 7.5 is halfway between the two cell centres (3.5 and 11.5): (0.5, 0.5) -> normalised
    desc = ops.sample_descriptors(coarse, np.array([[7.5, 3.5], [5.5, 3.5]], np.float32))
    np.testing.assert_allclose(desc[0], [np.sqrt(0.5), np.sqrt(0.5)], atol=1e-7)
    np.testing.assert_allclose(desc[1], np.array([0.75, 0.25]) / np.hypot(0.75, 0.25), atol=1e-7)


def test_padding_rules_far_outside() -> None:
    rng = np.random.default_rng(51)
    coarse = rng.standard_normal((8, 4, 5)).astype(np.float32)
    unit = coarse / np.linalg.norm(coarse, axis=0, keepdims=True)
    far = np.array([[-1e6, -1e6], [1e6, -1e6], [-1e30, 1e30], [1e9, 1e9]], np.float32)
    for interpolation in ops.INTERPOLATIONS:
        zero = ops.sample_descriptors(coarse, far, interpolation, "magicleap")
        np.testing.assert_array_equal(zero, np.zeros_like(zero))  # zero padding: no NaN
        for convention in ("center", "superglue"):  # edge clamping: the corner cells
            edge = ops.sample_descriptors(coarse, far, interpolation, convention)
            np.testing.assert_allclose(edge, unit[:, [0, 0, 3, 3], [0, 4, 0, 4]].T, atol=1e-6)


def test_zero_descriptors_stay_zero() -> None:
    coarse = np.zeros((16, 3, 3), np.float32)
    kps = random_keypoints(10, 24, 24, seed=61)
    for interpolation, convention in COMBOS:
        out = ops.sample_descriptors(coarse, kps, interpolation, convention)
        np.testing.assert_array_equal(out, np.zeros((10, 16), np.float32))


def test_tiny_values_are_normalised() -> None:
    """Sum of squares in double: values whose squares underflow float32 still normalise."""
    coarse = np.full((4, 2, 2), 1e-30, np.float32)
    out = ops.sample_descriptors(coarse, np.array([[4.0, 4.0]], np.float32))
    np.testing.assert_allclose(out, np.full((1, 4), 0.5), atol=1e-6)


def test_empty_keypoints_and_one_cell_maps() -> None:
    coarse = np.random.default_rng(71).standard_normal((32, 1, 1)).astype(np.float32)
    assert ops.sample_descriptors(coarse, np.zeros((0, 2), np.float32)).shape == (0, 32)
    kps = random_keypoints(20, 8, 8, seed=72, margin=30.0)
    unit = coarse[:, 0, 0] / np.linalg.norm(coarse[:, 0, 0])
    for interpolation, convention in COMBOS:
        out = ops.sample_descriptors(coarse, kps, interpolation, convention)
        np.testing.assert_allclose(out, reference.sample_descriptors(coarse, kps, interpolation, convention), atol=1e-6)
        if convention != "magicleap":  # a 1x1 map with edge clamping reads the one cell everywhere
            np.testing.assert_allclose(out, np.tile(unit, (20, 1)), atol=1e-6)
