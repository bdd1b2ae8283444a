#!/usr/bin/env python
"""How hard each loss term pulls on the shared encoder: gradient norms on real training batches, to set a weight.

Before switching a run to another descriptor loss, pick its ``lambda_loss`` so the descriptor term pulls on the
encoder (conv1a..conv4b) about as hard as the one it replaces. For a checkpoint and a config's data, per batch:
the L2 norm of the encoder gradient of the detector terms (``det + wdet``), of the hinge descriptor loss times the
config's ``lambda_loss``, and of the softmax descriptor loss at each ``--temperatures`` (weight 1; divide to choose
a weight). Training mode (batch statistics), FP32, one thread; the batches are the config's at ``--step``
(rank 0 of 1, ``--pairs`` pairs). ``--shift`` adds the config's shift term (``shift_loss``, weight 1) with the
trainer's shift draws; the source images' shifted copies then join the batch as in training.

    python scripts/loss_gradient_scale.py --checkpoint train_runs/superpoint_v2h/checkpoints/last.pt \\
        --config configs/superpoint_v2h_desc4.yaml --batches 3 --json /tmp/scale.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from superpoint_rt.network import SuperPointNet
from superpoint_rt.sysinfo import cpu_description
from superpoint_rt.train.checkpoint import load_net_state, net_from_state
from superpoint_rt.train.config import load_config
from superpoint_rt.train.equivariance import shift_images, shift_loss, step_shifts
from superpoint_rt.train.losses import descriptor_loss, descriptor_softmax_loss, detector_loss
from superpoint_rt.train.pairs import PairBatches

ENCODER = ("conv1a", "conv1b", "conv2a", "conv2b", "conv3a", "conv3b", "conv4a", "conv4b")


def encoder_grad_norm(loss: torch.Tensor, params: Sequence[torch.Tensor]) -> float:
    """L2 norm of d loss / d params over all of ``params`` (the graph is kept for the next term)."""
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return float(torch.sqrt(sum(((g.float() ** 2).sum() for g in grads if g is not None), torch.tensor(0.0))))


def load_model(path: Path) -> SuperPointNet:
    """A checkpoint's or export's network (with or without batch norm; loaded safely) in training mode."""
    return net_from_state(load_net_state(path)).train()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, required=True)
    ap.add_argument("--config", type=Path, required=True, help="its data (images, labels, warps) and hinge settings")
    ap.add_argument("--step", type=int, default=0, help="the batches of this training step on (default 0)")
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--temperatures", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    ap.add_argument("--shift", action="store_true", help="also the config's shift term (weight 1)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_config(args.config)
    net = load_model(args.checkpoint)
    params = [p for name, p in net.named_parameters() if name.split(".")[0] in ENCODER]
    data = PairBatches(cfg.data, args.pairs, cfg.seed, args.step, 0, 1)
    rows: list[dict[str, Any]] = []
    for i in range(args.batches):
        b = data.batch(i)
        n = b["image"].shape[0]
        views = [b["image"], b["warped_image"]]
        if args.shift:
            shifts = step_shifts(cfg.seed, args.step + i, 0, n)
            views.append(shift_images(b["image"], shifts))
        logits, desc = net(torch.cat(views))
        det = detector_loss(logits[:n], b["labels"], b["cell_valid"])
        det = det + detector_loss(logits[n : 2 * n], b["warped_labels"], b["warped_cell_valid"])
        dargs = (desc[:n], desc[n : 2 * n], b["homography"], b["warped_cell_valid"])
        hinge = descriptor_loss(*dargs, cfg.positive_margin, cfg.negative_margin, cfg.lambda_d)
        row: dict[str, Any] = {
            "detector": {"value": float(det.detach()), "grad_norm": encoder_grad_norm(det, params)},
            "hinge_weighted": {
                "lambda_loss": cfg.lambda_loss,
                "value": float(hinge.detach()),
                "grad_norm": cfg.lambda_loss * encoder_grad_norm(hinge, params),
            },
        }
        for t in args.temperatures:
            sm = descriptor_softmax_loss(*dargs, temperature=t)
            row[f"softmax_t{t:g}"] = {"value": float(sm.detach()), "grad_norm": encoder_grad_norm(sm, params)}
        if args.shift:
            sl = shift_loss(cfg.shift_loss, logits[:n], logits[2 * n :], shifts)
            row["shift"] = {"value": float(sl.detach()), "grad_norm": encoder_grad_norm(sl, params)}
        rows.append(row)
        print(" | ".join(f"{k} {v['value']:.3f} grad {v['grad_norm']:.3f}" for k, v in row.items()), flush=True)
    if args.json:
        doc = {
            "checkpoint": str(args.checkpoint),
            "config": str(args.config),
            "step": args.step,
            "pairs": args.pairs,
            "batches": rows,
            "cpu": cpu_description(),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
