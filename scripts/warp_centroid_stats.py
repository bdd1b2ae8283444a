#!/usr/bin/env python
"""How far a network's keypoints sit from where the homography sends them, on warped training pairs.

The quantity recipe O's term trains (:mod:`superpoint_rt.train.warp_centroid`): for each pair of a config's data
(source crop and its random warp, both photometrically augmented), the source image's 256 strongest keypoints
(NMS peak + 5x5 centroid, the default refinement) sent through the pair's homography, paired with the warped image's
nearest peak within 2 px, refined the same way. Per checkpoint, on the same pairs: the number of pairs, the median
and the share within 0.5 / 1 / 2 px of the keypoint distance ``|p' - H p|``, and the term's value (mean squared
distance of the pairs within 3 px). Inference mode (running batch-norm statistics), FP32, one thread; the pairs
are drawn with the config's validation seed (``val_seed``), not a training step's.

    python scripts/warp_centroid_stats.py --config configs/superpoint_v2o_warp.yaml \\
        --checkpoint M=train_state/superpoint_v2m/last.pt O=train_state/superpoint_v2o/last.pt --json stats.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from superpoint_rt.network import SuperPointNet
from superpoint_rt.sysinfo import cpu_description
from superpoint_rt.train.checkpoint import load_net_state, net_from_state
from superpoint_rt.train.config import load_config
from superpoint_rt.train.pairs import PairBatches
from superpoint_rt.train.warp_centroid import MAX_ERROR, warp_centroid_errors

WITHIN = (0.5, 1.0, 2.0)


def load_model(path: Path) -> SuperPointNet:
    """A checkpoint's or export's network, in inference mode."""
    return net_from_state(load_net_state(path)).eval()


def distances(net: SuperPointNet, batches: list[dict[str, torch.Tensor]]) -> tuple[np.ndarray, list[int]]:
    """(P,) keypoint distances (px) over all pairs of ``batches`` and the number of pairs per image pair."""
    out, per_image = [], []
    with torch.no_grad():
        for b in batches:
            n = b["image"].shape[0]
            logits, _ = net(torch.cat([b["image"], b["warped_image"]]))
            for i in range(n):
                sl = slice(i, i + 1)
                sq = warp_centroid_errors(
                    logits[sl], logits[n + i : n + i + 1], b["homography"][sl], b["warped_cell_valid"][sl]
                )
                out.append(np.sqrt(sq.numpy()))
                per_image.append(len(sq))
    return np.concatenate(out), per_image


def summarise(d: np.ndarray, per_image: list[int]) -> dict[str, Any]:
    """Distance statistics of one checkpoint (px; the term's value in px^2)."""
    kept = d[d <= MAX_ERROR]
    row: dict[str, Any] = {
        "pairs": len(d),
        "pairs_per_image": float(np.mean(per_image)),
        "median_px": float(np.median(d)) if len(d) else None,
        "term_px2": float(np.mean(kept**2)) if len(kept) else None,
    }
    for t in WITHIN:
        row[f"within_{t:g}px"] = float(np.mean(d <= t)) if len(d) else None
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, required=True, help="its data (crops, labels, warps, augmentation)")
    ap.add_argument("--checkpoint", nargs="+", required=True, help="NAME=PATH (checkpoint or exported weights)")
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--pairs", type=int, default=4, help="pairs per batch")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    named = []
    for item in args.checkpoint:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            ap.error(f"--checkpoint takes NAME=PATH, got {item!r}")
        if not Path(path).is_file():
            ap.error(f"no such checkpoint: {path}")
        named.append((name, Path(path)))
    torch.set_num_threads(1)
    cfg = load_config(args.config)
    data = PairBatches(cfg.data, args.pairs, cfg.val_seed)
    batches = [data.batch(i) for i in tqdm(range(args.batches), desc="pairs", unit="batch")]
    results = {}
    for name, path in tqdm(named, desc="checkpoints", unit="ckpt"):
        d, per_image = distances(load_model(path), batches)
        results[name] = {"checkpoint": str(path), **summarise(d, per_image)}
        print(name, json.dumps(results[name]))
    doc = {
        "config": str(args.config),
        "image_pairs": args.batches * args.pairs,
        "seed": cfg.val_seed,
        "cpu": cpu_description(),
        "results": results,
    }
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
