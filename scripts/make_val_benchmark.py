#!/usr/bin/env python
"""A held-out benchmark cut from the ``val`` split of a manifest photo tree (e.g. ``../shared/photos``): HPatches
layout, 480x640, viewpoint (``v_*``) and illumination (``i_*``) sequences of 5 pairs each, made with
``superpoint_rt.eval.generate``. Derived from research photos that may not be redistributed: write it outside the
repository and never commit it.

Per set of the split, ``--per-set`` photos evenly spaced in manifest order make viewpoint sequences and the next
``--per-set`` (disjoint) make illumination sequences; sets with fewer photos give what they have. Default: 8 + 8 per
set from camvid, bsds500, urban100, kodak24 = 64 sequences, 320 pairs.

    python scripts/make_val_benchmark.py --photos ../shared/photos --out /work/val_photos
    superpoint-rt eval /work/val_photos --method superpoint orb sift --json val.json
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from superpoint_rt.eval.generate import make_benchmark
from superpoint_rt.eval.hpatches import is_sequence_dir
from superpoint_rt.eval.photos import evenly_spaced, list_manifest_photos


def pick(photos: list[Path], per_set: int) -> tuple[list[Path], list[Path]]:
    """2 * per_set photos evenly spaced over ``photos`` (all of them when fewer), split alternately into
    (viewpoint, illumination) so both kinds sample the whole set."""
    chosen = evenly_spaced(photos, 2 * per_set)
    return chosen[0::2], chosen[1::2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", required=True, type=Path, help="folder with manifest.tsv (set, split, file)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--split", default="val")
    ap.add_argument("--sets", nargs="+", default=None, help="manifest sets (default: every set with photos in split)")
    ap.add_argument("--per-set", type=int, default=8, help="sequences per kind and set (default 8)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.per_set < 1:
        raise SystemExit("--per-set must be >= 1")
    photos = list_manifest_photos(args.photos, args.split, tuple(args.sets) if args.sets else None)
    by_set: dict[str, list[Path]] = {}
    for p in photos:
        by_set.setdefault(p.relative_to(args.photos).parts[0], []).append(p)
    view, illum = [], []
    for name, group in by_set.items():
        v, i = pick(group, args.per_set)
        view += v
        illum += i
        print(f"{name}: {len(v)} viewpoint + {len(i)} illumination of {len(group)} photos")
    if args.out.is_dir():
        for p in args.out.iterdir():
            if is_sequence_dir(p):
                shutil.rmtree(p)
    written = make_benchmark([], args.out, seed=args.seed, viewpoint_photos=view, illumination_photos=illum)
    pairs = sum(len(list(d.glob("H_1_*"))) for d in written)
    print(f"wrote {len(written)} sequences ({pairs} pairs) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
