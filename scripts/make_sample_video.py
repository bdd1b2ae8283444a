#!/usr/bin/env python
"""Regenerate the bundled sample video ``superpoint_rt/data/sample/``.

A real photograph (scikit-image's ``coffee``, CC0 by Rachel Michetti, courtesy of Pikolo Espresso Bar)
is filmed by a virtual camera that pans, zooms, rolls and tilts slightly along a smooth trajectory.
Every frame is an exact homographic warp of the photo, so the ground-truth homography between any two
frames is known; they are stored beside the video as ``H_0k`` (frame 0 -> frame k, pixel centres at
integer coordinates, (x, y) = (column, row)), ``(N, 3, 3)`` float64.

Usage::

    pip install scikit-image   # only this script needs it
    python scripts/make_sample_video.py [--frames 100] [--height 240] [--width 320]

Outputs: ``coffee_240x320.mp4`` (MPEG-4 part 2, 'mp4v') and ``coffee_240x320_homographies.npz`` with keys
``homographies`` (N,3,3), ``height``, ``width``, ``fps``, ``source``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

OUT_DIR = Path(__file__).resolve().parents[1] / "superpoint_rt" / "data" / "sample"


def camera_to_photo(t: float, height: int, width: int, photo_hw: tuple[int, int]) -> np.ndarray:
    """3x3 homography mapping a frame pixel (x, y) to a photo pixel at time ``t`` in [0, 1]."""
    ph, pw = photo_hw
    # centre of view in the photo: a slow pan left -> right with a gentle vertical sway
    cx = pw * (0.38 + 0.24 * (0.5 - 0.5 * np.cos(np.pi * t)))
    cy = ph * (0.50 + 0.06 * np.sin(2.0 * np.pi * t))
    theta = np.deg2rad(7.0) * np.sin(1.5 * np.pi * t)  # camera roll
    scale = 1.10 - 0.22 * np.sin(np.pi * t)  # photo pixels per frame pixel: zoom in then out
    px = 2.5e-4 * np.sin(2.0 * np.pi * t)  # slight perspective tilt (yaw / pitch)
    py = 2.0e-4 * np.cos(2.0 * np.pi * t)
    to_centre = np.array([[1, 0, -(width - 1) / 2], [0, 1, -(height - 1) / 2], [0, 0, 1]], dtype=np.float64)
    persp = np.array([[1, 0, 0], [0, 1, 0], [px, py, 1]], dtype=np.float64)
    c, s = np.cos(theta), np.sin(theta)
    rot_scale = np.array([[scale * c, -scale * s, 0], [scale * s, scale * c, 0], [0, 0, 1]], dtype=np.float64)
    to_photo = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]], dtype=np.float64)
    return to_photo @ rot_scale @ persp @ to_centre


def make(frames: int, height: int, width: int, fps: float, out_dir: Path) -> tuple[Path, Path]:
    from skimage import data  # imported here: only the generator needs scikit-image

    photo = cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)
    ph, pw = photo.shape[:2]
    corners = np.array([[0, 0, 1], [width - 1, 0, 1], [width - 1, height - 1, 1], [0, height - 1, 1]], np.float64)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"coffee_{height}x{width}"
    video_path = out_dir / f"{stem}.mp4"
    gt_path = out_dir / f"{stem}_homographies.npz"
    writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cannot open a video writer for {video_path}")
    a0 = camera_to_photo(0.0, height, width, (ph, pw))
    hs = np.zeros((frames, 3, 3), np.float64)
    for k in range(frames):
        t = k / max(frames - 1, 1)
        a = camera_to_photo(t, height, width, (ph, pw))
        pc = corners @ a.T
        pc = pc[:, :2] / pc[:, 2:]
        if pc.min() < 0 or pc[:, 0].max() > pw - 1 or pc[:, 1].max() > ph - 1:
            raise RuntimeError(f"frame {k}: the view leaves the photo ({pc.round(1).tolist()})")
        frame = cv2.warpPerspective(photo, np.linalg.inv(a), (width, height), flags=cv2.INTER_LINEAR)
        gain = 1.0 + 0.08 * np.sin(2.0 * np.pi * 1.3 * t)  # slow auto-exposure drift
        frame = np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        writer.write(frame)
        h0k = np.linalg.inv(a) @ a0
        hs[k] = h0k / h0k[2, 2]
    writer.release()
    np.savez_compressed(
        gt_path,
        homographies=hs,
        height=np.int64(height),
        width=np.int64(width),
        fps=np.float64(fps),
        source=np.array("skimage.data.coffee (CC0, Rachel Michetti / Pikolo Espresso Bar)"),
    )
    cap = cv2.VideoCapture(str(video_path))
    n = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        if img.shape != (height, width, 3):
            raise RuntimeError(f"read back a frame of shape {img.shape}")
        n += 1
    cap.release()
    if n != frames:
        raise RuntimeError(f"wrote {frames} frames but read back {n}")
    return video_path, gt_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = ap.parse_args()
    video, gt = make(args.frames, args.height, args.width, args.fps, args.out_dir)
    for p in (video, gt):
        print(f"{p}  {p.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
