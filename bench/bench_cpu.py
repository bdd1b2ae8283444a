#!/usr/bin/env python
"""CPU benchmark: ours (the default engine, and every other engine x precision this CPU has) vs the reference-style
pipeline, each in a process of its own, with the machine's GEMM peak and the network's efficiency.

``superpoint-rt bench`` (superpoint_rt/apps/bench/) with this checkout's defaults: the photos of tests/data and
results into bench/results/; see bench/README.md.

    python bench/bench_cpu.py            # 480x640, batch 1, 20 iterations -> bench/results/cpu_quick.{json,png}
    python bench/bench_cpu.py --full     # 240x320 / 480x640 / 720x1280 x batch 1 / 8 -> cpu_full.{json,png}
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

try:
    from superpoint_rt.apps.bench.cli import main
except ImportError:  # run from a source checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))
    from superpoint_rt.apps.bench.cli import main

#: the checkout's test photos: the images of the committed results (bench/results/cpu_*.json)
TEST_PHOTOS = sorted(str(p) for p in (ROOT / "tests" / "data").glob("*") if p.suffix.lower() in (".jpg", ".png"))

if __name__ == "__main__":
    sys.exit(
        main(
            prog="bench_cpu.py",
            out=ROOT / "bench" / "results",
            images=TEST_PHOTOS,
            images_note="the checkout's tests/data photos",
        )
    )
