#!/usr/bin/env python
"""Embedding superpoint_rt in a robot control loop, without ROS.

Two threads:

* a **perception thread** owns the camera and its own ``SuperPoint``; it runs
  ``superpoint_rt.streaming.stream(sp, camera, mode="live")`` (latest-frame policy: a frame the detector
  had no time for is dropped, never queued), matches each frame to the previous one and publishes the
  newest result into a one-slot mailbox;
* the **control thread** (here: the main thread) ticks at a fixed rate, takes whatever is newest in the
  mailbox without waiting, and refuses to act on a result older than ``--max-age`` seconds (a stalled
  camera or a slow frame makes it hold instead of steering on stale data).

Latency is therefore bounded by one detector call plus one control period: the mailbox never holds more
than one result, and the stream never holds more than one frame.

Thread-safety of ``SuperPoint``: **one SuperPoint per thread**. The object serialises its own calls with
a lock (so sharing one is safe), but it reuses its engine's buffers, and two threads sharing it would
simply wait for each other. Here only the perception thread creates and calls it; the control thread
only reads the immutable results it publishes (numpy arrays are never modified after publishing).

The "camera" defaults to the bundled sample video played at ``--camera-fps`` in a loop (a paced
``read()``, as a real camera's driver blocks until the next exposure). Run::

    python examples/control_loop.py --weights random --duration 5
    python examples/control_loop.py --source 0 --weights superpoint_v1.pth   # a real camera
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from superpoint_rt import SuperPoint
from superpoint_rt.matching import estimate_homography, mutual_nn_match
from superpoint_rt.samples import SAMPLE_VIDEO
from superpoint_rt.streaming import stream


@dataclass(frozen=True)
class Perception:
    """One published perception result (immutable: safe to hand to another thread)."""

    frame_index: int
    captured_at: float  # time.perf_counter() when the frame was read from the camera
    ready_at: float  # ... and when its features and motion estimate were ready
    num_keypoints: int
    image_shift: np.ndarray | None  # (2,) px: how the image centre moved since the previous frame (x, y)


class Mailbox:
    """A one-slot, thread-safe "latest value" holder: ``put`` overwrites, ``get`` never blocks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: Perception | None = None

    def put(self, value: Perception) -> None:
        with self._lock:
            self._value = value

    def get(self) -> Perception | None:
        with self._lock:
            return self._value


class PacedVideo:
    """A video file played like a camera: ``read()`` blocks until the next frame is due; loops forever."""

    def __init__(self, path: str, fps: float) -> None:
        self.cap = cv2.VideoCapture(path)
        if not self.cap.isOpened():
            raise FileNotFoundError(f"cannot open {path}")
        self.period = 1.0 / fps
        self.next_t = time.perf_counter()

    def read(self) -> tuple[bool, np.ndarray | None]:
        delay = self.next_t - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        self.next_t = max(self.next_t + self.period, time.perf_counter() - self.period)
        ok, frame = self.cap.read()
        if not ok:  # loop the clip
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
        return ok, frame

    def release(self) -> None:
        self.cap.release()


def perception_thread(args: argparse.Namespace, mailbox: Mailbox, stop: threading.Event, info: dict) -> None:
    """Owns the SuperPoint and the camera; publishes the newest result until ``stop`` is set."""
    try:
        sp = SuperPoint(weights=args.weights, backend=args.backend, max_keypoints=args.max_keypoints)
        camera = PacedVideo(args.source, args.camera_fps) if not args.source.isdigit() else int(args.source)
        prev = None
        with stream(sp, camera, mode="live") as s:
            for index, _frame, feats in s:
                shift = None
                if prev is not None and len(feats) and len(prev):
                    matches = mutual_nn_match(prev.descriptors, feats.descriptors, max_distance=0.7)
                    h, _ = estimate_homography(prev.keypoints, feats.keypoints, matches, 3.0)
                    if h is not None:
                        hgt, wid = feats.image_size
                        c = np.array([(wid - 1) / 2, (hgt - 1) / 2, 1.0])
                        m = h @ c
                        shift = m[:2] / m[2] - c[:2]
                prev = feats
                mailbox.put(Perception(index, s.last_capture_time or 0.0, time.perf_counter(), len(feats), shift))
                if stop.is_set():
                    break
            info["stream"] = s.stats.summary()
    except Exception as e:  # surfaced by the control loop, which then stops safely
        info["error"] = e


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default=str(SAMPLE_VIDEO), help="video file (played as a camera) or camera index")
    ap.add_argument("--weights", default=None, help="weights path, or 'random' for a smoke test")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--max-keypoints", type=int, default=500)
    ap.add_argument("--camera-fps", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=50.0, help="control loop frequency, Hz")
    ap.add_argument("--max-age", type=float, default=0.25, help="ignore perception older than this, s")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds to run")
    args = ap.parse_args()

    mailbox, stop, info = Mailbox(), threading.Event(), {}
    worker = threading.Thread(target=perception_thread, args=(args, mailbox, stop, info), name="perception")
    worker.start()

    period = 1.0 / args.rate
    ages, acted, held, last_index = [], 0, 0, -1
    command = np.zeros(2)
    t_end = time.perf_counter() + args.duration
    next_tick = time.perf_counter()
    try:
        while time.perf_counter() < t_end and "error" not in info:
            now = time.perf_counter()
            p = mailbox.get()  # never blocks
            if p is None or now - p.captured_at > args.max_age:
                held += 1  # nothing fresh: hold (a real robot would brake / keep its last safe command)
                command = np.zeros(2)
            else:
                ages.append(now - p.captured_at)
                if p.frame_index != last_index and p.image_shift is not None:
                    # a toy visual stabiliser: steer against the image drift (proportional gain 0.5)
                    command = -0.5 * p.image_shift
                    last_index = p.frame_index
                acted += 1
            # ... send `command` to the actuators here ...
            next_tick += period
            time.sleep(max(0.0, next_tick - time.perf_counter()))
    finally:
        stop.set()
        worker.join(timeout=10.0)
    if "error" in info:
        raise SystemExit(f"perception failed: {info['error']}")
    a = np.asarray(ages) * 1e3
    st = info.get("stream", {})
    print(f"control ticks: {acted + held} ({acted} acted, {held} held for lack of fresh perception)")
    if a.size:
        print(f"perception age when used: p50 {np.percentile(a, 50):.1f} ms, p99 {np.percentile(a, 99):.1f} ms")
    if st:
        print(
            f"perception: {st['frames_yielded']} frames at {st['fps']:.1f} FPS, {st['frames_dropped']} camera frames "
            f"dropped (latest-frame policy); network p50 {st['stages'].get('network', {}).get('p50_ms', 0):.1f} ms"
        )
    print(f"last command: {np.round(command, 2).tolist()}")


if __name__ == "__main__":
    main()
