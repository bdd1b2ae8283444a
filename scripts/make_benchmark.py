#!/usr/bin/env python
"""Regenerate the bundled held-out benchmark ``superpoint_rt/data/benchmark/``.

8 viewpoint + 8 illumination sequences at 480x640 (JPEG quality 92) made with
``superpoint_rt.eval.generate`` from held-out photographs only (data/PHOTOS.md), and only from those
that are CC0 or public domain, so the benchmark carries no licence obligation:
scikit-image's astronaut, brick, camera, chelsea, coffee, grass, gravel, rocket and matplotlib's
grace_hopper.

Usage::

    pip install scikit-image   # the photos come from its wheel
    python scripts/make_benchmark.py [--out superpoint_rt/data/benchmark] [--seed 0]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from superpoint_rt.eval.generate import make_benchmark
from superpoint_rt.eval.hpatches import is_sequence_dir
from superpoint_rt.eval.photos import list_photos

OUT = Path(__file__).resolve().parents[1] / "superpoint_rt" / "data" / "benchmark"
VIEWPOINT = ("astronaut", "brick", "camera", "chelsea", "coffee", "gravel", "rocket", "grace_hopper")
ILLUMINATION = ("astronaut", "brick", "camera", "chelsea", "coffee", "grass", "rocket", "grace_hopper")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quality", type=int, default=92)
    args = ap.parse_args()
    photos = {p.stem: p for p in list_photos("heldout")}
    missing = [n for n in (*VIEWPOINT, *ILLUMINATION) if n not in photos]
    if missing:
        raise SystemExit(f"held-out photos missing: {missing} (pip install scikit-image matplotlib)")
    if args.out.is_dir():  # replace the sequences, keep README/LICENSE
        for p in args.out.iterdir():
            if is_sequence_dir(p):
                shutil.rmtree(p)
    written = make_benchmark(
        [],
        args.out,
        size=(480, 640),
        seed=args.seed,
        jpeg_quality=args.quality,
        viewpoint_photos=[photos[n] for n in VIEWPOINT],
        illumination_photos=[photos[n] for n in ILLUMINATION],
    )
    size = sum(f.stat().st_size for d in written for f in d.iterdir())
    print(f"wrote {len(written)} sequences to {args.out} ({size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
