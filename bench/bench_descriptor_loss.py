"""The descriptor loss as trained (``train.losses.descriptor_loss``: negatives by one product, positives from
``positive_pairs``) against the paper's literal dense form (a 0/1 mask over all cell pairs), forward + backward at
the training shape, one thread, rounds interleaved; checks both give the same value and writes a JSON record.
Also times the ranking alternative (``descriptor_softmax_loss``, ``descriptor_loss: softmax`` in a config) at the
same shape, for its cost per step against the hinge.

    python bench/bench_descriptor_loss.py --out bench/results/descriptor_loss_cpu.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from superpoint_rt.sysinfo import cpu_description
from superpoint_rt.train.losses import cell_centers, descriptor_loss, descriptor_softmax_loss


def dense_descriptor_loss(d: torch.Tensor, w: torch.Tensor, h: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Eq. 5 literally (margins 1 / 0.2, lambda_d 250, 8 px), as the loss was computed before this change: the
    dense float64 distance matrix of warped cell centres, every pair's hinge, weighted by target validity."""
    b, _, hc, wc = d.shape
    c = cell_centers(hc, wc).double()  # the former mask: all warped centres against all centres, float64
    p = torch.einsum("bij,nj->bni", h.double(), torch.cat([c, torch.ones_like(c[:, :1])], dim=1))
    s = (torch.cdist(p[..., :2] / p[..., 2:3], c.expand(b, -1, -1)) < 8.0).float()
    dot = torch.einsum("bdn,bdm->bnm", d.flatten(2), w.flatten(2))
    loss = 250.0 * s * F.relu(1.0 - dot) + (1.0 - s) * F.relu(dot - 0.2)
    v = valid.reshape(b, hc * wc).float()
    return ((loss * v[:, None, :]).sum(dim=(1, 2)) / (hc * wc * v.sum(dim=1).clamp_min(1.0))).mean()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=4, help="pairs per process and step (the v2 config: 4)")
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    shape = (args.pairs, 256, args.height // 8, args.width // 8)
    d = F.normalize(torch.randn(shape), dim=1).requires_grad_()
    w = F.normalize(torch.randn(shape), dim=1).requires_grad_()
    h = torch.eye(3, dtype=torch.float64).repeat(args.pairs, 1, 1)
    h[:, 0, 2], h[:, 1, 1] = 5.0, 1.1  # a shift and a vertical stretch: a few positives per cell
    valid = torch.rand(shape[0], shape[2], shape[3]) > 0.2
    fns = {"dense": dense_descriptor_loss, "ours": descriptor_loss, "softmax": descriptor_softmax_loss}
    times: dict[str, list[float]] = {k: [] for k in fns}
    values: dict[str, float] = {}
    for r in range(args.rounds + 1):  # round 0 warms up
        for name, fn in fns.items():
            d.grad = w.grad = None
            t0 = time.perf_counter()
            loss = fn(d, w, h, valid)
            loss.backward()
            if r:
                times[name].append(time.perf_counter() - t0)
            values[name] = float(loss.detach())
    med = {k: statistics.median(v) for k, v in times.items()}
    doc = {
        "what": __doc__.split("\n\n")[0],
        "command": f"python bench/bench_descriptor_loss.py --pairs {args.pairs} --height {args.height} "
        f"--width {args.width} --rounds {args.rounds}",
        "cells": shape[2] * shape[3],
        "loss_value": values,
        "median_s_forward_backward": {k: round(v, 4) for k, v in med.items()},
        "speedup": round(med["dense"] / med["ours"], 3),
        "softmax_over_ours": round(med["softmax"] / med["ours"], 3),
        "cpu": cpu_description(),
    }
    print(json.dumps({k: doc[k] for k in ("loss_value", "median_s_forward_backward", "speedup", "softmax_over_ours")}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    return 0 if abs(values["dense"] - values["ours"]) <= 1e-5 * abs(values["dense"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
