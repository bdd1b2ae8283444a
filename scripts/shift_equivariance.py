#!/usr/bin/env python
"""How far SuperPoint's keypoints move when the image moves by whole pixels, and what averaging over shifts buys.

A fully-convolutional detector with 8x8 cells answers a translation by a multiple of 8 exactly; any other shift
changes the pixel's place inside its cell, and the keypoints need not follow the content. Two measurements:

``measure``: crops of each photo's first image, shifted by ``--offsets`` whole pixels (no interpolation: the same
pixels, read one place further), detected at the default options; a point at p in the unshifted crop should be at
p - d in the crop shifted by d. Per offset: the median and RMS displacement of mutual nearest points within 2 px;
and the median / 90th percentile of the reference crops' keypoint scores (a heatmap-comparing term can shrink by
lowering the peaks), with the shape of the peaks under them (:func:`peak_shape`: the share of the 5x5 window's heat
at the keypoint's pixel, and the window's total; a peak can be lowered by spreading its heat or by losing it).

``phase-bias``: is the error of ``measure`` a fixed function of where a point sits in its 8x8 cell? Fits a bias
b(phase) (64 places x 2 components, mean zero) by least squares to the pairs of ``--fit-data`` (displacement =
b(phase in the moved crop) - b(phase in the reference crop)) and reports the displacement before and after removing
it, on the fitting images and on DATA. A large drop would make a free lookup-table correction; a small one says the
error depends on the content, not on the phase.

``eval``: the evaluator (``superpoint-rt eval``'s protocol, ``--homography-trials``) with each level's heatmap
averaged over the network's answers to the image shifted by ``--shifts`` (edge-padded, shifted back before the
average); detection, sub-pixel refinement and the pyramid merge then run as usual; descriptors come from the
unshifted pass. A test-time upper bound of what a shift-equivariant detector would gain, at ``len(shifts)`` times
the network's cost. CPU engines only.

    python scripts/shift_equivariance.py measure DATA --shifts 0,0 4,0 0,4 4,4 --json OUT.json
    python scripts/shift_equivariance.py phase-bias DATA --fit-data FIT_DATA --images 12 --json OUT.json
    python scripts/shift_equivariance.py eval DATA --shifts 0,0 4,0 0,4 4,4 --kinds v --name NAME --json OUT.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from superpoint_rt import SuperPoint, ops
from superpoint_rt.cpu_pipeline import CpuPipeline
from superpoint_rt.eval.hpatches import list_sequences, load_sequence
from superpoint_rt.eval.methods import SuperPointMethod
from superpoint_rt.eval.runner import EvalConfig, evaluate, markdown_table, write_json
from superpoint_rt.preprocess import pad_to_multiple, to_gray_float
from superpoint_rt.sysinfo import cpu_description
from superpoint_rt.types import Features

OFFSETS = ((1, 0), (2, 0), (4, 0), (0, 4), (4, 4), (3, 5))


def parse_shift(text: str) -> tuple[int, int]:
    """``"dx,dy"`` -> (dx, dy), whole pixels in [0, 7]."""
    try:
        dx, dy = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a shift is dx,dy in whole pixels, got {text!r}") from None
    if not (0 <= dx < 8 and 0 <= dy < 8):
        raise argparse.ArgumentTypeError(f"shifts must be in [0, 7], got {text!r}")
    return dx, dy


def shift_averaged_heatmap(
    pipe: CpuPipeline, gray: np.ndarray, shifts: Sequence[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) float32 gray -> ((H, W) heatmap averaged over ``shifts``, (256, Hc, Wc) coarse descriptors of the
    first shift's pass). Shift (dx, dy) pads dy rows on top and dx columns on the left (edge values), runs the
    engine and reads its heatmap back at [dy : dy + H, dx : dx + W]."""
    h, w = gray.shape
    heats = []
    coarse = None
    for dx, dy in shifts:
        shifted = np.pad(gray, ((dy, 0), (dx, 0)), mode="edge")
        logits, desc = pipe.engine.run(pad_to_multiple(shifted)[None, None])
        heats.append(ops.heatmap(np.asarray(logits)[0])[dy : dy + h, dx : dx + w])
        if coarse is None:
            coarse = np.asarray(desc)[0]
    assert coarse is not None
    return np.ascontiguousarray(np.mean(heats, axis=0), dtype=np.float32), coarse


def install_shift_average(sp: SuperPoint, shifts: Sequence[tuple[int, int]]) -> None:
    """Make ``sp`` (a CPU-pipeline SuperPoint) detect on shift-averaged heatmaps, every pyramid level included."""
    pipe = sp._pipeline
    if not isinstance(pipe, CpuPipeline):
        raise ValueError("shift averaging needs a CPU pipeline (backend onnxruntime, openvino or torch on CPU)")
    if not shifts:
        raise ValueError("give at least one shift")

    def detect(grays: list[np.ndarray], t_pre: float) -> list[Features]:
        out = []
        for g in grays:
            t0 = time.perf_counter()
            heat, coarse = shift_averaged_heatmap(pipe, g, shifts)
            f = pipe.features_from_heatmap(heat, coarse, g)
            f.timings = {"preprocess": t_pre, "network": time.perf_counter() - t0, "postprocess": 0.0}
            out.append(f)
        return out

    pipe._detect = detect  # type: ignore[method-assign]


def mutual_pairs(reference: np.ndarray, moved: np.ndarray, radius: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (i_ref, i_moved) of the mutual nearest points closer than ``radius`` (both (N, 2) x,y, one frame)."""
    if len(reference) == 0 or len(moved) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    d = np.linalg.norm(reference[:, None] - moved[None], axis=2)
    i = d.argmin(axis=1)
    j = d.argmin(axis=0)
    ok = (j[i] == np.arange(len(reference))) & (d[np.arange(len(reference)), i] < radius)
    return np.flatnonzero(ok), i[ok]


def displacement(reference: np.ndarray, moved: np.ndarray, radius: float = 2.0) -> np.ndarray:
    """(M, 2) vectors ``moved[j] - reference[i]`` of the mutual nearest pairs closer than ``radius`` (both (N, 2)
    x,y in one frame)."""
    i, j = mutual_pairs(reference, moved, radius)
    return moved[j] - reference[i] if len(i) else np.zeros((0, 2))


def cell_phase(points: np.ndarray) -> np.ndarray:
    """(N, 2) x,y (pixel centres at integers, cells starting at 0) -> (N,) int: the nearest pixel's place in its
    8x8 cell, ``8 * (round(y) mod 8) + (round(x) mod 8)``."""
    p = np.mod(np.rint(points).astype(np.int64), 8)
    return p[:, 1] * 8 + p[:, 0]


def crop_size(img: np.ndarray) -> tuple[int, int]:
    """(H, W) image -> (h, w) of its crops: (H - 8) x (W - 8) rounded down to multiples of 8, room for any shift."""
    h, w = (img.shape[0] - 8) // 8 * 8, (img.shape[1] - 8) // 8 * 8
    if h < 16 or w < 16:
        raise ValueError(f"image {img.shape} too small to crop and shift")
    return h, w


def shift_pairs(
    sp: SuperPoint,
    images: Sequence[np.ndarray],
    offsets: Sequence[tuple[int, int]],
    reference: Callable[[np.ndarray], Features] | None = None,
) -> tuple[dict[tuple[int, int], np.ndarray], np.ndarray]:
    """Per offset d = (dx, dy): (M, 4) rows ``[phase_ref, phase_moved, rx, ry]`` of the mutual nearest points of
    crop ``image[0:, 0:]`` and crop ``image[dy:, dx:]`` (:func:`crop_size`): each point's :func:`cell_phase` in its
    own crop and the displacement r (image frame; 0 for an equivariant detector). Also the (N,) scores of the
    reference crops' keypoints, all images together. ``reference`` (default ``sp``) detects the reference crops:
    the same detection, e.g. one that also records what it saw (:class:`PeakRecorder`)."""
    ref_detect = reference or sp
    per: dict[tuple[int, int], list[np.ndarray]] = {d: [] for d in offsets}
    scores = []
    for img in images:
        h, w = crop_size(img)
        ref = ref_detect(np.ascontiguousarray(img[:h, :w]))
        base = ref.keypoints.astype(np.float64)
        scores.append(ref.scores)
        for dx, dy in offsets:
            kp = sp(np.ascontiguousarray(img[dy : dy + h, dx : dx + w])).keypoints.astype(np.float64)
            moved = kp + np.array([dx, dy], np.float64)
            i, j = mutual_pairs(base, moved)
            rows = np.column_stack([cell_phase(base[i]), cell_phase(kp[j]), moved[j] - base[i]])
            per[(dx, dy)].append(rows.reshape(-1, 4))
    pairs = {d: np.concatenate(parts) if parts else np.zeros((0, 4)) for d, parts in per.items()}
    return pairs, np.concatenate(scores) if scores else np.zeros(0)


def _spread(r: np.ndarray) -> dict[str, Any]:
    n = np.linalg.norm(r, axis=1)
    return {
        "points": len(r),
        "median_px": float(np.median(n)) if len(n) else None,
        "rms_px": float(np.sqrt(np.mean(n**2))) if len(n) else None,
    }


def measure(
    sp: SuperPoint,
    images: Sequence[np.ndarray],
    offsets: Sequence[tuple[int, int]],
    reference: Callable[[np.ndarray], Features] | None = None,
) -> dict[str, Any]:
    """Per offset d: the displacement of the keypoints of crop ``image[dy:, dx:]`` against crop ``image[0:, 0:]``
    (:func:`shift_pairs`, ``reference`` as there), in the image's frame; and the :func:`score_summary` of the
    reference crops."""
    rows = []
    per, scores = shift_pairs(sp, images, offsets, reference)
    for (dx, dy), pairs in per.items():
        r = pairs[:, 2:4]
        rows.append({"offset": [dx, dy], **_spread(r), "mean_xy": r.mean(axis=0).tolist() if len(r) else None})
    return {"offsets": rows, "scores": score_summary(scores, len(images))}


def score_summary(scores: np.ndarray, images: int) -> dict[str, Any]:
    """The detection scores (heatmap values at the kept keypoints) of ``images`` reference crops: count per image,
    median and 90th percentile. A term that compares heatmaps can be lowered by lowering the peaks; this shows
    whether it was."""
    s = np.asarray(scores, dtype=np.float64)
    return {
        "keypoints_per_image": len(s) / max(images, 1),
        "median": float(np.median(s)) if len(s) else None,
        "p90": float(np.percentile(s, 90)) if len(s) else None,
    }


def peak_shape(heat: np.ndarray, keypoints: np.ndarray, radius: int = 2) -> np.ndarray:
    """(H, W) heatmap, (K, 2) keypoints (x, y; each read at its nearest pixel) -> (K, 2) rows ``[fraction, mass]``:
    the heat of the (2 radius + 1)^2 window around the pixel (zero outside the heatmap) summed (``mass``), and the
    share of it at the pixel itself (``fraction``: 1 for a one-pixel peak, 1/25 for a flat 5x5 plateau)."""
    heat = np.asarray(heat, dtype=np.float64)
    if heat.ndim != 2:
        raise ValueError(f"heat must be (H, W), got {heat.shape}")
    pix = np.rint(np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)).astype(np.int64)
    h, w = heat.shape
    if len(pix) and ((pix < 0).any() or (pix[:, 0] >= w).any() or (pix[:, 1] >= h).any()):
        raise ValueError(f"keypoints outside the {h}x{w} heatmap")
    padded = np.pad(heat, radius)
    k = 2 * radius + 1
    oy, ox = np.mgrid[0:k, 0:k]
    windows = padded[pix[:, 1, None, None] + oy, pix[:, 0, None, None] + ox]  # (K, k, k)
    mass = windows.sum(axis=(1, 2))
    at = heat[pix[:, 1], pix[:, 0]]
    return np.column_stack([np.divide(at, mass, out=np.zeros_like(at), where=mass > 0), mass])


class PeakRecorder:
    """Detects like ``sp`` after :func:`install_shift_average` (the heatmap averaged over ``shifts``, then the
    pipeline's own detection) and keeps the :func:`peak_shape` rows of each call's keypoints, read on the heatmap
    that chose them: passed to :func:`measure` as ``reference``, the reference crops are detected once."""

    def __init__(self, sp: SuperPoint, shifts: Sequence[tuple[int, int]]) -> None:
        pipe = sp._pipeline
        if not isinstance(pipe, CpuPipeline):
            raise ValueError("peak shapes need a CPU pipeline (backend onnxruntime, openvino or torch on CPU)")
        self.pipe, self.shifts = pipe, list(shifts)
        self.rows: list[np.ndarray] = []

    def __call__(self, image: np.ndarray) -> Features:
        gray = to_gray_float(image)
        heat, coarse = shift_averaged_heatmap(self.pipe, gray, self.shifts)
        f = self.pipe.features_from_heatmap(heat, coarse, gray)
        self.rows.append(peak_shape(heat, f.keypoints))
        return f

    def summary(self) -> dict[str, Any]:
        """Over every recorded keypoint: the median and 10th percentile of the fraction, the median mass."""
        shape = np.concatenate(self.rows) if self.rows else np.zeros((0, 2))
        if not len(shape):
            return {"points": 0, "fraction_median": None, "fraction_p10": None, "mass_median": None}
        return {
            "points": len(shape),
            "fraction_median": float(np.median(shape[:, 0])),
            "fraction_p10": float(np.percentile(shape[:, 0], 10)),
            "mass_median": float(np.median(shape[:, 1])),
        }


def fit_phase_bias(pairs: np.ndarray) -> np.ndarray:
    """(M, 4) :func:`shift_pairs` rows -> (64, 2) bias b per cell phase (x, y components, each of mean zero) that
    best explains ``r = b[phase_moved] - b[phase_ref]`` in least squares."""
    if pairs.ndim != 2 or pairs.shape[1] != 4 or len(pairs) == 0:
        raise ValueError(f"pairs must be (M>0, 4) rows, got {pairs.shape}")
    m = len(pairs)
    a = np.zeros((m + 1, 64))
    np.add.at(a, (np.arange(m), pairs[:, 1].astype(np.int64)), 1.0)
    np.add.at(a, (np.arange(m), pairs[:, 0].astype(np.int64)), -1.0)
    a[m] = 1.0  # gauge: only differences are observable
    rhs = np.vstack([pairs[:, 2:4], np.zeros((1, 2))])
    return np.linalg.lstsq(a, rhs, rcond=None)[0]


def remove_phase_bias(pairs: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(M, 4) rows, (64, 2) bias -> (M, 2) displacements left once each point is corrected by its phase's bias."""
    return pairs[:, 2:4] - (bias[pairs[:, 1].astype(np.int64)] - bias[pairs[:, 0].astype(np.int64)])


def phase_bias_report(fit_pairs: np.ndarray, test_pairs: np.ndarray) -> dict[str, Any]:
    """Fit on ``fit_pairs``; the spread of the displacements before/after the correction on both sets."""
    bias = fit_phase_bias(fit_pairs)
    return {
        "fit": {"raw": _spread(fit_pairs[:, 2:4]), "corrected": _spread(remove_phase_bias(fit_pairs, bias))},
        "test": {"raw": _spread(test_pairs[:, 2:4]), "corrected": _spread(remove_phase_bias(test_pairs, bias))},
        "bias_max_px": float(np.abs(bias).max()),
        "bias_xy_by_phase_row_col": bias.reshape(8, 8, 2).round(4).tolist(),
    }


def _write_doc(path: Path | None, doc: dict[str, Any]) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1) + "\n")


def _first_images(data: str, count: int) -> list[np.ndarray]:
    seqs = list_sequences(data, "v")[:count]
    if not seqs:
        raise ValueError(f"no viewpoint sequences in {data}")
    return [load_sequence(s).images[0] for s in seqs]


def _model(args: argparse.Namespace, **kw: Any) -> SuperPoint:
    opts: dict[str, Any] = dict(backend=args.backend, precision="fp32", num_threads=1, **kw)
    if args.weights:
        opts["weights"] = args.weights
    return SuperPoint(**opts)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["measure", "phase-bias", "eval"])
    ap.add_argument("data", help="a benchmark folder (HPatches layout)")
    ap.add_argument("--shifts", type=parse_shift, nargs="+", default=[(0, 0)], help="dx,dy ... (default 0,0)")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--images", type=int, default=6, help="measure: first images of this many viewpoint sequences")
    ap.add_argument("--offsets", type=parse_shift, nargs="+", default=list(OFFSETS), help="measure: dx,dy ...")
    ap.add_argument("--fit-data", default=None, help="phase-bias: the benchmark whose pairs fit the bias")
    ap.add_argument("--name", default=None, help="eval: the method's name")
    ap.add_argument("--kinds", default="iv", choices=["iv", "i", "v"])
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0])
    ap.add_argument("--homography-trials", type=int, default=10)
    ap.add_argument("--max-sequences", type=int, default=None)
    args = ap.parse_args(argv)
    shifts = list(args.shifts)
    doc: dict[str, Any] = {"shifts": [list(s) for s in shifts], "weights": args.weights, "cpu": cpu_description()}
    if args.mode == "measure":
        sp = _model(args, max_keypoints=1000)
        install_shift_average(sp, shifts)
        images = _first_images(args.data, args.images)
        peaks = PeakRecorder(sp, shifts)
        doc.update(data=args.data, images=args.images, **measure(sp, images, args.offsets, peaks))
        for r in doc["offsets"]:
            print(f"offset {r['offset']}: {r['points']} points, median {r['median_px']:.3f}, rms {r['rms_px']:.3f} px")
        sc = doc["scores"]
        print(f"scores: {sc['keypoints_per_image']:.0f} per image, median {sc['median']:.4f}, p90 {sc['p90']:.4f}")
        doc["peaks"] = pk = peaks.summary()
        if pk["points"]:
            print(f"peaks: share of the 5x5 heat at the keypoint median {pk['fraction_median']:.3f}, "
                  f"5x5 heat median {pk['mass_median']:.3f}")  # fmt: skip
        _write_doc(args.json, doc)
        return 0
    if args.mode == "phase-bias":
        if not args.fit_data:
            ap.error("phase-bias needs --fit-data")
        sp = _model(args, max_keypoints=1000)
        install_shift_average(sp, shifts)
        fit, _ = shift_pairs(sp, _first_images(args.fit_data, args.images), args.offsets)
        test, _ = shift_pairs(sp, _first_images(args.data, args.images), args.offsets)
        report = phase_bias_report(np.concatenate(list(fit.values())), np.concatenate(list(test.values())))
        doc.update(data=args.data, fit_data=args.fit_data, images=args.images, offsets=args.offsets, **report)
        for part in ("fit", "test"):
            raw, cor = report[part]["raw"], report[part]["corrected"]
            print(f"{part}: {raw['points']} points, median {raw['median_px']:.3f} -> {cor['median_px']:.3f}, "
                  f"rms {raw['rms_px']:.3f} -> {cor['rms_px']:.3f} px")  # fmt: skip
        print(f"largest bias component {report['bias_max_px']:.3f} px")
        _write_doc(args.json, doc)
        return 0
    name = args.name or f"superpoint shift-averaged x{len(shifts)}"
    kw: dict[str, Any] = {"weights": args.weights} if args.weights else {}
    method = SuperPointMethod(
        name=name, backend=args.backend, precision="fp32", num_threads=1, scales=tuple(args.scales), **kw
    )
    install_shift_average(method.model, shifts)
    cfg = EvalConfig(homography_trials=args.homography_trials, kinds=args.kinds, max_sequences=args.max_sequences)
    result = evaluate(args.data, method, cfg, progress=False)
    print(markdown_table([result]))
    if args.json:
        write_json([result], args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
