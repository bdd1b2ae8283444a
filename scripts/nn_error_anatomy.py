#!/usr/bin/env python
"""Why a nearest-neighbour match fails: near misses (sub-cell / neighbouring points) or descriptor confusions.

NN mAP counts a point of image 1 as a positive when image 2 has a detected point within ``--eps`` of its warped
position; its match is right when the descriptor nearest neighbour is such a point. This script splits the
positives' NN matches (direction 1 -> k, shared-region points, ``superpoint_rt.eval.metrics.nn_error_anatomy``)
into *correct* (NN within eps), *near* (eps < distance <= ``--near``: a neighbouring point, i.e. the descriptor
cannot tell points within a cell or two apart) and *far* (a descriptor confusion with another part of the scene),
per pair index k (the warp strength of a made benchmark, ``scripts/eval_by_strength.py``) and in total.

    python scripts/nn_error_anatomy.py /work/val_photos --weights superpoint-rt-v5 --kind v \\
        --json bench/results/nn_anatomy_val_v5.json

The points and images are the evaluator's descriptor protocol (``superpoint_rt.eval.runner.EvalConfig``): images
resized to 480x640, the top 1000 keypoints by score (``--max-keypoints``), default detection options, ONNX Runtime
FP32 (``--backend`` / ``--precision`` to change).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from superpoint_rt import SuperPoint
from superpoint_rt.eval.hpatches import list_sequences, load_sequence
from superpoint_rt.eval.metrics import NNErrorAnatomy, nn_error_anatomy
from superpoint_rt.eval.runner import EvalConfig
from superpoint_rt.sysinfo import cpu_description


def summarise(counts: list[NNErrorAnatomy]) -> dict[str, float | int]:
    """Pooled shares of a list of pairs: ``{"pairs", "with_partner", "correct", "near", "far"}`` (shares of
    ``with_partner``; 0 when no pair has a positive)."""
    n = sum(c.with_partner for c in counts)
    out: dict[str, float | int] = {"pairs": len(counts), "with_partner": n}
    for field in ("correct", "near", "far"):
        out[field] = sum(getattr(c, field) for c in counts) / n if n else 0.0
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="HPatches-layout benchmark folder")
    ap.add_argument("--weights", default=None, help="weights name or file (default: the packaged default)")
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--kind", default="v", choices=("i", "v", "iv"), help="sequence kinds (default v)")
    ap.add_argument("--eps", type=float, default=3.0, help="correct within this many pixels (default 3)")
    ap.add_argument("--near", type=float, default=12.0, help="near miss up to this many pixels (default 12)")
    ap.add_argument("--max-keypoints", type=int, default=EvalConfig.desc_keypoints, help="top-k (default 1000)")
    ap.add_argument("--every", type=int, default=1, help="use every n-th sequence (default 1: all)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    if args.every < 1:
        raise SystemExit("--every must be >= 1")
    if args.near < args.eps:
        raise SystemExit(f"--near ({args.near}) must be >= --eps ({args.eps})")
    sp = SuperPoint(
        weights=args.weights,
        backend=args.backend,
        precision=args.precision,
        num_threads=args.threads,
        max_keypoints=args.max_keypoints,
    )
    seqs = list_sequences(args.data, args.kind)[:: args.every]
    by_k: dict[int, list[NNErrorAnatomy]] = {}
    for folder in tqdm(seqs, desc="sequences", disable=args.no_progress):
        seq = load_sequence(folder, EvalConfig.desc_size)
        f1 = sp(seq.images[0])
        for k, im1, imk, h in seq.pairs():
            fk = sp(imk)
            a = nn_error_anatomy(
                f1.keypoints, f1.descriptors, fk.keypoints, fk.descriptors, h, im1.shape[:2], imk.shape[:2],
                args.eps, args.near,
            )  # fmt: skip
            by_k.setdefault(k, []).append(a)
    rows = {str(k): summarise(v) for k, v in sorted(by_k.items())}
    total = summarise([a for v in by_k.values() for a in v])
    print(f"{'k':>4} {'pairs':>6} {'positives':>9} {'correct':>8} {'near':>6} {'far':>6}")
    for label, r in [*rows.items(), ("all", total)]:
        print(
            f"{label:>4} {r['pairs']:>6} {r['with_partner']:>9} {r['correct']:>8.3f} {r['near']:>6.3f} {r['far']:>6.3f}"
        )
    if args.json:
        result: dict[str, Any] = {
            "data": str(args.data),
            "weights": args.weights or "default",
            "backend": args.backend,
            "precision": args.precision,
            "kind": args.kind,
            "eps": args.eps,
            "near_px": args.near,
            "max_keypoints": args.max_keypoints,
            "every": args.every,
            "by_k": rows,
            "all": total,
            "cpu": cpu_description(),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
