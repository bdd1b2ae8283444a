"""The ``eval`` subcommand.

    superpoint-rt eval DATA_DIR [--method superpoint orb sift ...] [--json OUT] [--plots DIR]
    superpoint-rt eval make-benchmark PHOTO... OUT [--heldout] [--size 480x640] [--seed 0]
    superpoint-rt eval synthetic [--method superpoint fast harris shi] [--images 300] [--noisy] [--json OUT]

``DATA_DIR`` is an HPatches-format folder, or ``bundled`` for the benchmark shipped in the package.
Sizes are written HEIGHTxWIDTH.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from superpoint_rt.eval.methods import OpenCVMethod, get_method
from superpoint_rt.options import add_option_arguments, option_names, options_from_args

METHODS = ("superpoint", *OpenCVMethod.KINDS)


def parse_size(text: str) -> tuple[int, int]:
    """argparse type for HEIGHTxWIDTH sizes (each side >= 16), e.g. ``480x640`` -> (480, 640)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HEIGHTxWIDTH, e.g. 480x640, got {text!r}") from None
    if h < 16 or w < 16:
        raise argparse.ArgumentTypeError(f"size too small: {text}")
    return h, w


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def _nonneg_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"must be finite and >= 0, got {text}")
    return v


def register(subparsers: Any) -> None:
    """Add the ``eval`` subcommand (``func`` = :func:`run`)."""
    p = subparsers.add_parser(
        "eval",
        help="evaluate keypoints/descriptors on HPatches-format data, or make such a benchmark",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "targets",
        nargs="+",
        metavar="TARGET",
        help="DATA_DIR (an HPatches-format folder; 'bundled': the packaged benchmark), or: make-benchmark PHOTO... OUT,"
        " or: synthetic (detector metrics on held-out Synthetic Shapes)",
    )
    g = p.add_argument_group("evaluation")
    g.add_argument("--method", nargs="+", choices=METHODS, default=["superpoint"], help="methods to evaluate")
    g.add_argument("--json", type=Path, help="write the results as JSON here")
    g.add_argument("--markdown", type=Path, help="write the Markdown table here (it is always printed)")
    g.add_argument("--plots", type=Path, help="write PNG plots into this folder")
    g.add_argument("--kinds", default="iv", choices=("iv", "i", "v"), help="sequence kinds (default: both)")
    g.add_argument("--max-sequences", type=int, help="at most this many sequences per kind (quick runs)")
    g.add_argument("--rep-size", type=parse_size, default=(240, 320), help="detector-metric size (240x320)")
    g.add_argument("--rep-keypoints", type=int, default=300, help="points for repeatability (300)")
    g.add_argument(
        "--rep-nms",
        type=_nonneg_float,
        metavar="R",
        help="one greedy NMS (Chebyshev radius R px, by score) on every method's detector-metric points first, as "
        "SuperPoint's own NMS (R = 4) does: the paper's footing (its detector table reports every detector at NMS 4 "
        "and 8); off by default (points as each method returns them: ORB/SIFT stack copies of one corner)",
    )
    g.add_argument("--desc-size", type=parse_size, default=(480, 640), help="descriptor/homography size (480x640)")
    g.add_argument("--desc-keypoints", type=int, default=1000, help="points for descriptors/homography (1000)")
    g.add_argument(
        "--homography-trials",
        type=_positive_int,
        default=1,
        metavar="N",
        help="N > 1: also run RANSAC on N orders of each pair's matches and report homography_trials@eps, the "
        "accuracy with RANSAC's own noise averaged out (default 1: the paper's single run)",
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    s = p.add_argument_group("superpoint options (SuperPointOptions; max_keypoints is the evaluator's)")
    s.add_argument("--name", help="row label for superpoint (default: superpoint[backend,precision])")
    add_option_arguments(s, [n for n in option_names() if n != "max_keypoints"])
    y = p.add_argument_group("synthetic")
    y.add_argument("--images", type=int, default=300, help="held-out Synthetic Shapes images (300)")
    y.add_argument("--noisy", action="store_true", help="photometric noise on the images (the paper's noisy column)")
    y.add_argument("--eps", type=float, default=3.0, help="correct-detection distance in pixels (3)")
    b = p.add_argument_group("make-benchmark")
    b.add_argument("--heldout", action="store_true", help="add the held-out photos (data/PHOTOS.md)")
    b.add_argument("--size", type=parse_size, default=(480, 640), help="image size (480x640)")
    b.add_argument("--seed", type=int, default=0, help="random seed")
    b.add_argument("--ext", default=".jpg", choices=(".jpg", ".png", ".ppm"), help="image format (.jpg)")
    b.add_argument("--quality", type=int, default=92, help="JPEG quality (92)")
    b.add_argument("--noise", type=float, default=1.5, help="sensor noise sigma in grey levels (1.5)")
    p.set_defaults(func=run)


def _make_benchmark(args: argparse.Namespace) -> int:
    from superpoint_rt.eval.generate import make_benchmark
    from superpoint_rt.eval.photos import list_photos

    rest = args.targets[1:]
    if not rest:
        print("eval make-benchmark: give PHOTO... OUT (or --heldout OUT)", file=sys.stderr)
        return 2
    out, photos = Path(rest[-1]), [Path(x) for x in rest[:-1]]
    if args.heldout:
        photos += list_photos("heldout")
    if not photos:
        print("eval make-benchmark: no photos (give files or --heldout)", file=sys.stderr)
        return 2
    written = make_benchmark(
        photos, out, args.size, args.kinds, args.seed, args.ext, args.quality, noise_sigma=args.noise
    )
    print(f"wrote {len(written)} sequences to {out}")
    return 0


def _write_markdown(table: str, path: Path | None) -> None:
    """Print the table and, with ``--markdown PATH``, write it there."""
    print(table, end="")
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(table)


def _method(name: str, args: argparse.Namespace) -> Any:
    if name != "superpoint":
        return get_method(name)
    given = options_from_args(argparse.Namespace(**{**vars(args), "max_keypoints": None}))
    kw = {n: getattr(given, n) for n in option_names() if n != "max_keypoints" and getattr(args, n, None) is not None}
    method = get_method(name, **{k: v for k, v in kw.items() if v is not None})
    if getattr(args, "name", None):
        method.name = args.name
    return method


def _synthetic(args: argparse.Namespace) -> int:
    import json

    from superpoint_rt.eval.synthetic import evaluate_synthetic, synthetic_benchmark, synthetic_table

    if len(args.targets) != 1:
        print(f"eval synthetic: takes no other target, got {args.targets[1:]}", file=sys.stderr)
        return 2
    if args.images < 1:
        print(f"eval synthetic: --images must be >= 1, got {args.images}", file=sys.stderr)
        return 2
    samples = synthetic_benchmark(args.images, noise=args.noisy)
    results = []
    for name in args.method:
        if name in ("orb", "sift"):
            print(f"eval synthetic: skipping {name} (a descriptor method; use fast, harris, shi)", file=sys.stderr)
            continue
        operating = None
        if name == "superpoint":
            # the full candidate list for AP; the operating point is the usual threshold
            operating = 0.015 if args.conf_threshold is None else args.conf_threshold
            low = argparse.Namespace(**{**vars(args), "conf_threshold": min(operating, 1e-3)})
            method = _method(name, low)
            method.name = args.name or f"superpoint ({args.weights or 'default weights'})"
        else:
            method = _method(name, args)
        results.append(
            evaluate_synthetic(
                method,
                samples,
                args.eps,
                operating_threshold=operating,
                noise=args.noisy,
                progress=not args.no_progress,
            )
        )
    table = synthetic_table(results)
    _write_markdown(table, args.markdown)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([r.to_dict() for r in results], indent=1) + "\n")
    return 0


def run(args: argparse.Namespace) -> int:
    """Entry point of ``eval`` (returns the exit status)."""
    if args.targets[0] == "make-benchmark":
        return _make_benchmark(args)
    if args.targets[0] == "synthetic":
        return _synthetic(args)
    from superpoint_rt.eval.runner import EvalConfig, benchmark_dir, evaluate, markdown_table, write_json

    if len(args.targets) != 1:
        print(f"eval: expected one DATA_DIR, got {args.targets}", file=sys.stderr)
        return 2
    data = benchmark_dir(args.targets[0])
    cfg = EvalConfig(
        rep_size=args.rep_size,
        rep_keypoints=args.rep_keypoints,
        rep_nms=args.rep_nms,
        desc_size=args.desc_size,
        desc_keypoints=args.desc_keypoints,
        kinds=args.kinds,
        max_sequences=args.max_sequences,
        homography_trials=args.homography_trials,
    )
    results = [evaluate(data, _method(m, args), cfg, progress=not args.no_progress) for m in args.method]
    table = markdown_table(results)
    _write_markdown(table, args.markdown)
    if args.json:
        write_json(results, args.json)
    if args.plots:
        from superpoint_rt.eval.plots import write_plots

        for p in write_plots(results, args.plots):
            print(f"wrote {p}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m superpoint_rt.eval ARGS`` == ``superpoint-rt eval ARGS``."""
    parser = argparse.ArgumentParser(prog="python -m superpoint_rt.eval")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    sub.choices["eval"].prog = "python -m superpoint_rt.eval"
    args = parser.parse_args(["eval", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))
