"""``superpoint-rt quantize``: INT8 post-training quantisation of a weights file (OpenVINO + NNCF) on real photos;
the library part is :mod:`superpoint_rt.quantize`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..quantize import calibration_batches, calibration_files, check_keep_float, quantize_openvino
from ..weights import load_weights


def cmd_quantize(args: argparse.Namespace) -> int:
    weights = load_weights(args.weights)
    try:
        check_keep_float(weights, args.keep_float)
    except ValueError as e:
        print(f"quantize: {e}", file=sys.stderr)
        return 2
    files = calibration_files(args.calib, args.max_images)
    h, w = (int(v) for v in args.size.lower().split("x"))
    calib = calibration_batches(files, (h, w), args.crops)
    out = quantize_openvino(
        weights, calib, args.output, fast_bias_correction=args.bias_correction == "fast", keep_float=args.keep_float
    )
    print(out)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("quantize", help="INT8 post-training quantisation (OpenVINO + NNCF) on real photos")
    p.add_argument("--weights", default=None, help="weights file (default: ours)")
    p.add_argument(
        "--calib",
        required=True,
        help="folder or glob of calibration photos (keep them out of benchmarks), or 'train-photos': the training "
        "split of data/PHOTOS.md",
    )
    p.add_argument("--output", required=True, help="output OpenVINO IR path (.xml)")
    p.add_argument("--size", default="480x640", help="calibration input HxW (default 480x640)")
    p.add_argument("--crops", type=int, default=4, help="random crops per photo (default 4)")
    p.add_argument(
        "--max-images",
        type=int,
        default=100,
        help="at most this many photos, evenly spaced over the sorted list (default 100)",
    )
    p.add_argument(
        "--keep-float",
        nargs="+",
        default=[],
        metavar="LAYER",
        help="layers left in float, e.g. convPa convPb (the detector head, read by the sub-pixel refinement)",
    )
    p.add_argument(
        "--bias-correction",
        choices=("fast", "full"),
        default="fast",
        help="NNCF bias correction: 'fast' (default) or 'full' (slower to quantise, corrects each layer's output "
        "shift on the calibration set after the layers before it are quantised)",
    )
    p.set_defaults(func=cmd_quantize)
