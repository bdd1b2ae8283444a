#!/usr/bin/env python
"""Streaming overhead on the bundled sample video, in one run:

1. ``engine_only``: ``sp(frame)`` over frames decoded beforehand (no I/O);
2. ``stream_no_draw``: ``stream(sp, video)`` (decoding in the capture thread) + ``PointTracker.update``;
3. ``stream_draw``: the same + drawing the tracks and the text overlay + writing an MP4 (what the demo does).

Every configuration runs ``--repeat`` times, interleaved, and the best run is kept. For each one the JSON has the
FPS, its ratio to the engine alone (the target: >= 0.85), each stage's time, and ``network_over_engine_only``: the
network's mean time in that loop over its mean time alone; above 1, something else in the loop (decoding in the
capture thread, pre-/post-processing, tracking, drawing) takes the network's cores while it runs.

Prints FPS and the share of time per stage, and writes JSON to ``bench/results/`` with the CPU model and
flags, the load average (other processes skew CPU timings), package versions and the engine settings.
Without ``--weights`` it uses the package's default weights, or random weights when none ship (said so
in the JSON: random weights give more keypoints than trained ones, so tracking and drawing cost more).
Without ``--precision``, the engine ``SuperPoint()`` picks on this CPU (``superpoint-rt info``).

    python bench/bench_stream.py [--backend openvino] [--precision int8] [--weights PATH] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from superpoint_rt.api import SuperPoint  # noqa: E402
from superpoint_rt.drawing import draw_text, draw_tracks  # noqa: E402
from superpoint_rt.samples import SAMPLE_VIDEO  # noqa: E402
from superpoint_rt.streaming import StreamStats, stream  # noqa: E402
from superpoint_rt.sysinfo import cpu_description, machine_load, versions  # noqa: E402
from superpoint_rt.tracking import PointTracker  # noqa: E402


def load_frames(path: Path, limit: int | None) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    while limit is None or len(frames) < limit:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def stage_table(stats: StreamStats) -> dict[str, Any]:
    s = stats.summary()
    return {"fps": s["fps"], "wall_s": s["wall_s"], "frames": s["frames_yielded"], "stages": s["stages"]}


def run_engine_only(sp: SuperPoint, frames: list[np.ndarray]) -> dict[str, Any]:
    st = StreamStats()
    t0 = time.perf_counter()
    for f in frames:
        feats = sp(f)
        for k, v in feats.timings.items():
            st.record(k, v)
    wall = time.perf_counter() - t0
    s = st.summary()
    return {"fps": len(frames) / wall, "wall_s": wall, "frames": len(frames), "stages": s["stages"]}


def run_stream(sp: SuperPoint, video: Path, n: int, draw: bool, out_dir: Path) -> dict[str, Any]:
    tracker = PointTracker()
    writer = None
    keypoints = []
    with stream(sp, video, mode="file", max_frames=n) as s:
        for index, frame, feats in s:
            with s.stats.measure("tracking"):
                tracks = tracker.update(feats, index)
            keypoints.append(len(feats))
            if draw:
                with s.stats.measure("drawing"):
                    canvas = draw_tracks(frame, tracks, draw_all_points=True)
                    canvas = draw_text(canvas, [f"frame {index}", f"kpts {len(feats)}"])
                with s.stats.measure("writing"):
                    if writer is None:
                        writer = cv2.VideoWriter(
                            str(out_dir / "bench.mp4"),
                            cv2.VideoWriter.fourcc(*"mp4v"),
                            30.0,
                            (canvas.shape[1], canvas.shape[0]),
                        )
                    writer.write(canvas)
    if writer is not None:
        writer.release()
    r = stage_table(s.stats)
    r["keypoints_mean"] = float(np.mean(keypoints)) if keypoints else 0.0
    r["tracks"] = tracker.length_stats()
    return r


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    r = max(runs, key=lambda x: x["fps"])
    r = dict(r)
    r["fps_all_runs"] = [x["fps"] for x in runs]
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None, help="weights path (default: the package's, else random)")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--precision", default=None)
    ap.add_argument("--max-keypoints", type=int, default=None)
    ap.add_argument("--frames", type=int, default=None, help="frames of the sample to use (default: all)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration; the best FPS is kept")
    ap.add_argument("--output", default=None, help="JSON path (default: bench/results/stream_<host>_<time>.json)")
    args = ap.parse_args()

    weights, note = args.weights, None
    if weights is None:
        from superpoint_rt.weights import DEFAULT_WEIGHTS

        if not DEFAULT_WEIGHTS.exists():
            weights = "random"
    if weights == "random":
        note = (
            "random weights (no trained weights yet): more keypoints than trained weights, "
            "so tracking and drawing cost more"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        sp = SuperPoint(
            weights=weights, backend=args.backend, precision=args.precision, max_keypoints=args.max_keypoints
        )

    frames = load_frames(SAMPLE_VIDEO, args.frames)
    n = len(frames)
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    for f in frames[: args.warmup]:
        sp(f)

    results: dict[str, list[dict[str, Any]]] = {"engine_only": [], "stream_no_draw": [], "stream_draw": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):  # interleaved, so a load change affects every configuration alike
            results["engine_only"].append(run_engine_only(sp, frames))
            results["stream_no_draw"].append(run_stream(sp, SAMPLE_VIDEO, n, False, Path(tmp)))
            results["stream_draw"].append(run_stream(sp, SAMPLE_VIDEO, n, True, Path(tmp)))
    res = {k: best(v) for k, v in results.items()}
    load_after = os.getloadavg() if hasattr(os, "getloadavg") else None

    eng = res["engine_only"]["fps"]
    eng_net = res["engine_only"]["stages"]["network"]["mean_ms"]
    for r in res.values():
        net = r["stages"].get("network")
        r["network_over_engine_only"] = round(net["mean_ms"] / eng_net, 3) if net else None
    record = {
        "benchmark": "stream",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "cpu": cpu_description(),  # model, AMX / AVX512 flags, CPUs this process may use
        "load_average": {"before": load_before, "after": load_after},
        "machine_load_after": machine_load(),
        "versions": versions(),
        "engine": sp.info(),
        "weights_note": note,
        "video": {"path": str(SAMPLE_VIDEO.relative_to(ROOT)), "frames": n, "size": list(frames[0].shape[:2])},
        "repeat": args.repeat,
        "results": res,
        "fps_ratio_vs_engine": {k: v["fps"] / eng for k, v in res.items()},
        "target": {
            "stream_fps_over_engine_fps_min": 0.85,
            "stream_no_draw_meets_it": res["stream_no_draw"]["fps"] / eng >= 0.85,
        },
    }
    out = (
        Path(args.output)
        if args.output
        else ROOT
        / "bench"
        / "results"
        / (f"stream_{socket.gethostname()}_{dt.datetime.now().strftime('%Y%m%d_%H%M%S')}.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2, default=str))

    print(f"{sp!r}; {n} frames {frames[0].shape[1]}x{frames[0].shape[0]}; load {load_before} -> {load_after}")
    if note:
        print(f"note: {note}")
    for name, r in res.items():
        print(
            f"\n{name}: {r['fps']:.1f} FPS ({r['fps'] / eng:.2f}x engine only; network "
            f"{r['network_over_engine_only']}x its time alone)"
        )
        for k, v in r["stages"].items():
            share = "" if v.get("share") is None else f"{100 * v['share']:5.1f}%"
            print(f"  {k:<12} mean {v['mean_ms']:7.2f} ms  p50 {v['p50_ms']:7.2f}  p99 {v['p99_ms']:7.2f}  {share}")
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
