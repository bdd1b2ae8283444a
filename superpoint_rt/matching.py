"""Descriptor matching and homography estimation.

Descriptors are rows; the distance is L2 (for unit-norm rows, sqrt(2 - 2 cos)). ``max_distance`` is in that L2 unit
(0.7, the original demo's tracker threshold, is about cos >= 0.755).

:func:`match` is the one matcher (the CLI, the tracker, the examples and :func:`mutual_nn_match` call it): nearest
neighbours in ``b`` for every row of ``a``, optionally kept only when mutual, when Lowe's ratio test passes and
when within ``max_distance``. :func:`match_batch` runs it over a list of image pairs.

How it is computed (NumPy, the CPU):

* the squared distances ``|a|^2 + |b|^2 - 2 a.b`` come from one BLAS product per block of ``a``'s rows, on **one
  BLAS thread** (:func:`superpoint_rt._blas.single_threaded_blas`, the tracker's policy: spinning BLAS threads
  fight the inference engine for the cores); a block holds ``max(16, 2**20 // M)`` rows (M = ``len(b)``): about
  4 MiB of float32 whatever N, so memory stays bounded at 4k x 4k and far beyond (``block_rows`` overrides it);
* per block: each row's nearest column (and second nearest for the ratio test) and a running per-column minimum
  over the rows seen so far (for the mutual check); ties go to the lower index, as ``argmin``;
* the distances of the pairs found (and of the second neighbours) are then recomputed exactly, in float64, from
  the descriptors, and the threshold and the ratio test read those: a pair at exactly ``max_distance`` is kept
  whatever the rounding of the expansion.

With PyTorch (``pip install '.[torch]'``): torch tensors in, or ``device="cuda[:N]"``, run the same algorithm with
torch on that device; :func:`match_batch` then pads the pairs into one batch (one ``bmm`` per block of rows for
all pairs). Results come back as NumPy arrays either way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, overload

import cv2
import numpy as np

from ._blas import single_threaded_blas

__all__ = [
    "BLOCK_ELEMENTS",
    "block_rows_for",
    "estimate_homography",
    "match",
    "match_batch",
    "mutual_nearest",
    "mutual_nn_match",
]

#: elements of one block of the distance matrix (float32: 4 MiB) on the CPU
BLOCK_ELEMENTS = 1 << 20
#: ... and on a CUDA device (64 MiB), where bigger blocks mean fewer launches
BLOCK_ELEMENTS_CUDA = 1 << 24
#: the fewest rows a block holds (a very wide ``b`` still gets a sensible BLAS product)
MIN_BLOCK_ROWS = 16


def block_rows_for(m: int, elements: int = BLOCK_ELEMENTS) -> int:
    """Rows of ``a`` per block when matching against ``m`` descriptors: ``max(16, elements // m)``."""
    return max(MIN_BLOCK_ROWS, elements // max(int(m), 1))


# ---------------------------------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------------------------------


def _check_desc(name: str, d: np.ndarray) -> np.ndarray:
    if not isinstance(d, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(d).__name__}")
    if d.ndim != 2:
        raise ValueError(f"{name} must be (N, D), got shape {d.shape}")
    if not np.issubdtype(d.dtype, np.floating):
        raise TypeError(f"{name} must be float, got {d.dtype}")
    if not np.isfinite(d).all():
        raise ValueError(f"{name} contains NaN or inf")
    return np.ascontiguousarray(d, dtype=np.float32)


def _is_torch(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def _check_tensor(name: str, d: Any) -> Any:
    import torch

    if d.ndim != 2:
        raise ValueError(f"{name} must be (N, D), got shape {tuple(d.shape)}")
    if not torch.is_floating_point(d):
        raise TypeError(f"{name} must be float, got {d.dtype}")
    if d.numel() and not bool(torch.isfinite(d).all()):
        raise ValueError(f"{name} contains NaN or inf")
    return d.to(torch.float32).contiguous()


def _check_params(max_distance: float | None, ratio: float | None, block_rows: int | None) -> None:
    if max_distance is not None:
        try:
            ok = math.isfinite(float(max_distance)) and float(max_distance) >= 0.0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"max_distance must be None or a finite number >= 0, got {max_distance!r}")
    if ratio is not None:
        try:
            ok = 0.0 < float(ratio) <= 1.0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"ratio must be None or in (0, 1], got {ratio!r}")
    if block_rows is not None and (isinstance(block_rows, bool) or not isinstance(block_rows, int) or block_rows < 1):
        raise ValueError(f"block_rows must be None or an integer >= 1, got {block_rows!r}")


def _resolve_device(device: Any, torch_inputs: bool) -> str | None:
    """None: the NumPy path; otherwise the torch device to run on ("" = where the input tensors are)."""
    if device is None:
        return "" if torch_inputs else None
    dev = str(device)
    if dev == "cpu":
        return "cpu" if torch_inputs else None
    if dev.startswith("cuda"):
        return dev
    raise ValueError(f"device must be None, 'cpu' or 'cuda[:N]', got {device!r}")


# ---------------------------------------------------------------------------------------------------------------------
# The matcher
# ---------------------------------------------------------------------------------------------------------------------


def mutual_nearest(distances: np.ndarray) -> np.ndarray:
    """The mutual check on a distance (or any smaller-is-better) matrix: pairs (i, j) where j is row i's smallest
    entry and i is column j's (the first index wins a tie, as ``argmin``).

    Args:
        distances: (N, M) array.
    Returns:
        (K, 2) int64 index pairs (i, j), sorted by i.
    """
    d = np.asarray(distances)
    if d.ndim != 2:
        raise ValueError(f"distances must be (N, M), got shape {d.shape}")
    if d.shape[0] == 0 or d.shape[1] == 0:
        return np.zeros((0, 2), np.int64)
    nn_ab = d.argmin(axis=1)
    nn_ba = d.argmin(axis=0)
    i = np.flatnonzero(nn_ba[nn_ab] == np.arange(d.shape[0]))
    return np.stack([i, nn_ab[i]], axis=1).astype(np.int64)


@overload
def match(
    desc_a: Any,
    desc_b: Any,
    *,
    max_distance: float | None = ...,
    ratio: float | None = ...,
    mutual: bool = ...,
    device: Any = ...,
    block_rows: int | None = ...,
    return_distances: Literal[False] = ...,
) -> np.ndarray: ...


@overload
def match(
    desc_a: Any,
    desc_b: Any,
    *,
    max_distance: float | None = ...,
    ratio: float | None = ...,
    mutual: bool = ...,
    device: Any = ...,
    block_rows: int | None = ...,
    return_distances: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...


def match(
    desc_a: Any,
    desc_b: Any,
    *,
    max_distance: float | None = 0.7,
    ratio: float | None = None,
    mutual: bool = True,
    device: Any = None,
    block_rows: int | None = None,
    return_distances: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Nearest-neighbour matches from ``desc_a`` to ``desc_b`` under L2 distance.

    Row i of ``a`` is paired with its nearest row j of ``b`` (ties: the lower j); the pair is kept when

    * ``mutual``: i is also j's nearest row of ``a`` (ties: the lower i);
    * ``ratio`` (Lowe's test): ``d(i, j) < ratio * d(i, j2)``, j2 being i's second-nearest row of ``b`` (strict:
      two equally near neighbours fail it; with a single row in ``b`` there is no second neighbour and it passes);
    * ``max_distance``: ``d(i, j) <= max_distance`` (inclusive).

    Args:
        desc_a: (N, D) float descriptors (NumPy; or a torch tensor, which selects the torch path on its device).
        desc_b: (M, D).
        max_distance: L2 threshold, None for none (the default 0.7 suits unit descriptors).
        ratio: None (no ratio test) or in (0, 1], e.g. 0.8.
        mutual: keep only mutual nearest neighbours (the default).
        device: None (NumPy inputs: NumPy/BLAS on the CPU; tensors: their device), ``"cpu"``, or
            ``"cuda[:N]"`` (torch on that GPU; NumPy inputs are uploaded).
        block_rows: rows of ``a`` per block (default :func:`block_rows_for`; memory ~ ``block_rows * M * 4`` bytes).
        return_distances: also return the pairs' L2 distances.

    Returns:
        (K, 2) int64 pairs (i into a, j into b), sorted by i; with ``return_distances``, also (K,) float32 distances
        (computed in float64).
    Raises:
        TypeError / ValueError: not 2-D float arrays, differing D, NaN/inf, a parameter out of range.
    """
    out = match_batch(
        [(desc_a, desc_b)],
        max_distance=max_distance,
        ratio=ratio,
        mutual=mutual,
        device=device,
        block_rows=block_rows,
        return_distances=True,
    )[0]
    return out if return_distances else out[0]


@overload
def match_batch(
    pairs: Sequence[tuple[Any, Any]],
    *,
    max_distance: float | None = ...,
    ratio: float | None = ...,
    mutual: bool = ...,
    device: Any = ...,
    block_rows: int | None = ...,
    return_distances: Literal[False] = ...,
) -> list[np.ndarray]: ...


@overload
def match_batch(
    pairs: Sequence[tuple[Any, Any]],
    *,
    max_distance: float | None = ...,
    ratio: float | None = ...,
    mutual: bool = ...,
    device: Any = ...,
    block_rows: int | None = ...,
    return_distances: Literal[True],
) -> list[tuple[np.ndarray, np.ndarray]]: ...


def match_batch(
    pairs: Sequence[tuple[Any, Any]],
    *,
    max_distance: float | None = 0.7,
    ratio: float | None = None,
    mutual: bool = True,
    device: Any = None,
    block_rows: int | None = None,
    return_distances: bool = False,
) -> list[np.ndarray] | list[tuple[np.ndarray, np.ndarray]]:
    """:func:`match` over a list of ``(desc_a, desc_b)`` image pairs, one result per pair (same arguments).

    On the CPU the pairs run one after the other (one BLAS thread each); on the torch path they are padded into
    one batch, so a GPU matches all of them with one batched product per block of rows.
    """
    _check_params(max_distance, ratio, block_rows)
    pairs = list(pairs)
    for p in pairs:
        if not isinstance(p, (tuple, list)) or len(p) != 2:
            raise TypeError("pairs must be a sequence of (desc_a, desc_b) pairs")
    torch_inputs = any(_is_torch(x) for p in pairs for x in p)
    dev = _resolve_device(device, torch_inputs)
    results: list[tuple[np.ndarray, np.ndarray]]
    if dev is None:
        results = []
        for a_, b_ in pairs:
            a = _check_desc("desc_a", a_)
            b = _check_desc("desc_b", b_)
            if a.shape[1] != b.shape[1]:
                raise ValueError(f"descriptor dimensions differ: {a.shape[1]} vs {b.shape[1]}")
            results.append(_match_numpy(a, b, max_distance, ratio, bool(mutual), block_rows))
    else:
        results = _match_torch(pairs, dev, max_distance, ratio, bool(mutual), block_rows)
    if return_distances:
        return results
    return [r[0] for r in results]


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((0, 2), np.int64), np.zeros((0,), np.float32)


def _match_numpy(
    a: np.ndarray, b: np.ndarray, max_distance: float | None, ratio: float | None, mutual: bool, block_rows: int | None
) -> tuple[np.ndarray, np.ndarray]:
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return _empty()
    rows = block_rows or block_rows_for(m)
    second = ratio is not None and m >= 2
    b_m2 = b * np.float32(-2.0)  # exact (a power of two): the product is -2 a.b with the same rounding
    na2 = np.einsum("ij,ij->i", a, a)
    nb2 = np.einsum("ij,ij->i", b, b)
    j1 = np.empty(n, np.int64)
    j2 = np.empty(n, np.int64) if second else None
    col_min = np.full(m, np.inf, np.float32)
    col_arg = np.zeros(m, np.int64)
    cols = np.arange(m)
    with single_threaded_blas():  # see superpoint_rt._blas: spinning BLAS threads slow the engine down
        for r0 in range(0, n, rows):
            r1 = min(n, r0 + rows)
            d2 = a[r0:r1] @ b_m2.T  # (rows, M) squared distances, built in place
            d2 += nb2
            d2 += na2[r0:r1, None]
            jr = d2.argmin(axis=1)
            j1[r0:r1] = jr
            if mutual:
                ci = d2.argmin(axis=0)
                cv = d2[ci, cols]
                better = cv < col_min  # strict: an earlier block keeps a tie (the lower row index)
                col_min[better] = cv[better]
                col_arg[better] = ci[better] + r0
            if j2 is not None:
                d2[np.arange(r1 - r0), jr] = np.inf
                j2[r0:r1] = d2.argmin(axis=1)
    i = np.arange(n)
    if mutual:
        i = i[col_arg[j1] == i]
    j = j1[i]
    dist = _exact_distances(a, b, i, j)
    keep = np.ones(len(i), bool)
    if max_distance is not None:
        keep &= dist <= float(max_distance)
    if ratio is not None and j2 is not None:
        keep &= dist < float(ratio) * _exact_distances(a, b, i, j2[i])
    return np.stack([i[keep], j[keep]], axis=1).astype(np.int64), dist[keep].astype(np.float32)


def _exact_distances(a: np.ndarray, b: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """L2 distances of the rows a[i], b[j] in float64 (no cancellation: the differences are formed first)."""
    diff = a[i].astype(np.float64) - b[j]
    return np.sqrt(np.einsum("ij,ij->i", diff, diff))


def _match_torch(
    pairs: list[Any],
    device: str,
    max_distance: float | None,
    ratio: float | None,
    mutual: bool,
    block_rows: int | None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise ImportError("matching on a CUDA device needs PyTorch: pip install 'superpoint_rt[torch]'") from e
    if not pairs:
        return []
    As, Bs = [], []
    for a_, b_ in pairs:
        a = _check_tensor("desc_a", a_ if _is_torch(a_) else torch.from_numpy(np.asarray(a_)))
        b = _check_tensor("desc_b", b_ if _is_torch(b_) else torch.from_numpy(np.asarray(b_)))
        if a.shape[1] != b.shape[1]:
            raise ValueError(f"descriptor dimensions differ: {a.shape[1]} vs {b.shape[1]}")
        As.append(a)
        Bs.append(b)
    dims = {int(a.shape[1]) for a in As}
    if len(dims) > 1:
        raise ValueError(f"every pair must have the same descriptor dimension, got {sorted(dims)}")
    dev = torch.device(device or As[0].device)
    ns = [int(a.shape[0]) for a in As]
    ms = [int(b.shape[0]) for b in Bs]
    nb, nmax, mmax, dim = len(pairs), max(ns), max(ms), dims.pop()
    if nmax == 0 or mmax == 0:
        return [_empty() for _ in pairs]
    A = torch.zeros((nb, nmax, dim), dtype=torch.float32, device=dev)
    B = torch.zeros((nb, mmax, dim), dtype=torch.float32, device=dev)
    for k in range(nb):
        A[k, : ns[k]] = As[k].to(dev)
        B[k, : ms[k]] = Bs[k].to(dev)
    n_t = torch.tensor(ns, device=dev)
    m_t = torch.tensor(ms, device=dev)
    row_ok = torch.arange(nmax, device=dev)[None, :] < n_t[:, None]
    col_ok = torch.arange(mmax, device=dev)[None, :] < m_t[:, None]
    inf = float("inf")
    na2 = (A * A).sum(-1).masked_fill(~row_ok, inf)  # padded rows/columns are infinitely far: never chosen
    nb2 = (B * B).sum(-1).masked_fill(~col_ok, inf)
    b_m2 = (B * -2.0).transpose(1, 2)
    elements = BLOCK_ELEMENTS_CUDA if dev.type == "cuda" else BLOCK_ELEMENTS
    rows = block_rows or block_rows_for(nb * mmax, elements)
    second = ratio is not None
    j1 = torch.empty((nb, nmax), dtype=torch.int64, device=dev)
    j2 = torch.empty((nb, nmax), dtype=torch.int64, device=dev) if second else None
    col_min = torch.full((nb, mmax), inf, dtype=torch.float32, device=dev)
    col_arg = torch.zeros((nb, mmax), dtype=torch.int64, device=dev)
    for r0 in range(0, nmax, rows):
        r1 = min(nmax, r0 + rows)
        d2 = torch.bmm(A[:, r0:r1], b_m2)
        d2 += nb2[:, None, :]
        d2 += na2[:, r0:r1, None]
        jr = d2.argmin(dim=2)
        j1[:, r0:r1] = jr
        if mutual:
            cv, ci = d2.min(dim=1)  # the first minimal index on ties, as argmin
            better = cv < col_min
            col_min = torch.where(better, cv, col_min)
            col_arg = torch.where(better, ci + r0, col_arg)
        if j2 is not None:
            d2.scatter_(2, jr[:, :, None], inf)
            j2[:, r0:r1] = d2.argmin(dim=2)
    ok = row_ok & (m_t[:, None] > 0)
    if mutual:
        ok &= torch.gather(col_arg, 1, j1) == torch.arange(nmax, device=dev)[None, :]
    kk, ii = ok.nonzero(as_tuple=True)  # row-major: sorted by pair, then by i
    jj = j1[kk, ii]
    dist = (A[kk, ii].double() - B[kk, jj].double()).square().sum(-1).sqrt()
    keep = torch.ones_like(dist, dtype=torch.bool)
    if max_distance is not None:
        keep &= dist <= float(max_distance)
    if ratio is not None and j2 is not None:
        has_second = m_t[kk] >= 2  # a single candidate has no second neighbour: the test passes
        d_second = (A[kk, ii].double() - B[kk, j2[kk, ii]].double()).square().sum(-1).sqrt()
        keep &= ~has_second | (dist < float(ratio) * d_second)
    pair_of, i_np, j_np, d_np = (t[keep].cpu().numpy() for t in (kk, ii, jj, dist))
    bounds = np.searchsorted(pair_of, np.arange(nb + 1))
    out = []
    for k in range(nb):
        lo, hi = bounds[k], bounds[k + 1]
        out.append((np.stack([i_np[lo:hi], j_np[lo:hi]], axis=1).astype(np.int64), d_np[lo:hi].astype(np.float32)))
    return out


def mutual_nn_match(desc_a: np.ndarray, desc_b: np.ndarray, max_distance: float | None = 0.7) -> np.ndarray:
    """Mutual nearest neighbours under L2 distance within ``max_distance`` (None: no threshold): the simple entry to
    :func:`match` (no ratio test), used by the CLI, the tracker and the examples.

    Args:
        desc_a: (N, D) float descriptors. desc_b: (M, D).
        max_distance: keep pairs whose L2 distance is <= this (None: no threshold).

    Returns:
        (K, 2) int64 index pairs (i into a, j into b), sorted by i.
    """
    return match(desc_a, desc_b, max_distance=max_distance)


def estimate_homography(
    kpts_a: np.ndarray, kpts_b: np.ndarray, matches: np.ndarray, ransac_threshold: float = 3.0
) -> tuple[np.ndarray | None, np.ndarray]:
    """RANSAC homography (OpenCV) mapping image a -> image b from matched keypoints.

    Returns:
        (H 3x3 float64 or None when fewer than 4 matches or no model was found, inlier mask (K,) bool).
    """
    matches = np.asarray(matches, dtype=np.int64).reshape(-1, 2)
    if len(matches) < 4:
        return None, np.zeros(len(matches), bool)
    src = np.asarray(kpts_a, np.float64)[matches[:, 0]]
    dst = np.asarray(kpts_b, np.float64)[matches[:, 1]]
    h, mask = cv2.findHomography(src, dst, cv2.RANSAC, ransac_threshold)
    if h is None:
        return None, np.zeros(len(matches), bool)
    return h, mask.ravel().astype(bool)
