"""superpoint_rt.train.warp_centroid against a float64 NumPy oracle and hand-worked cases, and its place in the loss."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("yaml")

from heat_helpers import heat64, logits_of, peaks64  # noqa: E402

from superpoint_rt.train.config import DataConfig, TrainConfig  # noqa: E402
from superpoint_rt.train.pairs import PairBatches  # noqa: E402
from superpoint_rt.train.trainer import Trainer  # noqa: E402
from superpoint_rt.train.warp_centroid import warp_centroid_loss  # noqa: E402

MARGIN = 8


def _oracle(la: np.ndarray, lb: np.ndarray, hs: np.ndarray, valid: np.ndarray | None = None) -> float:
    """The term by hand: centroid5 keypoints (superpoint_rt.subpixel's own offsets, unclipped) of both heatmaps,
    the source ones warped in float64, paired with the nearest warped-image peak within 2 px, kept within 3 px."""
    from superpoint_rt.subpixel import _centroid_offsets

    ha, hb = heat64(la), heat64(lb)
    sq: list[float] = []
    for i in range(len(ha)):
        xa, ya = peaks64(ha[i], MARGIN, 256)
        xb, yb = peaks64(hb[i], MARGIN, 10**9)
        if not len(xa) or not len(xb):
            continue
        pa = np.stack([xa, ya], 1) + np.stack(_centroid_offsets(ha[i], xa, ya, 2, np.inf), 1)
        w = np.c_[pa, np.ones(len(pa))] @ hs[i].T
        q = w[:, :2] / w[:, 2:]
        pb = np.stack([xb, yb], 1) + np.stack(_centroid_offsets(hb[i], xb, yb, 2, np.inf), 1)
        for k in range(len(q)):
            d = np.hypot(xb - q[k, 0], yb - q[k, 1])
            j = int(np.argmin(d))
            if d[j] > 2.0 or (valid is not None and not valid[i, yb[j] // 8, xb[j] // 8]):
                continue
            e = float(((pb[j] - q[k]) ** 2).sum())
            if e <= 9.0:
                sq.append(e)
    return float(np.mean(sq)) if sq else 0.0


def _near_identity(rng: np.random.Generator, n: int) -> np.ndarray:
    h = np.tile(np.eye(3), (n, 1, 1))
    h[:, :2, :2] += rng.normal(0, 0.01, (n, 2, 2))
    h[:, :2, 2] = rng.normal(0, 0.8, (n, 2))
    h[:, 2, :2] = rng.normal(0, 2e-4, (n, 2))
    return h


def test_warp_centroid_loss_equals_float64_oracle() -> None:
    rng = np.random.default_rng(7)
    a = rng.normal(0, 3, (2, 65, 6, 7)).astype(np.float32)
    b = a + rng.normal(0, 1, a.shape).astype(np.float32)  # a perturbed copy: peaks near the same places
    hs = _near_identity(rng, 2)
    valid = rng.uniform(size=(2, 6, 7)) > 0.2
    la, lb, ht = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(hs)
    want = _oracle(a, b, hs)
    assert want > 0
    np.testing.assert_allclose(float(warp_centroid_loss(la, lb, ht)), want, rtol=1e-4)
    want_valid = _oracle(a, b, hs, valid)
    assert want_valid != want
    got = float(warp_centroid_loss(la, lb, ht, torch.from_numpy(valid)))
    np.testing.assert_allclose(got, want_valid, rtol=1e-4)


def _blob(h: int, w: int, x: int, y: int) -> np.ndarray:
    """(1, h, w) heatmap with one 3x3 blob centred on pixel (x, y), asymmetric so its centroid is off the pixel."""
    heat = np.full((1, h, w), 1e-6)
    heat[0, y - 1 : y + 2, x - 1 : x + 2] = [[0.02, 0.05, 0.01], [0.08, 0.3, 0.05], [0.02, 0.06, 0.02]]
    return heat


def test_warp_centroid_loss_by_hand() -> None:
    """One blob. Moved by the homography's whole-pixel translation: 0. The homography says (1.5, 0.25) but the
    blob moved by (1, 0): the keypoints are (0.5, 0.25) apart, 0.3125 px^2. Moved 5 px off: no pair, 0."""
    h, w = 48, 56
    la = logits_of(_blob(h, w, 24, 21))
    t = np.eye(3)[None].copy()
    t[0, :2, 2] = [3, 2]
    moved = logits_of(_blob(h, w, 27, 23))
    assert float(warp_centroid_loss(la, moved, torch.from_numpy(t))) == pytest.approx(0.0, abs=1e-9)
    t[0, :2, 2] = [1.5, 0.25]
    one = logits_of(_blob(h, w, 25, 21))
    assert float(warp_centroid_loss(la, one, torch.from_numpy(t))) == pytest.approx(0.3125, abs=1e-5)
    t[0, :2, 2] = [6.0, 3.0]
    assert float(warp_centroid_loss(la, one, torch.from_numpy(t))) == 0.0
    # a scaling about the blob's keypoint leaves it in place: 0 whatever the scale
    from superpoint_rt.subpixel import _centroid_offsets

    base = _blob(h, w, 24, 21)[0]
    dx, dy = _centroid_offsets(base, np.array([24]), np.array([21]), 2, np.inf)
    c = np.array([24 + dx[0], 21 + dy[0]])
    s = np.diag([1.3, 1.3, 1.0])
    s[:2, 2] = c - 1.3 * c
    assert float(warp_centroid_loss(la, la, torch.from_numpy(s[None]))) == pytest.approx(0.0, abs=1e-9)


def test_warp_centroid_loss_gradient_lowers_it() -> None:
    """Both heatmaps get a gradient; one step on the warped image's logits lowers the term."""
    rng = np.random.default_rng(8)
    a = torch.from_numpy(rng.normal(0, 3, (1, 65, 6, 7)).astype(np.float32)).requires_grad_(True)
    b = (a.detach() + torch.from_numpy(rng.normal(0, 1, a.shape).astype(np.float32))).requires_grad_(True)
    hs = torch.from_numpy(_near_identity(rng, 1))
    before = warp_centroid_loss(a, b, hs)
    before.backward()
    assert a.grad is not None and b.grad is not None
    assert float(a.grad.abs().sum()) > 0 and float(b.grad.abs().sum()) > 0
    with torch.no_grad():
        after = warp_centroid_loss(a, b - 0.5 * b.grad, hs)
    assert float(after) < float(before.detach())
    flat = torch.zeros(1, 65, 6, 7)
    flat[0, 64] = 10.0  # the dustbin takes the heat: no peak above the threshold, 0 with a gradient path
    flat.requires_grad_(True)
    out = warp_centroid_loss(flat, flat, hs)
    out.backward()
    assert float(out.detach()) == 0.0 and flat.grad is not None


def test_warp_centroid_inputs_are_checked() -> None:
    a = torch.zeros(2, 65, 4, 4)
    eye = torch.eye(3, dtype=torch.float64).repeat(2, 1, 1)
    with pytest.raises(ValueError, match="differ"):
        warp_centroid_loss(a, torch.zeros(2, 65, 4, 5), eye)
    with pytest.raises(ValueError, match="homographies must be"):
        warp_centroid_loss(a, a, eye[:1])
    bad = eye.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        warp_centroid_loss(a, a, bad)
    with pytest.raises(ValueError, match="margin"):
        warp_centroid_loss(a, a, eye, margin=1)
    with pytest.raises(ValueError, match="lambda_warp"):
        TrainConfig(stage="superpoint", lambda_warp=-0.5)


def test_lambda_warp_adds_the_term_of_the_training_pair(
    tmp_path: Path, labelled_images: Callable[..., DataConfig]
) -> None:
    """The trainer's ``warp`` part is the term of the pair's two heatmaps and homography (the warped cells that see
    the source); the loss adds it at ``lambda_warp``; the other parts do not change."""
    data = labelled_images(tmp_path, 2, seed=3, size=(40, 48))
    batch = PairBatches(data, 2, seed=0).batch(0)
    parts = {}
    for lam in (0.0, 0.7):
        cfg = TrainConfig(
            stage="superpoint", batch_size=2, max_steps=1, torch_threads=1, precision="fp32", channels_last=False,
            data=data, lambda_loss=1.0, lambda_warp=lam, val_every=0, dustbin_prior=0.0,
        )  # fmt: skip
        tr = Trainer(cfg, tmp_path / f"run{lam}", progress=False)
        torch.manual_seed(0)
        for p in tr.net.parameters():  # the same random network in both runs
            p.data.normal_(0, 0.05)
        tr.model.eval()
        with torch.no_grad():
            loss, parts[lam] = tr.compute_loss(batch)
        total = parts[lam]["det"] + parts[lam]["wdet"] + parts[lam]["desc"]
        if lam == 0.0:
            assert "warp" not in parts[lam]
            np.testing.assert_allclose(float(loss), total, rtol=1e-5)
            continue
        with torch.no_grad():
            logits, _ = tr.model(torch.cat([batch["image"], batch["warped_image"]]))
        want = float(warp_centroid_loss(logits[:2], logits[2:], batch["homography"], batch["warped_cell_valid"]))
        np.testing.assert_allclose(parts[lam]["warp"], want, rtol=1e-4)
        np.testing.assert_allclose(float(loss), total + lam * want, rtol=1e-5)
    for k in ("det", "wdet", "desc"):
        np.testing.assert_allclose(parts[0.7][k], parts[0.0][k], rtol=1e-5)
