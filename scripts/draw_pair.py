"""Draw one benchmark pair's RANSAC matches for several methods, one row each, coloured by true error.

    python scripts/draw_pair.py /work/heldout_large/v_kleiber-by-lukas-baubkus-s3 --k 4 --out pair.png \\
        --row sift --row "superpoint,backend=onnxruntime,precision=fp32,scales=1.41/1/0.71/0.5,name=v10 4 levels"

The evaluator's protocol for one pair (image 1 against image ``k`` of an HPatches-format sequence, both resized to
``--size``, at most ``--keypoints`` points, mutual nearest neighbours, OpenCV RANSAC at 3 px, seed 0), so a row shows
what ``superpoint-rt eval`` scored for that pair in its single run. Each row: the two images side by side, every
detected point as a grey dot, RANSAC's inliers as lines, green within 1 px of where the true homography puts them,
orange within 3 px, red further; the caption gives the counts and the estimate's corner error.

A row is ``sift``, ``orb`` or ``superpoint`` followed by comma-separated options: ``weights=W`` (a packaged name or
a file), ``scales=1.41/1/0.71/0.5`` (a pyramid), ``backend=onnxruntime``, ``precision=fp32`` (unset: the default
call's engine, e.g. INT8 on a CPU with AMX; the committed evaluations use ``backend=onnxruntime,precision=fp32``),
``name=LABEL``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import cv2

from superpoint_rt.apps.eval_cli import parse_size
from superpoint_rt.eval.hpatches import load_sequence
from superpoint_rt.eval.methods import get_method, superpoint_method
from superpoint_rt.eval.metrics import estimate_homography
from superpoint_rt.eval.pair_view import PairMatches, draw_pair, stack_rows

ROW_KEYS = {"weights", "scales", "backend", "precision", "name"}


def parse_row(spec: str) -> tuple[str, dict[str, str]]:
    """``"superpoint,weights=W,scales=1/0.71"`` -> ``("superpoint", {"weights": "W", "scales": "1/0.71"})``."""
    head, *rest = [s.strip() for s in spec.split(",")]
    if head not in ("superpoint", "sift", "orb"):
        raise ValueError(f"row {spec!r}: the method must be superpoint, sift or orb, got {head!r}")
    opts: dict[str, str] = {}
    for item in rest:
        key, sep, value = item.partition("=")
        if not sep or key not in ROW_KEYS:
            raise ValueError(f"row {spec!r}: options are {sorted(ROW_KEYS)} as key=value, got {item!r}")
        opts[key] = value
    if head != "superpoint" and set(opts) - {"name"}:
        raise ValueError(f"row {spec!r}: only superpoint rows take weights, scales, backend or precision")
    return head, opts


def make_method(head: str, opts: dict[str, str]) -> Any:
    """The evaluator's method object for one row."""
    if head != "superpoint":
        return get_method(head)
    kw: dict[str, Any] = {}
    if "scales" in opts:
        try:
            kw["scales"] = tuple(float(s) for s in opts["scales"].split("/"))
        except ValueError:
            raise ValueError(f"scales must be numbers separated by '/', got {opts['scales']!r}") from None
    return superpoint_method(
        weights=opts.get("weights"),
        backend=opts.get("backend"),
        precision=opts.get("precision"),
        name=opts.get("name"),
        **kw,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sequence", type=Path, help="an HPatches-format sequence folder (i_* or v_*)")
    ap.add_argument("--k", type=int, default=4, help="image k of the sequence against image 1 (2-6; default 4)")
    ap.add_argument("--row", action="append", required=True, help="a method row (see above); repeat for more")
    ap.add_argument("--out", type=Path, required=True, help="image to write (.png or .jpg)")
    ap.add_argument("--size", type=parse_size, default=(480, 640), help="HEIGHTxWIDTH (the evaluator's 480x640)")
    ap.add_argument("--keypoints", type=int, default=1000, help="at most this many points (the evaluator's 1000)")
    args = ap.parse_args(argv)
    if not 2 <= args.k <= 6:
        ap.error(f"--k must be 2..6, got {args.k}")
    try:
        rows_spec = [parse_row(r) for r in args.row]
        methods = [make_method(head, opts) for head, opts in rows_spec]
        seq = load_sequence(args.sequence, args.size)
    except ValueError as e:
        ap.error(str(e))
    h = seq.homographies[args.k - 2]
    img1, img2 = seq.images[0], seq.images[args.k - 1]
    rows = []
    for (head, opts), method in zip(rows_spec, methods, strict=True):
        method.max_keypoints = args.keypoints
        kp1, _, d1 = method(img1)
        kp2, _, d2 = method(img2)
        est = estimate_homography(kp1, d1, kp2, d2, h, args.size, 3.0)
        label = str(opts.get("name") or getattr(method, "name", None) or head)
        result = PairMatches(kp1, kp2, est.matches, est.inliers, est.error, label)
        rows.append(draw_pair(img1, img2, result, h))
        print(
            f"{label}: {len(kp1)}/{len(kp2)} points, {len(est.matches)} matches, {int(est.inliers.sum())} inliers, "
            f"corner error {est.error:.2f} px"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), stack_rows(rows)):
        raise SystemExit(f"could not write {args.out}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
