"""Turn a SuperPoint-stage training run into packaged weights: batch norm folded, our ``.npz`` (with its card
metadata), the ONNX export beside it, and the INT8 OpenVINO IR calibrated on the training photos.

    python scripts/release_weights.py --run-dir train_runs/superpoint --name superpoint-rt \\
        --out superpoint_rt/data/weights/superpoint_rt.npz [--onnx OUT.onnx] [--no-int8] [--keep-float convPa convPb]

``--weights CANDIDATE.npz`` instead of ``--run-dir`` promotes weights landed earlier (e.g. a candidate exported
from a checkpoint that is no longer kept): the same arrays, hence the same fingerprint, with the new name, licence
and note; their step, stage and training hours stay as the candidate recorded them.

Needs the train extra (torch) and, for INT8, nncf plus the training photos (data/PHOTOS.md, apt packages).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from superpoint_rt.quantize import calibration_batches, calibration_files, check_keep_float, quantize_openvino
from superpoint_rt.train.checkpoint import export_weights, load_checkpoint
from superpoint_rt.weights import load_weights, save_npz


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--run-dir", type=Path, help="a `superpoint-rt train superpoint` run")
    src.add_argument("--weights", type=Path, help="or: our .npz landed earlier, re-stamped with the new metadata")
    ap.add_argument("--checkpoint", type=Path, help="default: RUN_DIR/checkpoints/last.pt")
    ap.add_argument("--name", required=True, help="the weights' name in their metadata")
    ap.add_argument("--note", default="", help="one line for the metadata")
    ap.add_argument("--licence", default="MIT (superpoint_rt)", help="the licence line of the metadata")
    ap.add_argument("--out", type=Path, required=True, help="output .npz")
    ap.add_argument("--onnx", type=Path, help="also write the FP32 ONNX export here")
    ap.add_argument("--no-int8", action="store_true", help="skip the INT8 IR (<out stem>_int8.xml)")
    ap.add_argument("--calib", default="train-photos", help="INT8 calibration photos (default: train-photos)")
    ap.add_argument(
        "--keep-float",
        nargs="+",
        default=[],
        metavar="LAYER",
        help="layers the INT8 IR keeps in float, as `superpoint-rt quantize --keep-float` (the shipped IRs since v3: "
        "convPa convPb, the detector head)",
    )
    args = ap.parse_args(argv)
    if args.keep_float and args.no_int8:
        ap.error("--keep-float describes the INT8 IR: drop it or drop --no-int8")

    if args.weights is not None:
        if args.checkpoint is not None:
            ap.error("--checkpoint goes with --run-dir, not --weights")
        if args.weights.suffix != ".npz":
            ap.error(f"--weights must be one of our .npz files, got {args.weights}")
        w = load_weights(args.weights)  # checks every key and shape
        if w.meta.get("stage") is None or "step" not in w.meta:
            ap.error(f"{args.weights} records no training stage and step: not weights this script released")
        w.meta.update({"name": args.name, "licence": args.licence, "note": args.note})
    else:
        ckpt = args.checkpoint or args.run_dir / "checkpoints" / "last.pt"
        state = load_checkpoint(ckpt)  # refuses a pickle that would run code
        with tempfile.TemporaryDirectory() as tmp:
            pth = export_weights(
                state["model"], Path(tmp) / "weights.pth", {"stage": state.get("stage"), "step": state.get("step")}
            )
            w = load_weights(pth)
        w.meta.update(
            {
                "name": args.name,
                "stage": state.get("stage"),
                "step": int(state.get("step", 0)),
                "train_hours": round(float(state.get("elapsed_s", 0.0)) / 3600.0, 2),
                "licence": args.licence,
                "note": args.note,
            }
        )
    try:
        check_keep_float(w, args.keep_float)
    except ValueError as e:
        ap.error(str(e))
    out = save_npz(w, args.out)
    print(f"wrote {out} (step {w.meta['step']}, fingerprint {w.fingerprint})")
    w = load_weights(out)  # what users load
    if args.onnx:
        from superpoint_rt.export import build_onnx

        args.onnx.parent.mkdir(parents=True, exist_ok=True)
        args.onnx.write_bytes(build_onnx(w).SerializeToString())
        print(f"wrote {args.onnx}")
    if not args.no_int8:
        files = calibration_files(args.calib, 100)
        ir = quantize_openvino(
            w,
            calibration_batches(files, (480, 640), 4),
            out.with_name(out.stem + "_int8.xml"),
            keep_float=args.keep_float,
        )
        kept = f", {' '.join(args.keep_float)} in float" if args.keep_float else ""
        print(f"wrote {ir} (calibrated on {len(files)} photos x 4 crops{kept})")
    print(json.dumps(w.meta, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
