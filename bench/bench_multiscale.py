#!/usr/bin/env python
"""What multi-scale detection costs: SuperPoint(scales=...) against single-scale, side by side in one run.

    python bench/bench_multiscale.py                     # 480x640, OpenVINO INT8, BF16 and FP32, 30 iterations
    python bench/bench_multiscale.py --scales 1,0.71,0.5 --precision bf16 --iterations 50

Times the whole call (preprocess + pyramid + network + post-processing) per image on the repository's test photos,
the configurations interleaved call by call (a slow spell of a shared host hits them alike), and writes
bench/results/multiscale_cpu.json with the CPU model and flags, versions and machine load. The ratio is the number
to read on a CPU; absolute frame rates vary with the host. A precision this CPU or these weights cannot run (BF16
without native BF16, INT8 without an INT8 IR) is left out and listed under ``skipped``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

try:
    from superpoint_rt.apps.bench.images import load_images
    from superpoint_rt.apps.bench.timing import timing_stats
    from superpoint_rt.sysinfo import cpu_description, machine_load, versions
except ImportError:  # run from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from superpoint_rt.apps.bench.images import load_images
    from superpoint_rt.apps.bench.timing import timing_stats
    from superpoint_rt.sysinfo import cpu_description, machine_load, versions

from superpoint_rt import SuperPoint
from superpoint_rt.backends import BackendUnavailableError

ROOT = Path(__file__).resolve().parents[1]
#: the checkout's test photos (what this benchmark has always timed on)
TEST_PHOTOS = sorted(str(p) for p in (ROOT / "tests" / "data").glob("*") if p.suffix.lower() in (".jpg", ".png"))


def time_interleaved(models: list[SuperPoint], images: list, iterations: int, warmup: int = 3) -> list[dict]:
    """Timing statistics (:func:`superpoint_rt.apps.bench.timing.timing_stats`) and mean keypoint count per model.

    Iteration i runs every model once on ``images[i % len(images)]``, so a slow spell of the host hits all
    configurations alike and the ratios stay fair.
    """
    for i in range(warmup):
        for sp in models:
            sp(images[i % len(images)])
    seconds: list[list[float]] = [[] for _ in models]
    counts: list[list[int]] = [[] for _ in models]
    for i in range(iterations):
        img = images[i % len(images)]
        for j, sp in enumerate(models):
            t0 = time.perf_counter()
            f = sp(img)
            seconds[j].append(time.perf_counter() - t0)
            counts[j].append(len(f))
    return [
        {**timing_stats(t), "keypoints": round(statistics.fmean(c), 1)} for t, c in zip(seconds, counts, strict=True)
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--scales",
        nargs="+",
        default=["1,0.71,0.5", "1.41,1,0.71,0.5"],
        help="pyramids to compare with single-scale, each comma-separated (default: 1,0.71,0.5 1.41,1,0.71,0.5)",
    )
    ap.add_argument("--precision", nargs="+", default=["int8", "bf16", "fp32"])
    ap.add_argument("--backend", default="openvino")
    ap.add_argument("--weights", default=None, help="default: the packaged weights")
    ap.add_argument("--size", type=int, nargs=2, default=[480, 640], metavar=("H", "W"))
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--max-keypoints", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "multiscale_cpu.json")
    ap.add_argument(
        "--images", nargs="+", default=TEST_PHOTOS, help="image files or folders (default: the tests/data photos)"
    )
    args = ap.parse_args()

    images = load_images(args.images, *args.size)
    pyramids = [(1.0,)] + [tuple(float(v) for v in p.split(",")) for p in args.scales]
    rows = []
    skipped = {}
    for precision in args.precision:
        models = []
        try:
            for scales in pyramids:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    models.append(
                        SuperPoint(
                            args.weights,
                            backend=args.backend,
                            precision=precision,
                            max_keypoints=args.max_keypoints,
                            scales=scales,
                        )
                    )
        except BackendUnavailableError as e:
            skipped[precision] = str(e)
            print(f"skipped {precision}: {e}")
            continue
        for sp, timing in zip(models, time_interleaved(models, images, args.iterations), strict=True):
            r = {"backend": sp.backend, "precision": sp.precision, "scales": list(sp.scales), **timing}
            rows.append(r)
            print(
                f"{sp.backend} {sp.precision} scales={list(sp.scales)}: {r['p50_ms']} ms ({r['fps']} FPS), "
                f"{r['keypoints']} keypoints"
            )
    for r in rows:
        base = next(b for b in rows if b["precision"] == r["precision"] and b["scales"] == [1.0])
        r["time_vs_single_scale"] = round(r["p50_ms"] / base["p50_ms"], 2)
    result = {
        "size": args.size,
        "iterations": args.iterations,
        "images": len(images),
        "rows": rows,
        "skipped": skipped,
        "cpu": cpu_description(),
        "versions": versions(),
        "load": machine_load(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
