"""Training losses of SuperPoint / MagicPoint and their label encodings.

Conventions: images (B, 1, H, W); cells are 8x8 pixels, ``Hc = H / 8``, ``Wc = W / 8``; keypoints
(x, y) = (column, row) float pixels with pixel centres at integers. Detector classes: a point at the
integer pixel ``(round(x), round(y))`` falls in cell ``(row // 8, col // 8)`` with class
``8 * (row % 8) + (col % 8)``; class 64 is the "no point" dustbin.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from superpoint_rt.network_spec import CELL

DUSTBIN = CELL * CELL  # the last detector class: no point in the cell


def _cell_points(
    points: np.ndarray, height: int, width: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The points the detector targets keep: ``(kept (K, 2) float64 x,y, their rounded pixels (K, 2) int64, Hc, Wc)``.

    Points are rounded to integer pixels; those outside the image are dropped. When a cell holds several points, one
    of them is kept uniformly at random (the paper's random tie-breaking; ``rng`` draws one permutation when any point
    is inside). Kept points come in increasing cell order.
    """
    if height % CELL or width % CELL:
        raise ValueError(f"image size must be a multiple of {CELL}, got {height}x{width}")
    hc, wc = height // CELL, width // CELL
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    r = np.round(p).astype(np.int64)
    inside = (r[:, 0] >= 0) & (r[:, 0] < width) & (r[:, 1] >= 0) & (r[:, 1] < height)
    p, r = p[inside], r[inside]
    if len(p) == 0:
        return p, r, hc, wc
    perm = rng.permutation(len(p))
    p, r = p[perm], r[perm]
    cell = (r[:, 1] // CELL) * wc + r[:, 0] // CELL
    _, first = np.unique(cell, return_index=True)  # first occurrence in the random order
    return p[first], r[first], hc, wc


def points_to_labels(points: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Keypoints -> 65-class detector labels (Hc, Wc) int64.

    Points are rounded to integer pixels; those outside the image are dropped. When a cell holds
    several points, one of them is kept uniformly at random (the paper's random tie-breaking);
    cells without a point get the dustbin class 64.
    """
    _, r, hc, wc = _cell_points(points, height, width, rng)
    labels = np.full(hc * wc, DUSTBIN, np.int64)
    labels[(r[:, 1] // CELL) * wc + r[:, 0] // CELL] = CELL * (r[:, 1] % CELL) + r[:, 0] % CELL
    return labels.reshape(hc, wc)


def points_to_soft_labels(points: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Keypoints -> sub-pixel detector targets (65, Hc, Wc) float32: a probability over the 65 classes per cell.

    The points kept are those :func:`points_to_labels` keeps (same rounding, same random tie-breaking for the same
    ``rng`` state). Each kept point at (x, y) spreads one unit of mass bilinearly over its four neighbouring
    pixels ``(floor(x) + {0, 1}, floor(y) + {0, 1})`` (pixels outside the image drop out and the rest is scaled
    back to 1), so a target reads where between pixel centres the point lies, not just its nearest pixel. A pixel's
    mass goes to its own cell's class; a cell's dustbin gets what is left of 1, and a cell that received more than
    1 (mass spilling in from a neighbouring cell's point) is scaled to sum to 1 with an empty dustbin. Points at
    integer pixels give exactly the one-hot targets of :func:`points_to_labels`.
    """
    p, _, hc, wc = _cell_points(points, height, width, rng)
    mass = np.zeros((height, width), np.float64)
    if len(p):
        x0, y0 = np.floor(p[:, 0]).astype(np.int64), np.floor(p[:, 1]).astype(np.int64)
        fx, fy = p[:, 0] - x0, p[:, 1] - y0
        xs = np.stack([x0, x0 + 1, x0, x0 + 1], axis=1)
        ys = np.stack([y0, y0, y0 + 1, y0 + 1], axis=1)
        wts = np.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], axis=1)
        ok = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
        wts = np.where(ok, wts, 0.0)
        wts /= wts.sum(axis=1, keepdims=True)  # the rounded pixel is inside, so every row keeps mass > 0
        np.add.at(mass, (ys[ok], xs[ok]), wts[ok])
    cells = mass.reshape(hc, CELL, wc, CELL).transpose(1, 3, 0, 2).reshape(DUSTBIN, hc, wc)
    total = cells.sum(axis=0)
    over = total > 1.0
    cells[:, over] /= total[over]
    out = np.empty((DUSTBIN + 1, hc, wc), np.float32)
    out[:DUSTBIN] = cells
    out[DUSTBIN] = np.clip(1.0 - cells.sum(axis=0), 0.0, 1.0)
    return out


def cell_valid_mask(valid: np.ndarray) -> np.ndarray:
    """(H, W) bool pixel mask -> (Hc, Wc) bool: a cell counts only when all its 64 pixels are valid."""
    v = np.asarray(valid, dtype=bool)
    h, w = v.shape
    if h % CELL or w % CELL:
        raise ValueError(f"mask size must be a multiple of {CELL}, got {h}x{w}")
    return np.asarray(v.reshape(h // CELL, CELL, w // CELL, CELL).all(axis=(1, 3)))


def detector_loss(logits: torch.Tensor, labels: torch.Tensor, cell_valid: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy over the 65 classes, averaged over the valid cells of the whole batch.

    Args:
        logits: (B, 65, Hc, Wc) (computed in FP32 whatever their dtype).
        labels: (B, Hc, Wc) int64 classes in [0, 64] (:func:`points_to_labels`), or (B, 65, Hc, Wc) float class
            probabilities (:func:`points_to_soft_labels`): then ``ce = -sum_c t_c log softmax(logits)_c``.
        cell_valid: (B, Hc, Wc) bool or None (all valid).

    Returns: scalar ``sum(valid * ce) / max(1, sum(valid))``.
    """
    if logits.ndim != 4 or logits.shape[1] != DUSTBIN + 1:
        raise ValueError(f"logits must be (B,65,Hc,Wc), got {tuple(logits.shape)}")
    soft = labels.is_floating_point()
    expected = tuple(logits.shape) if soft else (logits.shape[0], *logits.shape[2:])
    if tuple(labels.shape) != expected:
        raise ValueError(f"labels {tuple(labels.shape)} do not match logits {tuple(logits.shape)}")
    ce = F.cross_entropy(logits.float(), labels.float() if soft else labels, reduction="none")
    if cell_valid is None:
        return ce.mean()
    v = cell_valid.to(ce.dtype)
    return (ce * v).sum() / v.sum().clamp_min(1.0)


def cell_centers(hc: int, wc: int, device: torch.device | None = None) -> torch.Tensor:
    """(Hc*Wc, 2) float32 x,y pixel centres of the cells, row-major: cell (i, j) -> (8j + 3.5, 8i + 3.5)."""
    i, j = torch.meshgrid(torch.arange(hc, device=device), torch.arange(wc, device=device), indexing="ij")
    return torch.stack([CELL * j + (CELL - 1) / 2, CELL * i + (CELL - 1) / 2], dim=-1).reshape(-1, 2).float()


def positive_pairs(
    homographies: torch.Tensor, hc: int, wc: int, max_dist: float = 8.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The positive cell pairs of the descriptor loss, without the dense (B, N, N) distance matrix.

    Pair ``(b, n, m)`` is positive when cell n's centre warped by ``H_b`` (source -> target pixels,
    (B, 3, 3)) lies strictly within ``max_dist`` pixels of target cell m's centre (``< 8``: under the
    identity a cell's grid neighbours, exactly 8 px away, are not positives). Cells are row-major
    (``n = i * Wc + j``), centres at ``(8j + 3.5, 8i + 3.5)``. Only the target cells of the
    ``(2k + 2)^2`` grid window around each warped centre (``k = ceil(max_dist / 8)``) can be that
    close; their distances are tested exactly in float64.

    Returns: three int64 tensors ``(b, n, m)`` of equal length, sorted by ``(b, n, m)``, each pair once.
    """
    if homographies.ndim != 3 or homographies.shape[1:] != (3, 3):
        raise ValueError(f"homographies must be (B,3,3), got {tuple(homographies.shape)}")
    dev = homographies.device
    c = cell_centers(hc, wc, dev).double()
    ch = torch.cat([c, torch.ones_like(c[:, :1])], dim=1)  # (N, 3)
    w = torch.einsum("bij,nj->bni", homographies.double(), ch)
    w = w[..., :2] / w[..., 2:3]  # (B, N, 2) warped centres
    k = int(np.ceil(max_dist / CELL))
    off = torch.arange(-k, k + 2, device=dev)
    # the grid cell at or left of / above the warped centre, then the window around it
    base = torch.floor((w - (CELL - 1) / 2) / CELL).long()  # (B, N, 2) as (j, i)
    jj = base[..., 0, None, None] + off[None, None, None, :]  # (B, N, 1, K)
    ii = base[..., 1, None, None] + off[None, None, :, None]  # (B, N, K, 1)
    jj, ii = torch.broadcast_tensors(jj, ii)  # (B, N, K, K)
    cx = CELL * jj.double() + (CELL - 1) / 2
    cy = CELL * ii.double() + (CELL - 1) / 2
    d2 = (w[..., 0, None, None] - cx) ** 2 + (w[..., 1, None, None] - cy) ** 2
    finite = torch.isfinite(w).all(dim=-1)[..., None, None]
    keep = (d2 < max_dist * max_dist) & (jj >= 0) & (jj < wc) & (ii >= 0) & (ii < hc) & finite
    # nonzero walks (b, n, window row, window column) in order, and with 0 <= jj < Wc the row-major index
    # m = ii * Wc + jj grows in that order too: the pairs come out sorted by (b, n, m) already
    bi, ni, _, _ = torch.nonzero(keep, as_tuple=True)
    return bi, ni, ii[keep] * wc + jj[keep]


def correspondence_mask(homographies: torch.Tensor, hc: int, wc: int, max_dist: float = 8.0) -> torch.Tensor:
    """(B, Hc*Wc, Hc*Wc) float, the dense form of :func:`positive_pairs`: ``s[b, n, m] = 1`` for a positive."""
    bi, ni, mi = positive_pairs(homographies, hc, wc, max_dist)
    s = torch.zeros(homographies.shape[0], hc * wc, hc * wc, device=homographies.device)
    s[bi, ni, mi] = 1.0
    return s


def _flat_pair(
    descriptors: torch.Tensor, warped_descriptors: torch.Tensor, warped_cell_valid: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Checked inputs of the descriptor losses: ``(src (B, D, N) float32, dst (B, D, N) float32, valid (B, N) bool)``
    with ``N = Hc * Wc`` row-major; ``valid`` all true when ``warped_cell_valid`` is None."""
    if descriptors.shape != warped_descriptors.shape or descriptors.ndim != 4:
        raise ValueError(f"descriptor shapes differ or are not 4-D: {descriptors.shape} {warped_descriptors.shape}")
    b, _d, hc, wc = descriptors.shape
    src = descriptors.float().flatten(2)
    dst = warped_descriptors.float().flatten(2)
    if warped_cell_valid is None:
        valid = torch.ones(b, hc * wc, dtype=torch.bool, device=src.device)
    else:
        valid = warped_cell_valid.reshape(b, hc * wc).bool()
    return src, dst, valid


def descriptor_loss(
    descriptors: torch.Tensor,
    warped_descriptors: torch.Tensor,
    homographies: torch.Tensor,
    warped_cell_valid: torch.Tensor | None = None,
    positive_margin: float = 1.0,
    negative_margin: float = 0.2,
    lambda_d: float = 250.0,
    max_dist: float = 8.0,
) -> torch.Tensor:
    """Hinge loss over all pairs of cells (the paper's eq. 5), normalised per image.

    Args:
        descriptors: (B, D, Hc, Wc) coarse descriptors of the source images (L2-normalised).
        warped_descriptors: (B, D, Hc, Wc) of the warped images.
        homographies: (B, 3, 3) source -> warped pixels.
        warped_cell_valid: (B, Hc, Wc) bool, cells of the warped image that see the source.

    With ``dot = d_n . d'_m`` and ``s`` from :func:`correspondence_mask`,
    ``l = lambda_d * s * max(0, m_p - dot) + (1 - s) * max(0, dot - m_n)`` (no ReLU on ``dot``).
    Normalisation (as the original TF re-implementation): per image
    ``sum_{n,m} valid_m * l / (Hc*Wc * sum_m valid_m)``, i.e. the pair sum divided by
    ``(Hc*Wc)^2`` and by the valid fraction; then the mean over the batch.

    Computed without the dense mask: every pair as a negative, ``sum_n relu(dot - m_n) @ valid``, plus,
    on the few positives from :func:`positive_pairs` (about one per source cell), their own term minus
    the negative term counted for them. Same value as the dense sum up to float32 rounding (tested
    against the literal dense form); 1.3x faster forward+backward than it (4 pairs at 240x320, one Zen 2
    thread: ``bench/bench_descriptor_loss.py``).
    """
    src, dst, valid_cells = _flat_pair(descriptors, warped_descriptors, warped_cell_valid)
    b, _d, hc, wc = descriptors.shape
    n = hc * wc
    valid = valid_cells.to(src.dtype)
    dot = torch.bmm(src.transpose(1, 2), dst)  # (B, N, N)
    negative = torch.bmm(F.relu(dot - negative_margin), valid[:, :, None]).sum(dim=(1, 2))  # (B,)
    bi, ni, mi = positive_pairs(homographies, hc, wc, max_dist)
    pdot = (src[bi, :, ni] * dst[bi, :, mi]).sum(dim=1)
    pterm = valid[bi, mi] * (lambda_d * F.relu(positive_margin - pdot) - F.relu(pdot - negative_margin))
    positive = torch.zeros(b, device=src.device, dtype=src.dtype).index_add(0, bi, pterm)
    per_image = (negative + positive) / (n * valid.sum(dim=1).clamp_min(1.0))
    return per_image.mean()


_MASKED = -1.0e4  # a logit for excluded cells: exp() underflows to 0, yet a fully masked row keeps finite gradients


def _group_logsumexp(key: torch.Tensor, values: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(lse (size,), present (size,) bool)``: the log-sum-exp of ``values`` grouped by ``key`` in [0, size);
    0 where a group is empty. Stable (each group's max is subtracted; the max is a constant for the gradient)."""
    gmax = torch.full((size,), float("-inf"), dtype=values.dtype, device=values.device)
    gmax = gmax.scatter_reduce(0, key, values.detach(), reduce="amax")
    present = torch.isfinite(gmax)
    shift = torch.where(present, gmax, torch.zeros_like(gmax))
    sums = torch.zeros(size, dtype=values.dtype, device=values.device).index_add(0, key, torch.exp(values - shift[key]))
    lse = torch.where(
        present, torch.log(sums.clamp_min(torch.finfo(values.dtype).tiny)) + shift, torch.zeros_like(sums)
    )
    return lse, present


def descriptor_softmax_loss(
    descriptors: torch.Tensor,
    warped_descriptors: torch.Tensor,
    homographies: torch.Tensor,
    warped_cell_valid: torch.Tensor | None = None,
    temperature: float = 0.1,
    max_dist: float = 8.0,
) -> torch.Tensor:
    """A ranking alternative to :func:`descriptor_loss`: cross-entropy of finding the corresponding cell among all.

    Args as :func:`descriptor_loss` (descriptors (B, D, Hc, Wc), L2-normalised; ``homographies`` (B, 3, 3) source ->
    warped pixels; ``warped_cell_valid`` (B, Hc, Wc) bool); positives ``P`` from :func:`positive_pairs`, kept where
    the warped cell is valid. With ``s = d_n . d'_m / temperature``:

    * source -> warped, for each source cell n with a positive:
      ``log sum_{m valid} exp(s_nm) - log sum_{m in P(n)} exp(s_nm)``;
    * warped -> source, for each valid warped cell m with a positive:
      ``log sum_n exp(s_nm) - log sum_{n in P(m)} exp(s_nm)``.

    Per image the mean over both directions' anchors (0 when there is none), then the mean over the batch. Unlike
    the hinge, every other cell of the image competes with the true one, the nearest-neighbour ranking that NN mAP
    scores (the hinge stops pushing a negative once its dot product is below ``negative_margin``). The two dense
    log-sum-exps run over (B, N, N); the positives' are grouped sums over the few positive pairs.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    src, dst, valid = _flat_pair(descriptors, warped_descriptors, warped_cell_valid)
    b, _d, hc, wc = descriptors.shape
    n = hc * wc
    s = torch.bmm(src.transpose(1, 2), dst) / temperature  # (B, N, N): source cell n x warped cell m
    rows_all = torch.logsumexp(s.masked_fill(~valid[:, None, :], _MASKED), dim=2).reshape(-1)  # (B*N,)
    cols_all = torch.logsumexp(s, dim=1).reshape(-1)
    bi, ni, mi = positive_pairs(homographies, hc, wc, max_dist)
    keep = valid[bi, mi]
    bi, ni, mi = bi[keep], ni[keep], mi[keep]
    ps = s[bi, ni, mi]
    rows_pos, row_anchor = _group_logsumexp(bi * n + ni, ps, b * n)
    cols_pos, col_anchor = _group_logsumexp(bi * n + mi, ps, b * n)
    per_cell = torch.where(row_anchor, rows_all - rows_pos, 0.0) + torch.where(col_anchor, cols_all - cols_pos, 0.0)
    count = (row_anchor.reshape(b, n).sum(dim=1) + col_anchor.reshape(b, n).sum(dim=1)).clamp_min(1)
    return (per_cell.reshape(b, n).sum(dim=1) / count).mean()
