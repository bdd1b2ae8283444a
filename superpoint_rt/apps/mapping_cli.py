"""``superpoint-rt extract``, ``match-features`` and ``sfm``: features and matches files in hloc's layout, and
incremental SfM with pycolmap (:mod:`superpoint_rt.mapping`; ``pip install 'superpoint_rt[mapping]'``)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import build_superpoint, engine_options


def _needs_optional(func: Any) -> Any:
    """Turn a missing optional dependency (h5py, pycolmap, ray) into a one-line error and exit status 2."""
    import functools
    import sys

    @functools.wraps(func)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except ImportError as e:
            print(f"error: {e} (pip install 'superpoint_rt[mapping]')", file=sys.stderr)
            return 2

    return wrapper


def _print(rec: dict[str, Any], as_json: bool, text: str) -> None:
    print(json.dumps(rec, indent=2, default=str) if as_json else text)


@_needs_optional
def cmd_extract(args: argparse.Namespace) -> int:
    from ..mapping.features_io import extract_features

    if args.ray is not None:
        from ..mapping.ray_pipeline import extract_features_ray
        from ..options import options_from_args

        rec = extract_features_ray(
            args.images, args.out, options=options_from_args(args), root=args.root, resume=not args.overwrite,
            address=args.ray or None, actors=args.actors, batch_size=args.batch_size,
        )  # fmt: skip
    else:
        rec = extract_features(
            args.images, args.out, build_superpoint(args), root=args.root, resume=not args.overwrite,
            progress=not args.no_progress,
        )  # fmt: skip
    rec = {k: v for k, v in rec.items() if k != "names"} | {"images": len(rec["names"]), "out": args.out}
    _print(rec, args.json, f"{rec['images']} images: {rec['extracted']} extracted, {rec['skipped']} already in "
           f"{args.out} ({rec['seconds']:.1f} s)")  # fmt: skip
    return 0


@_needs_optional
def cmd_match_features(args: argparse.Namespace) -> int:
    from ..mapping.matching_io import match_features

    rec = match_features(
        args.features, args.pairs, args.out, max_distance=None if args.max_distance < 0 else args.max_distance,
        ratio=args.ratio, resume=not args.overwrite, progress=not args.no_progress,
    )  # fmt: skip
    rec["out"] = args.out
    _print(rec, args.json, f"{rec['pairs']} pairs: {rec['matched']} matched (mean {rec['mean_matches']:.1f} matches), "
           f"{rec['skipped']} already in {args.out} ({rec['seconds']:.1f} s)")  # fmt: skip
    return 0


@_needs_optional
def cmd_sfm(args: argparse.Namespace) -> int:
    from ..mapping.sfm import run_sfm

    rec = run_sfm(
        args.images, args.out, sp=build_superpoint(args), root=args.root, pairs=args.pairs,
        max_distance=args.max_distance, camera_model=args.camera_model, focal=args.focal,
        progress=not args.no_progress, plot=not args.no_plot,
    )  # fmt: skip
    _print(rec, args.json, "\n".join(f"{k}: {v}" for k, v in rec.items()))
    return 0


def register(sub: Any) -> None:
    eng = engine_options()

    p = sub.add_parser(
        "extract", parents=[eng], help="keypoints and descriptors of many images into an HDF5 file (hloc layout)"
    )
    p.add_argument("images", nargs="+", help="image files, folders (searched recursively) or glob patterns")
    p.add_argument("--out", required=True, help="features file (.h5); existing images in it are skipped")
    p.add_argument("--root", default=None, help="image names are paths relative to this (default: common folder)")
    p.add_argument("--overwrite", action="store_true", help="start a new file instead of resuming")
    p.add_argument(
        "--ray", nargs="?", const="", default=None, metavar="ADDRESS",
        help="run as a Ray Data pipeline; ADDRESS of a running cluster (default: start a local Ray)",
    )  # fmt: skip
    p.add_argument("--actors", type=int, default=2, help="with --ray: engines (one per actor)")
    p.add_argument("--batch-size", type=int, default=8, help="with --ray: images per batch (and per shard write)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("match-features", help="match image pairs of a features file into a matches file (hloc layout)")
    p.add_argument("features", help="features file from `superpoint-rt extract`")
    p.add_argument("--pairs", default="exhaustive", help="exhaustive (default), sequential[:K] (K=10), or a file of "
                   "'name0 name1' lines")  # fmt: skip
    p.add_argument("--out", required=True, help="matches file (.h5); pairs already in it are skipped")
    p.add_argument("--max-distance", type=float, default=0.7, help="descriptor L2 threshold (default 0.7; <0: none)")
    p.add_argument("--ratio", type=float, default=None, help="Lowe's ratio test, e.g. 0.9 (default: none)")
    p.add_argument("--overwrite", action="store_true", help="start a new file instead of resuming")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_match_features)

    p = sub.add_parser(
        "sfm", parents=[eng], help="structure from motion: features, matches, COLMAP incremental mapping"
    )
    p.add_argument("images", nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--out", required=True, help="output folder: features.h5, matches.h5, database.db, model/, PNG")
    p.add_argument("--root", default=None, help="image names are paths relative to this (default: common folder)")
    p.add_argument("--pairs", default="exhaustive", help="exhaustive (default), sequential[:K], or a pairs file")
    p.add_argument("--max-distance", type=float, default=0.7, help="descriptor L2 threshold (default 0.7)")
    p.add_argument("--camera-model", default="SIMPLE_RADIAL", help="COLMAP camera model, one camera for all images")
    p.add_argument("--focal", type=float, default=None, help="known focal length, px (default: COLMAP's guess)")
    p.add_argument("--no-plot", action="store_true", help="no PNG of cameras and points")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_sfm)
