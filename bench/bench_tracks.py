#!/usr/bin/env python
"""Tracks a robot can trust: how often PointTracker's track steps leave the true geometry, before and after
geometric verification (superpoint_rt.verification).

    nice python bench/bench_tracks.py                 # writes bench/results/tracks_cpu.json
    python bench/bench_tracks.py --scenes 0 --out /tmp/tracks.json

Two clips with exact ground truth:

* **sample**: the bundled video (100 frames, 240x320, a planar scene filmed by a moving camera); ground truth: its
  homographies frame 0 -> frame k;
* **scene**: the rendered 3-D scene (superpoint_rt.eval.scene3d.make_scene: textured boxes on a textured ground, a
  back wall, a camera driving forward, drifting sideways and turning; 24 frames of 240x320 per seed, ``--scenes``);
  ground truth: Scene.transfer (steps from a point on an occlusion edge are excluded and counted apart).

Detector: ``SuperPoint()`` (our default weights, the engine ``backend="auto"`` picks here; recorded). Features are
computed once per frame; every tracker configuration runs on the same features. Per configuration and clip:

* **steps**: a track step is a track's point in frame k-1 and in frame k; it is *off* when its point in frame k is
  more than 2 px from the true position of its point in frame k-1 (or that point is hidden in frame k);
  ``off_fraction`` = off / evaluated steps; ``gross`` = steps off by more than 10 px (or hidden): the jumps;
* **tracks**: PointTracker.length_stats (tracks seen in >= 2 frames and their mean length: what verification costs);
* **matches**: every mutual-NN candidate match of every frame pair, judged by the same 2 px rule: how many right and
  wrong ones verification kept and rejected;
* **update_ms_p50**: PointTracker.update (matching + verification), median over frames, on this shared host.

Writes bench/results/tracks_cpu.json with the CPU (superpoint_rt.sysinfo), versions and machine load.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np

try:
    from superpoint_rt.tracking import PointTracker
except ImportError:  # run from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from superpoint_rt.tracking import PointTracker
from superpoint_rt.eval.scene3d import make_scene
from superpoint_rt.eval.track_steps import StepErrors, Truth, homography_truth, pair_errors, scene_truth
from superpoint_rt.samples import SAMPLE_HOMOGRAPHIES, SAMPLE_VIDEO, load_homographies
from superpoint_rt.sysinfo import cpu_description, machine_load, versions
from superpoint_rt.types import Features
from superpoint_rt.verification import VerificationConfig

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD_PX = 2.0
GROSS_PX = 10.0

#: name -> (verification, what it is); "off" is the before, "fundamental" (PointTracker's default) the after
CONFIGS: dict[str, tuple[VerificationConfig | None, str]] = {
    "off": (None, "no verification (before)"),
    "fundamental": (VerificationConfig(), "PointTracker's default (after): F-RANSAC 1 px"),
    "fundamental_2px": (VerificationConfig(ransac_threshold=2.0), "F-RANSAC 2 px"),
    "fundamental_disp30": (VerificationConfig(max_displacement=30.0), "F-RANSAC 1 px + displacement gate 30 px"),
    "gates_disp30": (VerificationConfig(model=None, max_displacement=30.0), "displacement gate 30 px, no RANSAC"),
    "homography": (VerificationConfig(model="homography"), "H-RANSAC 1.5 px"),
    "homography_3px": (VerificationConfig(model="homography", ransac_threshold=3.0), "H-RANSAC 3 px"),
}


def sample_clip(sp: Any) -> tuple[list[Features], Truth, dict[str, Any]]:
    cap = cv2.VideoCapture(str(SAMPLE_VIDEO))
    feats = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        feats.append(sp(frame))
    cap.release()
    hs = load_homographies(SAMPLE_HOMOGRAPHIES)
    return feats, homography_truth(hs), {"source": "bundled sample", "frames": len(feats), "size": [240, 320]}


def scene_clip(sp: Any, seed: int) -> tuple[list[Features], Truth, dict[str, Any]]:
    scene = make_scene(seed=seed)
    frames = scene.render_all()
    feats = [sp(f.image) for f in frames]
    info = {"source": f"make_scene(seed={seed})", "frames": len(frames), "size": [scene.height, scene.width]}
    return feats, scene_truth(scene, frames), info


def run_tracker(feats: list[Features], truth: Truth, cfg: VerificationConfig | None) -> dict[str, Any]:
    tracker = PointTracker(verification=cfg)
    steps = StepErrors(truth, THRESHOLD_PX)
    conf = dict.fromkeys(["right_kept", "right_rejected", "wrong_kept", "wrong_rejected", "excluded"], 0)
    times = []
    prev_kp: np.ndarray | None = None
    for k, f in enumerate(feats):
        t0 = time.perf_counter()
        tracks = tracker.update(f, k)
        times.append(time.perf_counter() - t0)
        steps.update(tracks)
        v = tracker.last_verification
        if v is not None and prev_kp is not None and len(v.candidates):
            err, _ = pair_errors(truth, prev_kp[v.candidates[:, 0]], f.keypoints[v.candidates[:, 1]], k - 1, k)
            judged = ~np.isnan(err)
            right = judged & (err <= THRESHOLD_PX)
            wrong = judged & ~right
            conf["right_kept"] += int((right & v.inliers).sum())
            conf["right_rejected"] += int((right & ~v.inliers).sum())
            conf["wrong_kept"] += int((wrong & v.inliers).sum())
            conf["wrong_rejected"] += int((wrong & ~v.inliers).sum())
            conf["excluded"] += int((~judged).sum())
        prev_kp = f.keypoints
    err = np.concatenate(steps.errors) if steps.errors else np.zeros(0)
    summary = steps.summary()
    summary["gross"] = int((err[~np.isnan(err)] > GROSS_PX).sum())
    return {
        "steps": summary,
        "tracks": tracker.length_stats(),
        "verification": tracker.verification_stats(),
        "matches": conf,
        "update_ms_p50": float(np.median(times) * 1e3),
    }


def pooled(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums of the counts over clips; fractions recomputed from the sums."""
    steps = {k: sum(r["steps"][k] for r in results) for k in ("steps", "evaluated", "off", "correct", "gross")}
    steps.update({k: sum(r["steps"][k] for r in results) for k in ("excluded_boundary", "excluded_no_surface")})
    steps["hidden"] = sum(r["steps"]["hidden"] for r in results)
    steps["off_fraction"] = steps["off"] / steps["evaluated"] if steps["evaluated"] else None
    multi = sum(r["tracks"]["tracks_multi"] for r in results)
    tracks = {
        "tracks_multi": multi,
        "mean_length_multi": sum(r["tracks"]["tracks_multi"] * r["tracks"]["mean_length_multi"] for r in results)
        / max(multi, 1),
        "max_length": max(r["tracks"]["max_length"] for r in results),
    }
    matches = {k: sum(r["matches"][k] for r in results) for k in results[0]["matches"]}
    return {"steps": steps, "tracks": tracks, "matches": matches}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, nargs="+", default=[0, 1, 2], help="make_scene seeds (default 0 1 2)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tracks_cpu.json")
    args = ap.parse_args()
    from superpoint_rt import SuperPoint

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp = SuperPoint()
    info = sp.info()
    t0 = time.perf_counter()
    clips: dict[str, list[tuple[list[Features], Truth, dict[str, Any]]]] = {
        "sample": [sample_clip(sp)],
        "scene": [scene_clip(sp, s) for s in args.scenes],
    }
    detect_s = time.perf_counter() - t0
    datasets: dict[str, Any] = {}
    for name, items in clips.items():
        per_config = {}
        for cname, (cfg, what) in CONFIGS.items():
            results = [run_tracker(feats, truth, cfg) for feats, truth, _ in items]
            entry: dict[str, Any] = {
                "what": what,
                "config": None if cfg is None else {**dataclasses.asdict(cfg), "threshold_px": cfg.threshold},
                **pooled(results),
                "update_ms_p50": float(np.median([r["update_ms_p50"] for r in results])),
            }
            if len(results) > 1:
                entry["per_clip"] = results
            else:
                entry.update(verification=results[0]["verification"], tracks=results[0]["tracks"])
            per_config[cname] = entry
        feats_all = [f for feats, _, _ in items for f in feats]
        datasets[name] = {
            "clips": [i for _, _, i in items],
            "keypoints_mean": float(np.mean([len(f) for f in feats_all])),
            "configs": per_config,
        }
    out = {
        "benchmark": "track steps off the true geometry (> 2 px), before and after verification",
        "command": "nice python bench/bench_tracks.py" + (f" --scenes {' '.join(map(str, args.scenes))}"),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "threshold_px": THRESHOLD_PX,
        "gross_px": GROSS_PX,
        "engine": {k: info.get(k) for k in ("backend", "precision", "device", "weights", "chosen_by")},
        "detection_seconds": detect_s,
        "cpu": cpu_description(),
        "versions": versions(),
        "machine_load": machine_load(),
        "datasets": datasets,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, default=str) + "\n")
    print("| clip | verification | off > 2 px | gross > 10 px | evaluated steps | right steps | tracks >= 2 frames "
          "(mean length) | wrong matches rejected | right matches rejected |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, d in datasets.items():
        for cname, e in d["configs"].items():
            s, t, m = e["steps"], e["tracks"], e["matches"]
            wrong = m["wrong_kept"] + m["wrong_rejected"]
            right = m["right_kept"] + m["right_rejected"]
            print(
                f"| {name} | {cname} | {100 * s['off_fraction']:.1f}% | {s['gross']} | {s['evaluated']} | "
                f"{s['correct']} | {t['tracks_multi']} ({t['mean_length_multi']:.1f}) | "
                f"{m['wrong_rejected']}/{wrong} | {m['right_rejected']}/{right} |"
            )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
