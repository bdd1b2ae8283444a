#!/usr/bin/env python
"""How far INT8 IRs of one weights file stray from its FP32 output, on photos no benchmark uses.

A quick, label-free way to choose a quantisation recipe (which layers stay float, which bias correction) before
spending an evaluation run on it: each photo (resized to ``--size``) goes through the FP32 ONNX Runtime engine
(the reference) and through each IR (OpenVINO ``precision="int8"``), all with the default options. Per IR:

* ``keypoint_recall_1px`` / ``_0.25px``: the share of FP32 keypoints with an INT8 keypoint within 1 / 0.25 px
  (pixels of the input; keypoints are (x, y), ``convention="center"``);
* ``shift_px_median``: the median distance of those pairs within 1 px (how much the sub-pixel positions move);
* ``descriptor_cosine``: the mean cosine between the FP32 descriptor and the INT8 descriptor at the same FP32
  keypoint (``SuperPoint.compute``), and ``descriptor_nn_identity``: the share of FP32 keypoints whose INT8
  descriptor has, among all FP32 descriptors of the image, its own FP32 descriptor as nearest neighbour;
* ``ms_per_frame``: the mean wall time of one call at ``--threads`` (a rough figure: the benchmarks of bench/ are
  the ones to quote).

The photos are the sorted ``--photos`` list minus the ``--skip-calib`` photos a ``superpoint-rt quantize
--max-images N`` run samples (evenly spaced), then ``--max-images`` evenly spaced over the rest.

    python scripts/int8_error.py --weights superpoint_rt/data/weights/superpoint_rt.npz \\
        --int8 head=superpoint_rt/data/weights/superpoint_rt_int8.xml heads=/tmp/heads.xml \\
        --photos '../shared/photos/*/train/*.jpg' --json bench/results/int8_error_v3.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from superpoint_rt import SuperPoint
from superpoint_rt.eval.photos import evenly_spaced
from superpoint_rt.quantize import collect_images
from superpoint_rt.sysinfo import cpu_description, machine_load, versions


def pick_photos(spec: str, skip_calib: int, k: int) -> list[Path]:
    """``k`` photos evenly spaced over ``spec``'s sorted list once the ``skip_calib`` calibration photos are out."""
    files = collect_images(spec)
    calib = set(evenly_spaced(files, skip_calib)) if skip_calib > 0 else set()
    rest = [f for f in files if f not in calib]
    if not rest:
        raise ValueError(f"{spec}: no photo left once the {skip_calib} calibration photos are out")
    return evenly_spaced(rest, k)


def compare_one(ref: Any, test: Any, image: np.ndarray) -> dict[str, float]:
    """Agreement of ``test``'s keypoints and descriptors with ``ref``'s on one (H, W) uint8 image."""
    a, b = ref(image), test(image)
    out: dict[str, float] = {"keypoints_fp32": float(len(a)), "keypoints_int8": float(len(b))}
    if len(a) == 0:
        return out
    if len(b):
        d = np.linalg.norm(a.keypoints[:, None, :].astype(np.float64) - b.keypoints[None].astype(np.float64), axis=2)
        nearest = d.min(axis=1)
    else:
        nearest = np.full(len(a), np.inf)
    out["keypoint_recall_1px"] = float((nearest <= 1.0).mean())
    out["keypoint_recall_0.25px"] = float((nearest <= 0.25).mean())
    close = nearest[nearest <= 1.0]
    out["shift_px_median"] = float(np.median(close)) if close.size else float("nan")
    kps = [cv2.KeyPoint(float(x), float(y), 8.0) for x, y in a.keypoints]
    kept, desc_b = test.compute(image, kps)
    if desc_b is not None and len(kept) == len(a):
        da, db = a.descriptors.astype(np.float64), desc_b.astype(np.float64)
        out["descriptor_cosine"] = float(np.mean(np.sum(da * db, axis=1)))
        nn = np.argmax(db @ da.T, axis=1)
        out["descriptor_nn_identity"] = float(np.mean(nn == np.arange(len(a))))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", required=True, help="the weights the IRs were quantised from")
    p.add_argument("--int8", nargs="+", required=True, metavar="NAME=XML", help="IRs to compare, each named")
    p.add_argument("--photos", required=True, help="folder or glob of photos (keep benchmarks' photos out)")
    p.add_argument("--skip-calib", type=int, default=100, help="leave out the calibration photos (default 100)")
    p.add_argument("--max-images", type=int, default=60)
    p.add_argument("--size", default="480x640", help="HxW each photo is resized to")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    named = []
    for item in args.int8:
        name, sep, xml = item.partition("=")
        if not sep or not name or not Path(xml).is_file():
            p.error(f"--int8 {item!r}: expected NAME=XML with an existing IR")
        named.append((name, xml))
    h, w = (int(v) for v in args.size.lower().split("x"))
    files = pick_photos(args.photos, args.skip_calib, args.max_images)
    ref = SuperPoint(weights=args.weights, backend="onnxruntime", precision="fp32", num_threads=args.threads)
    tests = {
        name: SuperPoint(
            weights=args.weights, backend="openvino", precision="int8", int8_model=xml, num_threads=args.threads
        )
        for name, xml in named
    }
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in tests}
    images = []
    for f in tqdm(files, desc="photos"):
        img = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise ValueError(f"cannot read {f}")
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        images.append(img)
        for name, sp in tests.items():
            rows[name].append(compare_one(ref, sp, img))
    result: dict[str, Any] = {
        "weights": args.weights,
        "photos": args.photos,
        "images": len(files),
        "size": [h, w],
        "threads": args.threads,
        "cpu": cpu_description(),
        "versions": versions(),
        "machine_load": machine_load(),  # other work beside it makes ms_per_frame slower and noisier
        "irs": {},
    }
    for name, sp in [("fp32", ref), *tests.items()]:
        for img in images[:5]:
            sp(img)  # warm-up
        t0 = time.perf_counter()
        for img in images:
            sp(img)
        ms = 1000 * (time.perf_counter() - t0) / len(images)
        entry: dict[str, Any] = {"ms_per_frame": round(ms, 2)}
        if name != "fp32":
            entry["int8_model"] = dict(named)[name]
            keys = sorted({k for r in rows[name] for k in r})
            for k in keys:
                vals = np.array([r[k] for r in rows[name] if k in r and np.isfinite(r[k])], dtype=np.float64)
                entry[k] = round(float(vals.mean()), 4) if vals.size else None
        result["irs"][name] = entry
        print(name, json.dumps(entry))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
