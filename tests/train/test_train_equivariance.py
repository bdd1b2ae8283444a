"""superpoint_rt.train.equivariance against NumPy oracles (float64), and its place in the SuperPoint-stage loss."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("yaml")

from heat_helpers import heat64, logits_of, peaks64  # noqa: E402

from superpoint_rt.train.config import DataConfig, TrainConfig  # noqa: E402
from superpoint_rt.train.equivariance import (  # noqa: E402
    SHIFT_MARGIN,
    draw_shifts,
    shift_centroid_loss,
    shift_consistency_loss,
    shift_images,
    shift_loss,
)
from superpoint_rt.train.pairs import PairBatches  # noqa: E402
from superpoint_rt.train.trainer import Trainer  # noqa: E402


def _centroid_loss_oracle(
    la: np.ndarray, ls: np.ndarray, shifts: np.ndarray, margin: int = SHIFT_MARGIN, max_points: int = 256
) -> float:
    """Float64 loops: peaks of the aligned unshifted heatmap (strict 9x9 maximum, > 0.015, ``margin`` inside), the
    centroid5 refinement's own offsets (superpoint_rt.subpixel, unclipped) on both heatmaps, squared distance."""
    from superpoint_rt.subpixel import _centroid_offsets

    ha, hs = heat64(la), heat64(ls)
    sq = []
    for i, (dx, dy) in enumerate(shifts):
        a = ha[i, : ha.shape[1] - dy, : ha.shape[2] - dx]
        c = hs[i, dy:, dx:]
        xs, ys = peaks64(a, margin, max_points)
        if not len(xs):
            continue
        oa = np.stack(_centroid_offsets(a, xs, ys, 2, np.inf), axis=1)
        oc = np.stack(_centroid_offsets(c, xs, ys, 2, np.inf), axis=1)
        sq.extend(((oa - oc) ** 2).sum(axis=1))
    return float(np.mean(sq))


def test_draw_shifts_cover_every_phase_but_zero() -> None:
    s = draw_shifts(np.random.default_rng(0), 5000)
    assert s.shape == (5000, 2) and s.dtype == np.int64
    assert s.min() == 0 and s.max() == 7
    assert not ((s[:, 0] == 0) & (s[:, 1] == 0)).any()
    assert len({tuple(v) for v in s}) == 63
    np.testing.assert_array_equal(s[:10], draw_shifts(np.random.default_rng(0), 10))


def test_shift_images_equals_numpy_edge_padding() -> None:
    rng = np.random.default_rng(1)
    img = rng.uniform(0, 1, (3, 1, 16, 24)).astype(np.float32)
    shifts = np.array([[1, 2], [0, 7], [5, 0]])
    got = shift_images(torch.from_numpy(img), shifts).numpy()
    for i, (dx, dy) in enumerate(shifts):
        want = np.pad(img[i, 0], ((dy, 0), (dx, 0)), mode="edge")[:16, :24]
        np.testing.assert_array_equal(got[i, 0], want)
        assert got[i, 0, dy + 3, dx + 4] == img[i, 0, 3, 4]  # content at (x, y) moves to (x + dx, y + dy)


def test_shift_consistency_loss_equals_float64_oracle() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(0, 3, (2, 65, 5, 6)).astype(np.float32)
    s = rng.normal(0, 3, (2, 65, 5, 6)).astype(np.float32)
    shifts = np.array([[3, 1], [0, 6]])
    got = float(shift_consistency_loss(torch.from_numpy(a), torch.from_numpy(s), shifts))
    ha, hs = heat64(a), heat64(s)
    m, h, w = SHIFT_MARGIN, 40, 48
    want = []
    for i, (dx, dy) in enumerate(shifts):
        d = ha[i, m : h - dy - m, m : w - dx - m] - hs[i, m + dy : h - m, m + dx : w - m]
        want.append((d**2).sum() / (d.size / 64.0))
    np.testing.assert_allclose(got, np.mean(want), rtol=1e-5)


def test_shift_consistency_loss_is_zero_when_the_heatmaps_agree() -> None:
    a = torch.zeros(1, 65, 4, 4)  # uniform: every pixel 1/65, whatever the shift
    assert float(shift_consistency_loss(a, a.clone(), np.array([[5, 3]]))) == pytest.approx(0.0, abs=1e-12)
    r = torch.randn(1, 65, 4, 4)
    assert float(shift_consistency_loss(r, r.clone(), np.array([[0, 0]]))) == 0.0
    # one peak, moved exactly by the shift: the loss does not see it
    p = torch.full((1, 65, 4, 4), -20.0)
    p[0, 64] = 0.0
    q = p.clone()
    p[0, 8 * 1 + 2, 1, 1] = 5.0  # pixel (x, y) = (8 + 2, 8 + 1)
    q[0, 8 * 4 + 5, 1, 1] = 5.0  # the same, shifted by (3, 3)
    assert float(shift_consistency_loss(p, q, np.array([[3, 3]]))) == pytest.approx(0.0, abs=1e-9)
    assert float(shift_consistency_loss(p, q, np.array([[2, 3]]))) > 0.5


def test_shift_centroid_loss_equals_float64_oracle() -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(0, 3, (2, 65, 6, 7)).astype(np.float32)
    s = a + rng.normal(0, 1, a.shape).astype(np.float32)  # a perturbed copy: peaks near the same places
    shifts = np.array([[3, 1], [0, 6]])
    got = float(shift_centroid_loss(torch.from_numpy(a), torch.from_numpy(s), shifts))
    want = _centroid_loss_oracle(a, s, shifts)
    assert want > 0
    np.testing.assert_allclose(got, want, rtol=1e-4)
    few = float(shift_centroid_loss(torch.from_numpy(a), torch.from_numpy(s), shifts, max_points=3))
    np.testing.assert_allclose(few, _centroid_loss_oracle(a, s, shifts, max_points=3), rtol=1e-4)


def test_shift_centroid_loss_by_hand_and_blind_to_the_peaks_height() -> None:
    """One blob (a 3x3 patch of heat): moved exactly with the image, 0 -- also when the shifted copy's heat is half
    as high (where the heatmap term is not); moved one pixel too far, 1 px^2."""
    h, w = 48, 56
    base = np.full((1, h, w), 1e-6)
    base[0, 20:23, 24:27] = [[0.02, 0.05, 0.02], [0.05, 0.3, 0.05], [0.02, 0.05, 0.02]]  # peak at (25, 21)
    dx, dy = 3, 2
    moved = np.full_like(base, 1e-6)
    moved[0, dy:, dx:] = base[0, : h - dy, : w - dx]
    la, shifts = logits_of(base), np.array([[dx, dy]])
    assert float(shift_centroid_loss(la, logits_of(moved), shifts)) == pytest.approx(0.0, abs=1e-9)
    half = logits_of(np.where(moved > 1e-6, moved / 2, moved))
    assert float(shift_centroid_loss(la, half, shifts)) == pytest.approx(0.0, abs=1e-6)
    assert float(shift_consistency_loss(la, half, shifts)) > 1e-3
    too_far = np.full_like(base, 1e-6)
    too_far[0, dy:, dx + 1 :] = base[0, : h - dy, : w - dx - 1]
    assert float(shift_centroid_loss(la, logits_of(too_far), shifts)) == pytest.approx(1.0, abs=1e-3)
    # no peak above the threshold: 0, with a gradient path
    flat = torch.zeros(1, 65, 6, 7, requires_grad=True)
    out = shift_centroid_loss(flat, flat, shifts)
    out.backward()
    assert float(out.detach()) == 0.0 and flat.grad is not None


def test_shift_centroid_loss_gradient_moves_the_centroid_back() -> None:
    """One gradient step on the shifted copy's logits lowers the loss (the term is differentiable where it counts)."""
    rng = np.random.default_rng(5)
    a = torch.from_numpy(rng.normal(0, 3, (1, 65, 6, 7)).astype(np.float32))
    s = (a + torch.from_numpy(rng.normal(0, 1, a.shape).astype(np.float32))).requires_grad_(True)
    shifts = np.array([[2, 5]])
    before = shift_centroid_loss(a, s, shifts)
    before.backward()
    assert s.grad is not None and float(s.grad.abs().sum()) > 0
    with torch.no_grad():
        after = shift_centroid_loss(a, s - 0.5 * s.grad, shifts)
    assert float(after) < float(before.detach())


def test_shift_inputs_are_checked() -> None:
    a = torch.zeros(2, 65, 4, 4)
    with pytest.raises(ValueError, match="shifts must be"):
        shift_consistency_loss(a, a, np.array([[8, 0], [0, 0]]))
    with pytest.raises(ValueError, match="shifts must be"):
        shift_consistency_loss(a, a, np.array([[1, 0]]))
    with pytest.raises(ValueError, match="shifts must be"):
        shift_images(torch.zeros(2, 1, 8, 8), np.array([[0.5, 0.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="differ"):
        shift_consistency_loss(a, torch.zeros(2, 65, 4, 5), np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="nothing to compare"):
        shift_consistency_loss(torch.zeros(1, 65, 2, 2), torch.zeros(1, 65, 2, 2), np.zeros((1, 2), int))
    with pytest.raises(ValueError, match="lambda_shift"):
        TrainConfig(stage="superpoint", lambda_shift=-1.0)
    with pytest.raises(ValueError, match="shift_loss"):
        TrainConfig(stage="superpoint", shift_loss="l1")
    with pytest.raises(ValueError, match="shift_loss"):
        shift_loss("l1", a, a, np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="margin"):
        shift_centroid_loss(a, a, np.zeros((2, 2), int), margin=1)


@pytest.mark.parametrize("kind", ["heatmap", "centroid"])
def test_lambda_shift_adds_the_shift_term_on_the_source_images(
    tmp_path: Path, labelled_images: Callable[..., DataConfig], kind: str
) -> None:
    """The trainer's ``shift`` part is the ``shift_loss`` term of the source images and their copies shifted by
    the step's draw; the loss adds it at ``lambda_shift``; without it the other parts are unchanged."""
    import numpy.random as npr

    from superpoint_rt.train.equivariance import SHIFT_STREAM

    data = labelled_images(tmp_path, 2, seed=1, size=(40, 48))
    batch = PairBatches(data, 2, seed=0).batch(0)
    parts = {}
    for lam in (0.0, 2.5):
        cfg = TrainConfig(
            stage="superpoint", batch_size=2, max_steps=1, torch_threads=1, precision="fp32", channels_last=False,
            data=data, lambda_loss=1.0, lambda_shift=lam, shift_loss=kind, val_every=0, dustbin_prior=0.0,
        )  # fmt: skip
        tr = Trainer(cfg, tmp_path / f"run{lam}", progress=False)
        tr.model.eval()  # batch statistics fixed: each view's logits do not depend on the others
        with torch.no_grad():
            loss, parts[lam] = tr.compute_loss(batch)
        total = parts[lam]["det"] + parts[lam]["wdet"] + parts[lam]["desc"]
        if lam == 0.0:
            assert "shift" not in parts[lam]
            np.testing.assert_allclose(float(loss), total, rtol=1e-5)
            continue
        shifts = draw_shifts(npr.default_rng([cfg.seed, 0, 0, SHIFT_STREAM]), 2)
        with torch.no_grad():
            logits, _ = tr.model(batch["image"])
            shifted, _ = tr.model(shift_images(batch["image"], shifts))
        want = float(shift_loss(kind, logits, shifted, shifts))
        assert want > 0
        np.testing.assert_allclose(parts[lam]["shift"], want, rtol=1e-4)
        np.testing.assert_allclose(float(loss), total + lam * want, rtol=1e-5)
    for k in ("det", "wdet", "desc"):
        np.testing.assert_allclose(parts[2.5][k], parts[0.0][k], rtol=1e-5)
