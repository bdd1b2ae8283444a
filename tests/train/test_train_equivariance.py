"""superpoint_rt.train.equivariance against NumPy oracles (float64), and its place in the SuperPoint-stage loss."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("yaml")

from superpoint_rt.train.config import DataConfig, TrainConfig  # noqa: E402
from superpoint_rt.train.equivariance import (  # noqa: E402
    SHIFT_MARGIN,
    draw_shifts,
    shift_consistency_loss,
    shift_images,
)
from superpoint_rt.train.pairs import PairBatches  # noqa: E402
from superpoint_rt.train.trainer import Trainer  # noqa: E402


def _heat64(logits: np.ndarray) -> np.ndarray:
    """(B, 65, Hc, Wc) -> (B, 8Hc, 8Wc) float64: softmax, dustbin dropped, class 8r+c at pixel (8i+r, 8j+c)."""
    z = logits.astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = (e / e.sum(axis=1, keepdims=True))[:, :64]
    b, _, hc, wc = p.shape
    return p.reshape(b, 8, 8, hc, wc).transpose(0, 3, 1, 4, 2).reshape(b, 8 * hc, 8 * wc)


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
    ha, hs = _heat64(a), _heat64(s)
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


def test_lambda_shift_adds_the_shift_term_on_the_source_images(
    tmp_path: Path, labelled_images: Callable[..., DataConfig]
) -> None:
    """The trainer's ``shift`` part is shift_consistency_loss of the source images and their copies shifted by the
    step's draw; the loss adds it at ``lambda_shift``; without it the other parts are unchanged."""
    import numpy.random as npr

    from superpoint_rt.train.equivariance import SHIFT_STREAM

    data = labelled_images(tmp_path, 2, seed=1, size=(40, 48))
    batch = PairBatches(data, 2, seed=0).batch(0)
    parts = {}
    for lam in (0.0, 2.5):
        cfg = TrainConfig(
            stage="superpoint", batch_size=2, max_steps=1, torch_threads=1, precision="fp32", channels_last=False,
            data=data, lambda_loss=1.0, lambda_shift=lam, val_every=0,
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
        want = float(shift_consistency_loss(logits, shifted, shifts))
        np.testing.assert_allclose(parts[lam]["shift"], want, rtol=1e-4)
        np.testing.assert_allclose(float(loss), total + lam * want, rtol=1e-5)
    for k in ("det", "wdet", "desc"):
        np.testing.assert_allclose(parts[2.5][k], parts[0.0][k], rtol=1e-5)
