"""``subpixel_method="forstner"`` (superpoint_rt.subpixel): the centroid5 estimate followed by one Förstner corner
step on the image with the centroid as a prior. Checked against an independent float64 oracle (per-keypoint loops,
2x2 matrices, absolute coordinates, ``np.linalg.solve``), against what the geometry says for corners, edges and flat
windows, and through the API."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from superpoint_rt.subpixel import FORSTNER_LIMIT, FORSTNER_PRIOR, FORSTNER_RADIUS, refine_subpixel


def _oracle(heat: np.ndarray, img: np.ndarray, kp: np.ndarray) -> np.ndarray:
    """Förstner step with a prior, written out per keypoint with matrices (the module docstring's formula)."""
    h, w = img.shape
    im = img.astype(np.float64)
    r = FORSTNER_RADIUS
    binom = [math.comb(2 * r, k) for k in range(2 * r + 1)]
    out = []
    for x, y in np.rint(kp).astype(int):
        # centroid5 prior, absolute coordinates
        tot, sx, sy = 0.0, 0.0, 0.0
        for v in range(y - 2, y + 3):
            for u in range(x - 2, x + 3):
                if 0 <= v < h and 0 <= u < w:
                    tot += float(heat[v, u])
                    sx += float(heat[v, u]) * u
                    sy += float(heat[v, u]) * v
        ph = np.array([x, y], float)
        if tot > 0:
            ph += np.clip([sx / tot - x, sy / tot - y], -1.0, 1.0)
        a = np.zeros((2, 2))
        b = np.zeros(2)
        x, y = (int(np.clip(np.rint(c), 0, n - 1)) for c, n in zip(ph, (w, h)))  # the window: the prior's pixel
        for v in range(y - r, y + r + 1):
            for u in range(x - r, x + r + 1):
                if not (0 <= v < h and 0 <= u < w):
                    continue

                def px(vv: int, uu: int) -> float:
                    return im[min(max(vv, 0), h - 1), min(max(uu, 0), w - 1)]

                kx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)
                patch = np.array([[px(v + i, u + j) for j in (-1, 0, 1)] for i in (-1, 0, 1)])
                g = np.array([(kx * patch).sum(), (kx.T * patch).sum()])
                m = binom[v - y + r] * binom[u - x + r] * np.outer(g, g)
                a += m
                b += m @ np.array([u, v], float)
        lam = FORSTNER_PRIOR * np.trace(a) / 2
        if lam > 0:
            q = np.linalg.solve(a + lam * np.eye(2), b + lam * ph)
            q = ph + np.clip(q - ph, -FORSTNER_LIMIT, FORSTNER_LIMIT)
        else:
            q = ph
        out.append(np.clip(q, 0, [w - 1, h - 1]))
    return np.array(out)


def _saddle_image(cx: float, cy: float, size: tuple[int, int] = (32, 40), blur: float = 0.8) -> np.ndarray:
    """A blurred checkerboard junction at (cx, cy) (two straight edges crossing there), float64 in [0, 1]."""
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]].astype(np.float64)
    erf = np.vectorize(math.erf)
    return 0.5 + 0.5 * erf((xx - cx) / (blur * math.sqrt(2))) * erf((yy - cy) / (blur * math.sqrt(2)))


def test_matches_float64_oracle_on_random_images() -> None:
    rng = np.random.default_rng(0)
    img = rng.random((30, 37))
    heat = rng.random((30, 37)).astype(np.float32) ** 4
    kp = np.array([[x, y] for y in range(0, 30, 3) for x in range(0, 37, 4)], np.float32)  # borders included
    out = refine_subpixel(heat, kp, "forstner", img.astype(np.float32))
    np.testing.assert_allclose(out, _oracle(heat, img.astype(np.float32), kp), atol=2e-5)


def test_junction_moves_toward_the_crossing() -> None:
    """A checkerboard junction: on the pixel it stays put (symmetry); at (20.3, 15.6) with the heatmap's peak on
    pixel (20, 16) the step moves toward the crossing on both axes without overshooting, ending much closer than the
    prior (one step on a window centred off the crossing, pulled back by the prior, goes part of the way)."""
    heat = np.zeros((32, 40), np.float32)
    heat[16, 20] = 1.0  # centroid5 of a single pixel: the prior is (20, 16)
    kp = np.array([[20, 16]], np.float32)
    np.testing.assert_allclose(refine_subpixel(heat, kp, "forstner", _saddle_image(20.0, 16.0))[0], [20, 16], atol=1e-6)
    out = refine_subpixel(heat, kp, "forstner", _saddle_image(20.3, 15.6))[0]
    assert 20.0 < out[0] < 20.3 and 15.6 < out[1] < 16.0
    assert np.linalg.norm(out - [20.3, 15.6]) < 0.75 * np.linalg.norm([0.3, -0.4])


def test_straight_edge_moves_across_only() -> None:
    """A vertical edge: gradients are horizontal, so the step moves x toward the edge and leaves y at the prior."""
    _, xx = np.mgrid[0:24, 0:24].astype(np.float64)
    img = 1.0 / (1.0 + np.exp(-(xx - 11.6) / 0.7))
    heat = np.zeros(img.shape, np.float32)
    heat[12, 12], heat[13, 12] = 0.75, 0.25  # prior (12, 12.25)
    out = refine_subpixel(heat, np.array([[12, 12]], np.float32), "forstner", img)[0]
    assert out[1] == pytest.approx(12.25, abs=1e-9)
    assert 11.6 < out[0] < 12.0  # toward the edge at 11.6, part of the way (the prior holds it)


def test_flat_window_keeps_the_centroid_and_contrast_does_not_matter() -> None:
    heat = np.zeros((20, 20), np.float32)
    heat[10, 10], heat[10, 11] = 0.5, 0.5
    kp = np.array([[10, 10]], np.float32)
    flat = np.full((20, 20), 0.3, np.float32)
    np.testing.assert_array_equal(refine_subpixel(heat, kp, "forstner", flat), refine_subpixel(heat, kp, "centroid5"))
    img = _saddle_image(9.7, 10.4, (20, 20))
    a = refine_subpixel(heat, kp, "forstner", img)
    b = refine_subpixel(heat, kp, "forstner", 5.0 * img + 40.0)  # gain and offset: the same step
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert not np.array_equal(a, refine_subpixel(heat, kp, "centroid5"))


def test_bounded_and_inside_the_image() -> None:
    rng = np.random.default_rng(3)
    img = rng.random((16, 16)).astype(np.float32)
    heat = rng.random((16, 16)).astype(np.float32)
    kp = np.array([[x, y] for y in range(16) for x in range(16)], np.float32)
    out = refine_subpixel(heat, kp, "forstner", img)
    assert np.all(np.abs(out - kp) <= 1.0 + FORSTNER_LIMIT + 1e-6)
    assert out.min() >= 0.0 and out[:, 0].max() <= 15.0 and out[:, 1].max() <= 15.0


def test_bad_input() -> None:
    heat = np.zeros((8, 8), np.float32)
    kp = np.array([[4, 4]], np.float32)
    with pytest.raises(ValueError, match="needs the image"):
        refine_subpixel(heat, kp, "forstner")
    with pytest.raises(ValueError, match="shape"):
        refine_subpixel(heat, kp, "forstner", np.zeros((8, 9), np.float32))
    bad = np.zeros((8, 8), np.float32)
    bad[2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        refine_subpixel(heat, kp, "forstner", bad)
    with pytest.raises(ValueError, match="real"):
        refine_subpixel(heat, kp, "forstner", np.zeros((8, 8), complex))
    assert refine_subpixel(heat, np.zeros((0, 2), np.float32), "forstner", heat).shape == (0, 2)


@pytest.mark.parametrize("scales", [(1.0,), (1.0, 0.5)])
def test_api_forstner(scales: tuple[float, ...]) -> None:
    """``subpixel_method="forstner"`` reaches the CPU pipeline with the network's own gray input: single scale it
    equals integer detection refined by the NumPy function; on a pyramid each level reads its own resized image."""
    from superpoint_rt import SuperPoint

    img = (_saddle_image(30.3, 25.6, (64, 80)) * 200 + np.random.default_rng(1).random((64, 80)) * 40).astype(np.uint8)
    kw = dict(conf_threshold=0.0, max_keypoints=50, scales=scales)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = SuperPoint("random", backend="onnxruntime", subpixel=False, **kw)
        fo = SuperPoint("random", backend="onnxruntime", subpixel_method="forstner", **kw)
        a, b = plain(img), fo(img)
        heat = plain.heatmap(img)
    assert len(a) == len(b) > 0
    if scales == (1.0,):
        gray = img.astype(np.float32) / np.float32(255.0)
        np.testing.assert_array_equal(b.keypoints, refine_subpixel(heat, a.keypoints, "forstner", gray))
    assert np.all(np.isfinite(b.keypoints))
    np.testing.assert_allclose(np.linalg.norm(b.descriptors, axis=1), 1.0, atol=1e-5)
