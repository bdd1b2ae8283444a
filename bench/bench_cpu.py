#!/usr/bin/env python
"""CPU benchmark: ours (OpenVINO BF16 default, ONNX Runtime / OpenVINO FP32) vs the reference-style pipeline.

A thin wrapper over ``superpoint-rt bench`` (superpoint_rt/bench.py); see bench/README.md.

    python bench/bench_cpu.py            # 480x640, batch 1, 20 iterations -> bench/results/cpu_quick.{json,png}
    python bench/bench_cpu.py --full     # 240x320 / 480x640 / 720x1280 x batch 1 / 8 -> cpu_full.{json,png}
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from superpoint_rt.bench import main
except ImportError:  # run from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from superpoint_rt.bench import main

if __name__ == "__main__":
    sys.exit(main())
