"""``superpoint-rt``: detect, match, export, info, and the subcommands of the streaming, training and evaluation
parts (demo, train, eval, bench)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .common import build_superpoint, engine_options, read_image, write_image

#: modules that add their own subcommand through ``register(subparsers)``
SUBCOMMAND_MODULES = (
    "superpoint_rt.apps.demo",
    "superpoint_rt.apps.quantize_cli",
    "superpoint_rt.apps.train_cli",
    "superpoint_rt.apps.eval_cli",
    "superpoint_rt.apps.bench.cli",
    "superpoint_rt.apps.mapping_cli",
)


def cmd_detect(args: argparse.Namespace) -> int:
    from ..drawing import draw_keypoints

    sp = build_superpoint(args)
    records = []
    for i, path in enumerate(args.images):
        img = read_image(path)
        f = sp(img)
        rec = {
            "image": path,
            "height": f.image_size[0],
            "width": f.image_size[1],
            "num_keypoints": len(f),
            "timings_ms": {k: round(v * 1e3, 3) for k, v in f.timings.items()},
        }
        if args.output:
            out = args.output if len(args.images) == 1 else str(Path(args.output).with_suffix("")) + f"_{i}.png"
            write_image(out, draw_keypoints(img, f.keypoints, f.scores))
            rec["output"] = out
        if args.save_features:
            npz = args.save_features if len(args.images) == 1 else f"{Path(args.save_features).with_suffix('')}_{i}.npz"
            extra = {} if f.scales is None else {"scales": f.scales}
            np.savez(npz, keypoints=f.keypoints, scores=f.scores, descriptors=f.descriptors, **extra)
            rec["features"] = npz
        records.append(rec)
        if not args.json:
            print(f"{path}: {len(f)} keypoints ({rec['timings_ms']})" + (f" -> {rec['output']}" if args.output else ""))
    if args.json:
        print(json.dumps({"engine": sp.info(), "results": records}, indent=2, default=str))
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    from ..drawing import draw_matches
    from ..verification import VerificationConfig, match_verified

    verification = VerificationConfig(
        model=None if args.verify == "none" else args.verify,
        ransac_threshold=args.ransac_threshold,
        max_displacement=args.max_displacement,
        max_descriptor_distance=None,  # the matcher's --max-distance is that gate already
    )
    sp = build_superpoint(args)
    img_a, img_b = read_image(args.image_a), read_image(args.image_b)
    fa, fb = sp(img_a), sp(img_b)
    v = match_verified(
        fa.keypoints, fa.descriptors, fb.keypoints, fb.descriptors, max_distance=args.max_distance,
        verification=verification,
    )  # fmt: skip
    matches, inliers = v.candidates, v.inliers
    model = None if v.model is None else v.model.tolist()
    rec: dict[str, Any] = {
        "image_a": args.image_a,
        "image_b": args.image_b,
        "keypoints_a": len(fa),
        "keypoints_b": len(fb),
        "matches": len(matches),
        "inliers": int(inliers.sum()),
        "homography": model if args.verify == "homography" else None,
        "fundamental": model if args.verify == "fundamental" else None,
        "verification": {
            "model": v.model_name,
            "ransac": v.ransac,
            "threshold_px": verification.threshold,
            "max_displacement_px": verification.max_displacement,
            "rejected": {k: n for k, n in v.counts().items() if k not in ("candidates", "kept")},
        },
    }
    if args.output:
        canvas = draw_matches(
            img_a, img_b, fa.keypoints, fb.keypoints, matches, inliers, draw_outliers=args.draw_outliers
        )
        write_image(args.output, canvas)
        rec["output"] = args.output
    if args.json:
        print(json.dumps(rec, indent=2))
    else:
        check = "no RANSAC" if args.verify == "none" else f"{args.verify} RANSAC ({v.ransac})"
        print(
            f"keypoints: {len(fa)} / {len(fb)}, mutual NN matches: {len(matches)}, verified ({check}): "
            f"{rec['inliers']}" + (f" -> {args.output}" if args.output else "")
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..export import export_onnx
    from ..weights import load_weights, save_npz

    w = load_weights(args.weights)
    done = []
    if args.onnx:
        done.append(str(export_onnx(w, args.onnx, dtype="float16" if args.fp16 else "float32")))
    if args.npz:
        done.append(str(save_npz(w, args.npz)))
    if args.tensorrt:
        from .tensorrt_cli import build_engine_cli

        done.append(str(build_engine_cli(w, args)))
    if not done:
        print("nothing to do: give --onnx PATH, --npz PATH and/or --tensorrt", file=sys.stderr)
        return 2
    print("\n".join(done))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from ..backends import CpuCaps, auto_choice, available_backends, cpu_supports_bf16, cuda_available
    from ..ops import build_info

    caps = CpuCaps.detect()
    info: dict[str, Any] = {
        "extension": build_info(),
        "backends": available_backends(),
        "cpu": caps.as_dict(),
        "cpu_bf16": cpu_supports_bf16(),
        "cuda": cuda_available(),
    }
    weights = None
    key = "weights" if args.weights else "default_weights"
    try:
        from ..weights import PACKAGED_WEIGHTS, load_weights

        info["packaged_weights"] = {n: str(p) for n, p in PACKAGED_WEIGHTS.items() if p.is_file()}
        weights = load_weights(args.weights)
        info[key] = weights.source
        # which weights these are: the name and step in their metadata, and the content hash
        info[key + "_meta"] = {
            "name": weights.meta.get("name"),
            "step": weights.meta.get("step"),
            "fingerprint": weights.fingerprint,
        }
    except Exception as e:
        info[key] = f"none ({type(e).__name__}: {e})"
    try:
        info["auto"] = auto_choice(weights, caps=caps).as_dict()
    except Exception as e:
        info["auto"] = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(info, indent=2))
    return 0


def cmd_download_original(args: argparse.Namespace) -> int:
    from ..weights import ORIGINAL_LICENSE_NOTE, download_original_weights

    print(ORIGINAL_LICENSE_NOTE, file=sys.stderr)
    path = download_original_weights(cache_dir=args.cache_dir, sha256=args.sha256)
    print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="superpoint-rt", description="Real-time SuperPoint keypoints and descriptors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    eng = engine_options()

    p = sub.add_parser("detect", parents=[eng], help="detect keypoints in images and draw them")
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("-o", "--output", help="annotated PNG (numbered when several images)")
    p.add_argument("--save-features", help="write keypoints/scores/descriptors to this .npz")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("match", parents=[eng], help="match two images (mutual NN + RANSAC verification)")
    p.add_argument("image_a")
    p.add_argument("image_b")
    p.add_argument("-o", "--output", help="side-by-side PNG of the verified matches (green)")
    p.add_argument("--draw-outliers", action="store_true", help="-o also draws the rejected matches, in red")
    p.add_argument("--max-distance", type=float, default=0.7, help="descriptor L2 distance threshold (default 0.7)")
    p.add_argument(
        "--verify",
        choices=["homography", "fundamental", "none"],
        default="homography",
        help="RANSAC model the matches must fit: homography (default: a planar scene or a rotating camera), "
        "fundamental (any rigid motion in 3-D), none",
    )
    p.add_argument(
        "--ransac-threshold", type=float, default=None, help="RANSAC threshold, px (default: 1.5 homography, 1.0 F)"
    )
    p.add_argument("--max-displacement", type=float, default=None, help="reject matches that move more px than this")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_match)

    p = sub.add_parser("export", help="export weights to ONNX / .npz / a TensorRT engine")
    p.add_argument("--weights", default=None, help="weights file (default: ours)")
    p.add_argument("--onnx", help="write the ONNX export here (dynamic batch/height/width)")
    p.add_argument("--fp16", action="store_true", help="FP16-typed ONNX (for strongly typed TensorRT)")
    p.add_argument("--npz", help="write our .npz weights format here (no torch needed to load it)")
    p.add_argument("--tensorrt", action="store_true", help="build the TensorRT engine ahead of time (needs TensorRT)")
    p.add_argument("--min-shape", default="1x240x320", help="TensorRT profile min BxHxW")
    p.add_argument("--opt-shape", default="1x480x640", help="TensorRT profile opt BxHxW")
    p.add_argument("--max-shape", default="8x720x1280", help="TensorRT profile max BxHxW")
    p.add_argument("--precision", default="fp16", help="TensorRT precision: fp16 (default) or fp32")
    p.add_argument("--engine-cache", default=None, help="TensorRT engine cache folder")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "info", help="what is installed (extension, backends, CPU, CUDA, weights) and what `auto` runs here, and why"
    )
    p.add_argument("--weights", default=None, help="weights to decide for (default: ours)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("download-original", help="download Magic Leap's superpoint_v1.pth (non-commercial licence)")
    p.add_argument("--cache-dir", default=None, help="default: $SUPERPOINT_RT_CACHE or ~/.cache/superpoint_rt")
    p.add_argument("--sha256", default=None, help="expected SHA-256 of the file")
    p.set_defaults(func=cmd_download_original)

    for name in SUBCOMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ImportError as e:
            missing = getattr(e, "name", "") or ""
            if missing.startswith("superpoint_rt"):
                continue  # that part is not built yet
            # an optional dependency is missing (e.g. torch for training): register a stub that says so
            cmd = name.rsplit(".", 1)[-1] if not name.endswith(".cli") else name.split(".")[-2]
            stub = sub.add_parser(cmd, help=f"(unavailable: {e})")
            stub.set_defaults(func=lambda a, _e=e: _unavailable(_e))
            continue
        if hasattr(mod, "register"):
            mod.register(sub)
    return parser


def _unavailable(e: Exception) -> int:
    print(f"error: this command needs an optional dependency: {e}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from ..weights import WeightsError

    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, WeightsError, ValueError, TypeError, RuntimeError, ConnectionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
