"""Training losses against hand-worked values and float64 NumPy oracles."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from superpoint_rt.train.losses import (  # noqa: E402
    cell_centers,
    cell_valid_mask,
    correspondence_mask,
    descriptor_loss,
    descriptor_softmax_loss,
    detector_loss,
    points_to_labels,
    points_to_soft_labels,
    positive_pairs,
)


def test_labels_hand_worked() -> None:
    # 16x24 image -> 2x3 cells. (3.2, 2.6) rounds to (3, 3): cell (0,0), class 8*3+3 = 27.
    # (9.4, 0.4) -> (9, 0): cell (0,1), class 1. (23.0, 15.0): cell (1,2), class 8*7+7 = 63.
    # (24.2, 3.0) rounds outside -> dropped. (7.5, 8) rounds to (8, 8): cell (1,1), class 0.
    pts = np.array([[3.2, 2.6], [9.4, 0.4], [23.0, 15.0], [24.6, 3.0], [7.5, 8.0]])
    got = points_to_labels(pts, 16, 24, np.random.default_rng(0))
    want = np.array([[27, 1, 64], [64, 0, 63]])
    np.testing.assert_array_equal(got, want)


def test_one_point_per_cell_random_tie_break() -> None:
    pts = np.array([[1.0, 1.0], [6.0, 2.0]])  # both in cell (0,0): classes 9 and 22
    seen = [int(points_to_labels(pts, 8, 8, np.random.default_rng(s))[0, 0]) for s in range(200)]
    assert set(seen) == {9, 22}
    assert 60 < seen.count(9) < 140  # ~uniform
    empty = points_to_labels(np.zeros((0, 2)), 8, 16, np.random.default_rng(0))
    np.testing.assert_array_equal(empty, [[64, 64]])
    with pytest.raises(ValueError):
        points_to_labels(pts, 10, 8, np.random.default_rng(0))


def test_soft_labels_hand_worked() -> None:
    # 16x24 image -> 2x3 cells. (3.25, 2.5): pixels (3,2) (4,2) (3,3) (4,3) with 0.375 0.125 0.375 0.125, all in cell
    # (0,0): classes 19 20 27 28. (7.5, 12.0): rounds to (8, 12) in cell (1,1); half to (7,12) = cell (1,0) class
    # 8*4+7 = 39, half to (8,12) = cell (1,1) class 32; those cells' dustbins get the other half.
    # (23.0, 15.0) is on a pixel: one-hot class 63 of cell (1,2). Cell (0,1) and (0,2) are empty.
    pts = np.array([[3.25, 2.5], [7.5, 12.0], [23.0, 15.0]])
    got = points_to_soft_labels(pts, 16, 24, np.random.default_rng(0))
    want = np.zeros((65, 2, 3))
    want[[19, 20, 27, 28], 0, 0] = [0.375, 0.125, 0.375, 0.125]
    want[39, 1, 0] = want[64, 1, 0] = 0.5
    want[32, 1, 1] = want[64, 1, 1] = 0.5
    want[63, 1, 2] = 1.0
    want[64, 0, 1] = want[64, 0, 2] = 1.0
    np.testing.assert_allclose(got, want, atol=1e-7)
    assert got.dtype == np.float32


def test_soft_labels_spill_into_a_taken_cell_is_normalised() -> None:
    # cell (0,0) holds (3, 3): class 27 with mass 1. (7.6, 4) rounds to (8, 4) in cell (0,1): 0.6 to (8,4) [cell
    # (0,1), class 32] and 0.4 spills onto (7,4) [cell (0,0), class 39].
    pts = np.array([[3.0, 3.0], [7.6, 4.0]])
    got = points_to_soft_labels(pts, 8, 16, np.random.default_rng(0)).astype(np.float64)
    # cell (0,0) received 1 + 0.4: scaled to sum 1, empty dustbin
    np.testing.assert_allclose(got[27, 0, 0], 1 / 1.4, atol=1e-6)
    np.testing.assert_allclose(got[8 * 4 + 7, 0, 0], 0.4 / 1.4, atol=1e-6)
    assert got[64, 0, 0] == 0.0
    np.testing.assert_allclose(got[32, 0, 1], 0.6, atol=1e-6)
    np.testing.assert_allclose(got[64, 0, 1], 0.4, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=0), 1.0, atol=1e-6)


def test_soft_labels_at_pixels_equal_hard_labels_and_keep_the_same_points() -> None:
    rng = np.random.default_rng(3)
    pts = rng.integers(-2, 42, (60, 2)).astype(np.float64)  # integer points, some outside, many sharing cells
    for seed in range(5):
        hard = points_to_labels(pts, 32, 40, np.random.default_rng(seed))
        soft = points_to_soft_labels(pts, 32, 40, np.random.default_rng(seed))
        np.testing.assert_array_equal(soft.argmax(axis=0), hard)
        np.testing.assert_array_equal(soft.max(axis=0), 1.0)
    # sub-pixel points: the same cells are non-empty as the hard labels' (plus spill), masses sum to 1 per cell
    sub = pts + rng.uniform(-0.49, 0.49, pts.shape)
    soft = points_to_soft_labels(sub, 32, 40, np.random.default_rng(0))
    hard = points_to_labels(sub, 32, 40, np.random.default_rng(0))
    np.testing.assert_allclose(soft.sum(axis=0), 1.0, atol=1e-6)
    assert np.all(soft[64][hard < 64] < 1.0)
    empty = points_to_soft_labels(np.zeros((0, 2)), 8, 16, np.random.default_rng(0))
    np.testing.assert_array_equal(empty[64], 1.0)
    with pytest.raises(ValueError):
        points_to_soft_labels(pts, 10, 8, np.random.default_rng(0))


def test_soft_labels_edge_pixels_keep_their_mass() -> None:
    # (15.4, 7.3) in an 8x16 image: pixels x=16 and y=8 are outside; all mass stays on (15, 7) = cell (0,1) class 63
    got = points_to_soft_labels(np.array([[15.4, 7.3]]), 8, 16, np.random.default_rng(0))
    assert got[63, 0, 1] == pytest.approx(1.0)


def test_cell_valid_mask_needs_all_pixels() -> None:
    v = np.ones((16, 16), bool)
    v[15, 0] = False
    np.testing.assert_array_equal(cell_valid_mask(v), [[True, True], [False, True]])


def _masked_ce_oracle(logits: torch.Tensor, valid: torch.Tensor, cell_ce: Callable[..., float]) -> float:
    """float64 mean over valid cells of ``cell_ce(b, i, j, log_softmax of the cell's 65 logits)``."""
    lg = logits.double().numpy()
    ce = []
    for b, i, j in zip(*np.nonzero(valid.numpy()), strict=True):
        z = lg[b, :, i, j]
        ce.append(cell_ce(b, i, j, z - (np.log(np.exp(z - z.max()).sum()) + z.max())))
    return float(np.mean(ce))


def test_detector_loss_matches_float64_oracle() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 65, 2, 3, generator=g)
    labels = torch.randint(0, 65, (2, 2, 3), generator=g)
    valid = torch.tensor([[[1, 0, 1], [1, 1, 1]], [[0, 0, 0], [1, 0, 1]]], dtype=torch.bool)
    want = _masked_ce_oracle(logits, valid, lambda b, i, j, logp: -logp[labels[b, i, j]])
    np.testing.assert_allclose(float(detector_loss(logits, labels, valid)), want, rtol=1e-5)
    np.testing.assert_allclose(
        float(detector_loss(logits, labels)),
        float(torch.nn.functional.cross_entropy(logits.double(), labels)),
        rtol=1e-5,
    )
    with pytest.raises(ValueError):
        detector_loss(logits[:, :64], labels)


def test_detector_loss_soft_targets_match_float64_oracle() -> None:
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 65, 2, 3, generator=g)
    t = torch.rand(2, 65, 2, 3, generator=g) ** 4
    t = t / t.sum(dim=1, keepdim=True)
    valid = torch.tensor([[[1, 0, 1], [1, 1, 1]], [[0, 0, 0], [1, 0, 1]]], dtype=torch.bool)
    tg = t.double().numpy()
    want = _masked_ce_oracle(logits, valid, lambda b, i, j, logp: -(tg[b, :, i, j] * logp).sum())
    np.testing.assert_allclose(float(detector_loss(logits, t, valid)), want, rtol=1e-5)
    # one-hot targets give the hard loss
    hard = torch.randint(0, 65, (2, 2, 3), generator=g)
    onehot = torch.nn.functional.one_hot(hard, 65).permute(0, 3, 1, 2).float()
    np.testing.assert_allclose(float(detector_loss(logits, onehot, valid)), float(detector_loss(logits, hard, valid)))
    with pytest.raises(ValueError, match="do not match"):
        detector_loss(logits, t[:, :, :1])


def test_cell_centers() -> None:
    c = cell_centers(2, 3).numpy()
    np.testing.assert_array_equal(c[0], [3.5, 3.5])
    np.testing.assert_array_equal(c[1], [11.5, 3.5])  # row-major: (i=0, j=1)
    np.testing.assert_array_equal(c[3], [3.5, 11.5])


def test_correspondence_and_descriptor_loss_2x2_cells() -> None:
    # 2x2 cells (16x16 image), H = translation by (+8, 0): source cell n=(i,j) lands exactly on
    # target cell (i, j+1). Cells in row-major order: 0=(0,0) 1=(0,1) 2=(1,0) 3=(1,1).
    h = torch.tensor([[[1.0, 0.0, 8.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    s = correspondence_mask(h, 2, 2)[0].numpy()
    want_s = np.zeros((4, 4))
    want_s[0, 1] = 1  # (3.5,3.5)->(11.5,3.5)
    want_s[2, 3] = 1  # (3.5,11.5)->(11.5,11.5); cell 1 -> (19.5, 3.5) is 8 px from cell 1: not < 8
    np.testing.assert_array_equal(s, want_s)
    # identity: neighbours 8 px away are not positives
    np.testing.assert_array_equal(correspondence_mask(torch.eye(3)[None], 2, 2)[0].numpy(), np.eye(4))

    # D = 2 descriptors (unit vectors at angles), target column 0 invalid (uncovered by the shift)
    ang_s = np.array([0.0, 0.5, 1.0, 1.5])
    ang_t = np.array([2.0, 0.3, 0.7, 1.2])
    d = np.stack([np.cos(ang_s), np.sin(ang_s)])  # (2, 4)
    dw = np.stack([np.cos(ang_t), np.sin(ang_t)])
    valid = np.array([False, True, False, True])
    total = 0.0
    for n in range(4):
        for m in range(4):
            if not valid[m]:
                continue
            dot = float(d[:, n] @ dw[:, m])
            if want_s[n, m]:
                total += 250.0 * max(0.0, 1.0 - dot)
            else:
                total += max(0.0, dot - 0.2)
    oracle = total / (4 * valid.sum())  # sum / (Hc*Wc)^2 / valid fraction
    got = descriptor_loss(
        torch.from_numpy(d).float().reshape(1, 2, 2, 2),
        torch.from_numpy(dw).float().reshape(1, 2, 2, 2),
        h,
        torch.from_numpy(valid).reshape(1, 2, 2),
    )
    np.testing.assert_allclose(float(got), oracle, rtol=1e-5)


def test_descriptor_loss_batch_mean_and_zero_for_perfect_descriptors() -> None:
    # identity, one-hot descriptors per cell: positives dot 1 (no loss), negatives dot 0 < 0.2
    d = torch.eye(4).reshape(1, 4, 2, 2)
    h = torch.eye(3, dtype=torch.float64)[None]
    assert float(descriptor_loss(d, d, h)) == 0.0
    # batch of two: mean of the per-image losses
    d2 = torch.ones(1, 4, 2, 2) / 2.0  # all dots = 1 -> negatives 0.8 each, 12 negatives of 16 pairs
    both = descriptor_loss(torch.cat([d, d2]), torch.cat([d, d2]), torch.cat([h, h]))
    np.testing.assert_allclose(float(both), (0.0 + 12 * 0.8 / 16) / 2, rtol=1e-6)


def _brute_force_positives(h: np.ndarray, hc: int, wc: int, max_dist: float) -> np.ndarray:
    """(N, N) bool, float64: source cell n's centre warped by ``h`` lies < ``max_dist`` px from target cell m's."""
    i, j = np.meshgrid(np.arange(hc), np.arange(wc), indexing="ij")
    c = np.stack([8 * j + 3.5, 8 * i + 3.5], -1).reshape(-1, 2)
    p = np.concatenate([c, np.ones((len(c), 1))], 1) @ h.T
    w = p[:, :2] / p[:, 2:]
    return np.asarray(np.linalg.norm(w[:, None, :] - c[None, :, :], axis=-1) < max_dist)


def _dense_descriptor_loss_oracle(
    d: np.ndarray, dw: np.ndarray, h: np.ndarray, valid: np.ndarray, max_dist: float = 8.0
) -> float:
    """The paper's eq. 5 literally, in float64 NumPy: every (n, m) pair with a brute-force distance mask."""
    b, _, hc, wc = d.shape
    out = []
    for k in range(b):
        s = _brute_force_positives(h[k], hc, wc, max_dist)
        dot = d[k].reshape(d.shape[1], -1).T @ dw[k].reshape(d.shape[1], -1)
        loss = np.where(s, 250.0 * np.maximum(0.0, 1.0 - dot), np.maximum(0.0, dot - 0.2))
        v = valid[k].reshape(-1).astype(np.float64)
        out.append((loss * v[None, :]).sum() / (hc * wc * max(1.0, v.sum())))
    return float(np.mean(out))


def _random_homographies(rng: np.random.Generator, b: int, hc: int, wc: int) -> np.ndarray:
    hs = []
    for _ in range(b):
        a = rng.uniform(-0.4, 0.4)
        sc = rng.uniform(0.7, 1.6)
        r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * sc
        h = np.eye(3)
        h[:2, :2] = r
        h[:2, 2] = rng.uniform(-20, 20, 2)
        h[2, :2] = rng.uniform(-1e-3, 1e-3, 2)
        hs.append(h)
    return np.stack(hs)


@pytest.mark.parametrize("max_dist", [8.0, 12.5])
def test_positive_pairs_match_float64_brute_force(max_dist: float) -> None:
    rng = np.random.default_rng(3)
    hc, wc = 7, 9
    h = _random_homographies(rng, 5, hc, wc)
    bi, ni, mi = positive_pairs(torch.from_numpy(h), hc, wc, max_dist)
    want = []
    for k in range(5):
        want += [(k, n, m) for n, m in zip(*np.nonzero(_brute_force_positives(h[k], hc, wc, max_dist)))]
    assert list(zip(bi.tolist(), ni.tolist(), mi.tolist())) == sorted(want)
    assert len(want) > 100  # the case is not empty


def test_positive_pairs_identity_excludes_neighbours_8px_away() -> None:
    bi, ni, mi = positive_pairs(torch.eye(3, dtype=torch.float64)[None], 30, 40)
    assert ni.tolist() == list(range(1200)) and mi.tolist() == list(range(1200)) and set(bi.tolist()) == {0}


def test_descriptor_loss_equals_dense_form_value_and_gradient() -> None:
    rng = np.random.default_rng(7)
    b, dim, hc, wc = 3, 16, 6, 8
    d = rng.normal(size=(b, dim, hc, wc))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    dw = rng.normal(size=(b, dim, hc, wc))
    dw /= np.linalg.norm(dw, axis=1, keepdims=True)
    # random unit vectors in 16-D: dots ~ +-0.25, so positives (dot < 1) and negatives above 0.2 both occur
    h = _random_homographies(rng, b, hc, wc)
    valid = rng.random((b, hc, wc)) > 0.25
    want = _dense_descriptor_loss_oracle(d, dw, h, valid)
    td = torch.from_numpy(d).float().requires_grad_()
    tw = torch.from_numpy(dw).float().requires_grad_()
    got = descriptor_loss(td, tw, torch.from_numpy(h), torch.from_numpy(valid))
    np.testing.assert_allclose(float(got.detach()), want, rtol=1e-5)
    got.backward()
    # gradient oracle: central differences of the float64 form on a few coordinates
    for idx in [(0, 0, 0, 0), (1, 3, 2, 5), (2, 15, 5, 7)]:
        eps = 1e-6
        dp, dm = d.copy(), d.copy()
        dp[idx] += eps
        dm[idx] -= eps
        num = (_dense_descriptor_loss_oracle(dp, dw, h, valid) - _dense_descriptor_loss_oracle(dm, dw, h, valid)) / (
            2 * eps
        )
        np.testing.assert_allclose(float(td.grad[idx]), num, rtol=1e-3, atol=1e-6)


def _softmax_loss_oracle(
    d: np.ndarray, dw: np.ndarray, h: np.ndarray, valid: np.ndarray, temperature: float, max_dist: float = 8.0
) -> float:
    """descriptor_softmax_loss written out anchor by anchor in float64 NumPy, with a brute-force distance mask."""
    b, dim, hc, wc = d.shape
    n_cells = hc * wc
    per_image = []
    for k in range(b):
        v = valid[k].reshape(-1)
        pos = _brute_force_positives(h[k], hc, wc, max_dist) & v[None, :]
        s = d[k].reshape(dim, -1).T @ dw[k].reshape(dim, -1) / temperature
        terms = []
        for n in range(n_cells):  # source anchors: the valid warped cells compete
            if pos[n].any():
                terms.append(np.log(np.exp(s[n, v]).sum()) - np.log(np.exp(s[n, pos[n]]).sum()))
        for m in range(n_cells):  # warped anchors: every source cell competes
            if pos[:, m].any():
                terms.append(np.log(np.exp(s[:, m]).sum()) - np.log(np.exp(s[pos[:, m], m]).sum()))
        per_image.append(np.mean(terms) if terms else 0.0)
    return float(np.mean(per_image))


def test_descriptor_softmax_loss_equals_float64_oracle_value_and_gradient() -> None:
    rng = np.random.default_rng(11)
    b, dim, hc, wc = 3, 16, 6, 8
    d = rng.normal(size=(b, dim, hc, wc))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    dw = rng.normal(size=(b, dim, hc, wc))
    dw /= np.linalg.norm(dw, axis=1, keepdims=True)
    h = _random_homographies(rng, b, hc, wc)
    valid = rng.random((b, hc, wc)) > 0.25
    want = _softmax_loss_oracle(d, dw, h, valid, 0.1)
    td = torch.from_numpy(d).float().requires_grad_()
    tw = torch.from_numpy(dw).float().requires_grad_()
    got = descriptor_softmax_loss(td, tw, torch.from_numpy(h), torch.from_numpy(valid), temperature=0.1)
    np.testing.assert_allclose(float(got.detach()), want, rtol=1e-5)
    got.backward()
    for arr, grad, idx in [(d, td.grad, (0, 0, 0, 0)), (d, td.grad, (2, 15, 5, 7)), (dw, tw.grad, (1, 3, 2, 5))]:
        eps = 1e-6
        plus, minus = arr.copy(), arr.copy()
        plus[idx] += eps
        minus[idx] -= eps
        if arr is d:
            num = _softmax_loss_oracle(plus, dw, h, valid, 0.1) - _softmax_loss_oracle(minus, dw, h, valid, 0.1)
        else:
            num = _softmax_loss_oracle(d, plus, h, valid, 0.1) - _softmax_loss_oracle(d, minus, h, valid, 0.1)
        np.testing.assert_allclose(float(grad[idx]), num / (2 * eps), rtol=1e-3, atol=1e-6)


def test_descriptor_softmax_loss_hand_worked_and_edge_cases() -> None:
    # identity warp, 1x2 cells, 2-D descriptors: cell 0 = (1, 0), cell 1 = (0, 1) in both images. Each of the 4
    # anchors (2 source, 2 warped) has one positive with s = 1/T and one other cell with s = 0:
    # loss = log(e^(1/T) + 1) - 1/T.
    t = 0.5
    d = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]])  # (1, 2, 1, 2)
    got = descriptor_softmax_loss(d, d.clone(), torch.eye(3)[None].double(), temperature=t)
    np.testing.assert_allclose(float(got), np.log(np.exp(1 / t) + 1) - 1 / t, rtol=1e-6)
    # no valid warped cell: no anchor, loss 0 with finite gradients
    dd = d.clone().requires_grad_()
    z = descriptor_softmax_loss(dd, d.clone(), torch.eye(3)[None].double(), torch.zeros(1, 1, 2, dtype=torch.bool))
    z.backward()
    assert float(z.detach()) == 0.0 and dd.grad is not None and torch.isfinite(dd.grad).all()
    with pytest.raises(ValueError, match="temperature"):
        descriptor_softmax_loss(d, d, torch.eye(3)[None].double(), temperature=0.0)
