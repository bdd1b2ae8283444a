"""``superpoint-rt demo``: SuperPoint point tracks on a video, a camera or an image folder.

Writes an annotated MP4 (tracks coloured by length, keypoints, an FPS overlay), optionally shows it in a
window, and prints a summary: frames, FPS and time per stage, mean track length and, when ground-truth
homographies are known (the bundled sample), the tracks' reprojection error.

Reprojection error: a track first seen at frame j at point p and seen again at frame k at point q is
compared with the ground truth ``H_0k H_0j^-1 p``; the error of every (track, later frame) pair is the
distance in pixels, and the summary reports its median and mean.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..drawing import draw_text, draw_tracks
from ..geometry import warp_points
from ..samples import SAMPLE_HOMOGRAPHIES, SAMPLE_VIDEO, load_homographies
from ..streaming import Stream, StreamError
from ..sysinfo import cpu_description
from ..tracking import DEFAULT_VERIFICATION, PointTracker, Tracks
from ..verification import VerificationConfig
from .common import build_superpoint, engine_options

__all__ = [
    "SAMPLE_HOMOGRAPHIES",
    "SAMPLE_VIDEO",
    "ReprojectionError",
    "load_homographies",
    "register",
    "run_demo",
]

DEFAULT_OUTPUT = "superpoint_demo.mp4"
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv")


def _resize_matrix(src_wh: tuple[int, int], dst_wh: tuple[int, int]) -> np.ndarray:
    """Pixel map of ``cv2.resize`` from a ``src_wh`` image to ``dst_wh`` (pixel centres at integers)."""
    sx, sy = dst_wh[0] / src_wh[0], dst_wh[1] / src_wh[1]
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]], np.float64)


class ReprojectionError:
    """Accumulates the tracks' reprojection errors against ground-truth homographies ``H_0k``."""

    def __init__(self, homographies: np.ndarray) -> None:
        self.h = np.asarray(homographies, np.float64)
        self.h_inv = np.linalg.inv(self.h)
        self.errors: list[np.ndarray] = []
        self.skipped_frames = 0

    def update(self, tracks: Tracks) -> None:
        """Add the errors of every track of this frame that started in an earlier frame."""
        k = tracks.frame_index
        if k >= len(self.h):
            self.skipped_frames += 1
            return
        sel = np.flatnonzero(tracks.start_frames < k)
        if sel.size == 0:
            return
        errs = np.empty(sel.size, np.float64)
        starts = tracks.start_frames[sel]
        for j in np.unique(starts):
            m = starts == j
            h_jk = self.h[k] @ self.h_inv[j]
            pred = warp_points(tracks.start_points[sel[m]], h_jk)
            errs[m] = np.linalg.norm(pred - tracks.keypoints[sel[m]].astype(np.float64), axis=1)
        self.errors.append(errs)

    def summary(self) -> dict[str, Any]:
        e = np.concatenate(self.errors) if self.errors else np.zeros(0)
        if e.size == 0:
            return {"n": 0, "median_px": None, "mean_px": None, "within_1px": None, "within_3px": None}
        return {
            "n": int(e.size),
            "median_px": float(np.median(e)),
            "mean_px": float(e.mean()),
            "within_1px": float((e <= 1.0).mean()),
            "within_3px": float((e <= 3.0).mean()),
        }


def _display_available() -> tuple[bool, str]:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False, "no display (DISPLAY and WAYLAND_DISPLAY are not set)"
    return True, ""


def run_demo(
    detector: Callable[..., Any],
    source: Any = None,
    output: str | os.PathLike[str] | None = DEFAULT_OUTPUT,
    *,
    homographies: np.ndarray | None = None,
    mode: str | None = None,
    max_frames: int | None = None,
    resize: tuple[int, int] | None = None,
    track_length: int = 5,
    nn_threshold: float = 0.7,
    min_track_length: int = 2,
    verification: VerificationConfig | None = DEFAULT_VERIFICATION,
    show: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
) -> dict[str, Any]:
    """Run detection + tracking over ``source`` and return the summary dict (see the module docstring).

    Args:
        detector: a ``SuperPoint`` (any callable ``image -> Features``).
        source: as :func:`superpoint_rt.streaming.open_source`; None = the bundled sample video, whose
            ground truth is then used unless ``homographies`` is given.
        output: annotated MP4 path, or None for no video.
        homographies: ground truth ``(N,3,3)`` frame 0 -> frame k of the *source* frames, or None.
        mode: "file" | "live" | None (auto; see :func:`superpoint_rt.streaming.stream`).
        max_frames: stop after this many processed frames.
        resize: ``(width, height)`` frames are resized to before detection.
        verification: the tracker's match verification (default: fundamental-matrix RANSAC; None: off).
        show: display the annotated frames in a window (needs a display and a GUI build of OpenCV);
            'q' or Esc stops.
    """
    is_sample = source is None
    if is_sample:
        source = str(SAMPLE_VIDEO)
        if homographies is None:
            homographies = load_homographies(SAMPLE_HOMOGRAPHIES)
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    if output is not None and Path(output).suffix.lower() not in VIDEO_EXTENSIONS:
        raise ValueError(f"output must be a video file ({', '.join(VIDEO_EXTENSIONS)}), got {output}")
    if show:
        ok, why = _display_available()
        if not ok:
            log(f"note: --show ignored: {why}" + (f"; writing the annotated video to {output}" if output else ""))
            show = False

    s = Stream(detector, source, mode=mode, resize=resize)
    tracker = PointTracker(max_length=track_length, nn_threshold=nn_threshold, verification=verification)
    stats = s.stats
    reproj: ReprojectionError | None = None
    writer: cv2.VideoWriter | None = None
    total = s.reader.source.frame_count
    if total is not None and max_frames is not None:
        total = min(total, max_frames)
    bar = None
    if progress and s.mode == "file":
        from tqdm import tqdm

        bar = tqdm(total=total, unit="frame", desc="demo", file=sys.stderr, leave=False)
    keypoint_counts: list[int] = []
    image_size: tuple[int, int] | None = None
    fps_ema: float | None = None
    last_t: float | None = None
    window = "superpoint_rt demo"
    stopped_by_user = False
    try:
        with s:
            for index, frame, feats in s:
                if image_size is None:
                    image_size = (int(frame.shape[0]), int(frame.shape[1]))
                    if homographies is not None:
                        if resize is not None:
                            src_wh = _source_size(source, homographies)
                            if src_wh is not None and src_wh != resize:
                                m = _resize_matrix(src_wh, resize)
                                homographies = m @ homographies @ np.linalg.inv(m)
                        reproj = ReprojectionError(homographies)
                with stats.measure("tracking"):
                    tracks = tracker.update(feats, index)
                if reproj is not None:
                    with stats.measure("evaluation"):
                        reproj.update(tracks)
                keypoint_counts.append(len(feats))
                now = time.perf_counter()
                if last_t is not None:
                    period = now - last_t
                    fps_ema = 1.0 / period if fps_ema is None else 0.9 * fps_ema + 0.1 / max(period, 1e-9)
                last_t = now
                if output is not None or show:
                    with stats.measure("drawing"):
                        canvas = draw_tracks(frame, tracks, min_length=min_track_length, draw_all_points=True)
                        net_ms = feats.timings.get("network", float("nan")) * 1e3
                        n_long = int((tracks.lengths >= min_track_length).sum())
                        canvas = draw_text(
                            canvas,
                            [
                                f"{fps_ema or 0.0:5.1f} FPS  net {net_ms:.1f} ms",
                                f"frame {index}  kpts {len(feats)}  tracks {n_long}",
                            ],
                        )
                    if output is not None:
                        with stats.measure("writing"):
                            if writer is None:
                                writer = _open_writer(output, canvas.shape[1], canvas.shape[0], s.reader.source.fps)
                            writer.write(canvas)
                    if show:
                        with stats.measure("display"):
                            try:
                                cv2.imshow(window, canvas)
                                key = cv2.waitKey(1) & 0xFF
                            except cv2.error as e:
                                log(f"note: --show disabled: this OpenCV build cannot open windows ({e.err})")
                                show = False
                                key = -1
                        if key in (ord("q"), 27):
                            stopped_by_user = True
                            break
                if bar is not None:
                    bar.update(1)
                if max_frames is not None and stats.frames_yielded >= max_frames:
                    break
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.release()
        if show:
            try:
                cv2.destroyWindow(window)
            except cv2.error:
                pass

    summary = stats.summary()
    stages = summary["stages"]
    info = detector.info() if hasattr(detector, "info") else {}
    return {
        "source": "sample" if is_sample else str(source),
        "source_path": str(source),
        "mode": s.mode,
        "frames": stats.frames_yielded,
        "frames_read": stats.frames_read,
        "frames_dropped": stats.frames_dropped,
        "end_reason": "user" if stopped_by_user else stats.end_reason,
        "image_size": list(image_size) if image_size else None,
        "engine": {k: info.get(k) for k in ("backend", "precision", "device", "weights") if k in info},
        "cpu": cpu_description()["cpu"],  # FPS depends on it: every record names its machine
        "wall_s": summary["wall_s"],
        "fps": summary["fps"],
        "stages": stages,
        "stage_fps": {k: (1e3 / v["mean_ms"] if v["mean_ms"] > 0 else None) for k, v in stages.items()},
        "keypoints_mean": float(np.mean(keypoint_counts)) if keypoint_counts else 0.0,
        "tracks": tracker.length_stats(),
        "verification": {"model": tracker.verification.model, **tracker.verification_stats()},
        "reprojection": reproj.summary() if reproj is not None else None,
        "output": str(output) if output is not None and writer is not None else None,
    }


def _source_size(source: Any, homographies: np.ndarray) -> tuple[int, int] | None:
    """(width, height) of the source frames, for rescaling ground truth given at the source size."""
    if isinstance(source, (str, os.PathLike)) and Path(source).is_file():
        cap = cv2.VideoCapture(os.fspath(source))
        try:
            w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        finally:
            cap.release()
        return (w, h) if w > 0 and h > 0 else None
    return None


def _open_writer(path: str | os.PathLike[str], width: int, height: int, fps: float | None) -> cv2.VideoWriter:
    p = Path(path)
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(p), cv2.VideoWriter.fourcc(*"mp4v"), float(fps or 30.0), (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write the video {p} (unsupported extension or no MPEG-4 encoder)")
    return writer


def format_summary(r: dict[str, Any]) -> str:
    """The summary dict as a short human-readable report."""
    lines = [
        f"source: {r['source_path']}  ({r['mode']} mode, {r['frames']} frames"
        + (f", {r['frames_dropped']} dropped" if r["frames_dropped"] else "")
        + (f", {r['image_size'][0]}x{r['image_size'][1]}" if r["image_size"] else "")
        + ")",
    ]
    if r["engine"]:
        lines.append("engine: " + ", ".join(f"{k}={v}" for k, v in r["engine"].items()))
    lines.append(f"end to end: {r['fps']:.1f} FPS ({r['wall_s']:.2f} s)")
    lines.append(f"  {'stage':<12} {'mean ms':>8} {'p50 ms':>8} {'p99 ms':>8} {'FPS':>8} {'share':>6}")
    for k, v in r["stages"].items():
        fps = r["stage_fps"].get(k)
        share = "" if v["share"] is None else f"{100 * v['share']:5.1f}%"
        fps_s = f"{fps:8.1f}" if fps is not None and math.isfinite(fps) else f"{'-':>8}"
        lines.append(f"  {k:<12} {v['mean_ms']:8.2f} {v['p50_ms']:8.2f} {v['p99_ms']:8.2f} {fps_s} {share:>6}")
    lines.append("  (decode runs in the capture thread, in parallel; decode_wait is what the loop waited for it)")
    t = r["tracks"]
    lines.append(
        f"keypoints/frame: {r['keypoints_mean']:.0f}; tracks: {t['tracks']} started, mean length "
        f"{t['mean_length']:.2f} frames; {t['tracks_multi']} seen in >= 2 frames, mean length "
        f"{t['mean_length_multi']:.2f}, longest {t['max_length']}"
    )
    v = r.get("verification")
    if v and v["candidates"]:
        lines.append(
            f"verification ({v['model'] or 'gates only'}): {v['kept']} of {v['candidates']} matches kept; rejected "
            f"{v['descriptor']} by descriptor distance, {v['displacement']} by displacement, {v['ransac']} by RANSAC"
        )
    rp = r["reprojection"]
    if rp is not None:
        if rp["n"]:
            lines.append(
                f"track reprojection error vs ground truth: median {rp['median_px']:.2f} px, mean "
                f"{rp['mean_px']:.2f} px over {rp['n']} track points ({100 * rp['within_3px']:.0f}% within 3 px)"
            )
        else:
            lines.append("track reprojection error: no track lasted two frames")
    if r["output"]:
        lines.append(f"annotated video: {r['output']}")
    return "\n".join(lines)


def _parse_source(s: str | None) -> Any:
    if s is None:
        return None
    return int(s) if s.isdigit() else s


def _parse_size(s: str | None) -> tuple[int, int] | None:
    if s is None:
        return None
    try:
        w, h = (int(v) for v in s.lower().split("x"))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 320x240, got {s!r}") from e
    if w < 8 or h < 8:
        raise argparse.ArgumentTypeError(f"size too small: {s}")
    return w, h


def _verification(args: argparse.Namespace) -> VerificationConfig | None:
    if args.verify == "none" and args.max_displacement is None:
        return None
    return VerificationConfig(
        model=None if args.verify == "none" else args.verify, max_displacement=args.max_displacement
    )


def cmd_demo(args: argparse.Namespace) -> int:
    """Entry point of ``superpoint-rt demo``; returns the exit code (2: bad input, missing weights)."""
    from ..weights import WeightsError

    try:
        sp = build_superpoint(args)
    except (WeightsError, FileNotFoundError, ValueError, ImportError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        homographies = load_homographies(args.gt) if args.gt else None
        result = run_demo(
            sp,
            _parse_source(args.source),
            None if args.no_output else (args.output or DEFAULT_OUTPUT),
            homographies=homographies,
            mode=args.mode,
            max_frames=args.max_frames,
            resize=args.resize,
            track_length=args.track_length,
            nn_threshold=args.nn_threshold,
            min_track_length=args.min_track_length,
            verification=_verification(args),
            show=args.show,
            progress=not args.no_progress,
        )
    except (FileNotFoundError, StreamError, ValueError, TypeError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_summary(result))
    return 0


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand to the ``superpoint-rt`` parser."""
    p = subparsers.add_parser(
        "demo",
        parents=[engine_options()],
        help="track SuperPoint points on a video / camera / image folder (default: the bundled sample)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "source",
        nargs="?",
        default=None,
        help="video file, camera index (0), URL (rtsp://...), image folder or glob; default: the bundled sample",
    )
    p.add_argument("-o", "--output", default=None, help=f"annotated MP4 (default: {DEFAULT_OUTPUT})")
    p.add_argument("--no-output", action="store_true", help="do not write a video")
    p.add_argument("--show", action="store_true", help="show the frames in a window (needs a display); q/Esc quits")
    p.add_argument("--max-frames", type=int, default=None, help="stop after N processed frames")
    p.add_argument(
        "--mode",
        choices=["file", "live"],
        default=None,
        help="file: every frame in order; live: newest frame only (default: live for cameras/URLs)",
    )
    p.add_argument("--resize", type=_parse_size, default=None, metavar="WxH", help="resize frames before detection")
    p.add_argument("--track-length", type=int, default=5, help="positions drawn per track (default 5)")
    p.add_argument("--nn-threshold", type=float, default=0.7, help="descriptor L2 match threshold (default 0.7)")
    p.add_argument("--min-track-length", type=int, default=2, help="draw tracks seen in >= N frames (default 2)")
    p.add_argument(
        "--verify",
        choices=["fundamental", "homography", "none"],
        default="fundamental",
        help="RANSAC model a frame pair's matches must fit to extend tracks (default fundamental; homography for a "
        "planar scene or a rotating camera, e.g. the bundled sample; none: unverified)",
    )
    p.add_argument("--max-displacement", type=float, default=None, help="end tracks that move more px per frame")
    p.add_argument("--gt", default=None, help="ground-truth homographies .npz (frame 0 -> k) for a custom source")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)
