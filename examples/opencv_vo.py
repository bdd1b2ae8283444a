#!/usr/bin/env python
"""An OpenCV visual-odometry loop that takes SuperPoint by changing one line.

The loop is written for ``cv2.Feature2D`` (ORB, SIFT, ...): ``detectAndCompute`` with a mask, a ``cv2.BFMatcher``
with the detector's ``defaultNorm()`` and cross-check, RANSAC homographies from a keyframe to each frame, composed
into the camera's motion since frame 0. ``superpoint_rt.SuperPoint`` has the same methods, so the only line that
changes is the one in :func:`make_detector`.

The bundled sample video films a planar scene, and its ground truth gives the homography frame 0 -> frame k; the
loop's estimate is scored by the mean distance between the four image corners mapped by the estimate and by the
ground truth (pixels): the accumulated drift. Run::

    python examples/opencv_vo.py                      # SuperPoint (our default weights)
    python examples/opencv_vo.py --detector orb       # the same loop with ORB, for comparison
    python examples/opencv_vo.py --detector superpoint orb sift --json bench/results/matching_opencv_vo.json
    python examples/opencv_vo.py --matcher superpoint_rt --ratio 0.9   # superpoint_rt.matching instead of BFMatcher
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from superpoint_rt import SuperPoint
from superpoint_rt.matching import match
from superpoint_rt.samples import SAMPLE_HOMOGRAPHIES, SAMPLE_VIDEO, load_homographies


def make_detector(name: str, max_keypoints: int) -> Any:
    """The one line that differs between ORB, SIFT and SuperPoint."""
    if name == "orb":
        return cv2.ORB_create(nfeatures=max_keypoints)
    if name == "sift":
        return cv2.SIFT_create(nfeatures=max_keypoints)
    return SuperPoint(max_keypoints=max_keypoints)


def border_mask(shape: tuple[int, int], border: int) -> np.ndarray | None:
    """A uint8 mask that forbids a ``border``-pixel frame around the image (None for border 0)."""
    if border <= 0:
        return None
    mask = np.zeros(shape, np.uint8)
    mask[border:-border, border:-border] = 255
    return mask


def corner_error(h_est: np.ndarray, h_true: np.ndarray, shape: tuple[int, int]) -> float:
    """Mean distance (px) between the image corners mapped by ``h_est`` and by ``h_true``."""
    hgt, wid = shape
    corners = np.array([[0, 0], [wid - 1, 0], [wid - 1, hgt - 1], [0, hgt - 1]], np.float64).reshape(-1, 1, 2)
    a = cv2.perspectiveTransform(corners, h_est)
    b = cv2.perspectiveTransform(corners, h_true)
    return float(np.linalg.norm(a - b, axis=2).mean())


def run_vo(
    detector: Any,
    video: str = str(SAMPLE_VIDEO),
    homographies: str = str(SAMPLE_HOMOGRAPHIES),
    *,
    mask_border: int = 8,
    min_inliers: int = 50,
    matcher: str = "bf",
    ratio: float | None = None,
    max_frames: int | None = None,
) -> dict[str, Any]:
    """Track the camera's motion (a homography: the scene is a plane) over ``video``; score it against the truth.

    Keyframe odometry: each frame is matched to the current keyframe (cross-checked BFMatcher, RANSAC homography,
    3 px); when that gives fewer than ``min_inliers`` inliers, the previous frame becomes the keyframe. Matching to
    a keyframe instead of the previous frame keeps the error from compounding every frame.

    Returns:
        {"frames", "errors" (corner error of frames 1..N-1, px), "median_error", "max_error", "final_error", "lost"
        (frames with no homography: the previous pose is kept), "keyframes", "mean_keypoints", "mean_inliers",
        "seconds"}.
    """
    truth = load_homographies(homographies)
    cap = cv2.VideoCapture(video)
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open {video}")
    bf = cv2.BFMatcher(detector.defaultNorm(), crossCheck=True)

    def relative(a: tuple[Any, Any], b: tuple[Any, Any]) -> tuple[np.ndarray | None, int]:
        """Homography from frame a to frame b ((keypoints, descriptors) each) and its RANSAC inlier count."""
        (kps_a, des_a), (kps_b, des_b) = a, b
        if des_a is None or des_b is None:
            return None, 0
        if matcher == "bf":
            pairs = [(m.queryIdx, m.trainIdx) for m in bf.match(des_a, des_b)]
        else:  # superpoint_rt.matching: mutual NN + optional ratio test (float descriptors)
            pairs = match(des_a, des_b, max_distance=None, ratio=ratio).tolist()
        if len(pairs) < 4:
            return None, 0
        src = np.float64([kps_a[i].pt for i, _ in pairs])
        dst = np.float64([kps_b[j].pt for _, j in pairs])
        h, inliers = cv2.findHomography(src, dst, cv2.RANSAC, 3.0)
        return (None, 0) if h is None else (h, int(inliers.sum()))

    key: tuple[Any, Any] | None = None  # the keyframe's (keypoints, descriptors) ...
    h_key = np.eye(3)  # ... and its pose: frame 0 -> keyframe
    prev: tuple[Any, Any] | None = None
    h_prev = np.eye(3)
    errors, counts, inliers = [], [], []
    lost, keyframes, k = 0, 1, 0
    t0 = time.perf_counter()
    while max_frames is None or k < max_frames:
        ok, frame = cap.read()
        if not ok or k >= len(truth):
            break
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        cur = detector.detectAndCompute(gray, border_mask(gray.shape, mask_border))
        counts.append(len(cur[0]))
        if key is None or prev is None:
            key, h_key = cur, np.eye(3)
        else:
            h, n = relative(key, cur)
            if (h is None or n < min_inliers) and prev is not key:  # too far from the keyframe: take the previous
                key, h_key = prev, h_prev
                keyframes += 1
                h, n = relative(key, cur)
            if h is None:
                lost += 1  # keep the previous pose (a real system would relocalise)
                h_prev = h_prev.copy()
            else:
                inliers.append(n)
                h_prev = h @ h_key
                h_prev /= h_prev[2, 2]
            errors.append(corner_error(h_prev, truth[k], gray.shape))
        prev = cur
        k += 1
    cap.release()
    err = np.asarray(errors)
    return {
        "frames": k,
        "errors": err.tolist(),
        "median_error": float(np.median(err)) if err.size else float("nan"),
        "max_error": float(err.max()) if err.size else float("nan"),
        "final_error": float(err[-1]) if err.size else float("nan"),
        "lost": lost,
        "keyframes": keyframes,
        "mean_keypoints": float(np.mean(counts)) if counts else 0.0,
        "mean_inliers": float(np.mean(inliers)) if inliers else 0.0,
        "seconds": time.perf_counter() - t0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detector", nargs="+", choices=("superpoint", "orb", "sift"), default=["superpoint"])
    ap.add_argument("--max-keypoints", type=int, default=1000)
    ap.add_argument("--mask-border", type=int, default=8, help="ignore keypoints within this many pixels of the edge")
    ap.add_argument("--min-inliers", type=int, default=50, help="take a new keyframe below this many inliers")
    ap.add_argument("--matcher", choices=("bf", "superpoint_rt"), default="bf")
    ap.add_argument("--ratio", type=float, default=None, help="Lowe's ratio test (--matcher superpoint_rt)")
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None, help="write every run's figures here")
    args = ap.parse_args()
    runs = []
    for name in args.detector:
        detector = make_detector(name, args.max_keypoints)
        r = run_vo(
            detector,
            mask_border=args.mask_border,
            min_inliers=args.min_inliers,
            matcher=args.matcher,
            ratio=args.ratio,
            max_frames=args.max_frames,
        )
        engine = f"{detector.backend} {detector.precision}" if isinstance(detector, SuperPoint) else "opencv"
        runs.append({"detector": name, "engine": engine, **r})
        print(
            f"{name}: {r['frames']} frames in {r['seconds']:.1f} s, {r['mean_keypoints']:.0f} keypoints and "
            f"{r['mean_inliers']:.0f} RANSAC inliers per frame, {r['keyframes']} keyframes, {r['lost']} frames lost; "
            f"drift (corner error vs ground truth): median {r['median_error']:.2f} px, max {r['max_error']:.2f} px, "
            f"last frame {r['final_error']:.2f} px"
        )
    if args.json:
        from superpoint_rt.sysinfo import cpu_description, versions

        record = {"command": "python examples/opencv_vo.py " + " ".join(sys.argv[1:]), "options": dict(vars(args))}
        record["options"]["json"] = str(args.json)
        record.update(runs=runs, cpu=cpu_description(), versions=versions(), date=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
