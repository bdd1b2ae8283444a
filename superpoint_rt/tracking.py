"""Point tracking by chaining verified descriptor matches between consecutive frames.

Each keypoint of a new frame is matched to the previous frame's keypoints by mutual nearest neighbour on
the descriptors (L2 distance at most ``nn_threshold``); the matches are then verified
(:mod:`superpoint_rt.verification`: a descriptor-distance gate, a displacement gate and RANSAC on the fundamental
matrix by default, each switchable). A verified match continues the track of its match; a rejected match ends that
track (it is never bent to a wrong point) and its new point starts a new track, as does an unmatched one (a track
ends the first frame it is not matched). Coordinates are (x, y) = (column, row) in input pixels, pixel centres at
integers.

Example::

    tracker = PointTracker(max_length=5)  # verification=VerificationConfig(model="homography") for a planar scene
    for index, frame, feats in sp.stream("video.mp4"):
        tracks = tracker.update(feats, index)
        image = draw_tracks(frame, tracks)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .matching import match
from .types import Features
from .verification import REJECT_NAMES, Verification, VerificationConfig, verify_matches

__all__ = ["PointTracker", "Tracks"]


@dataclass
class Tracks:
    """The tracks through the keypoints of one frame, one row per keypoint of that frame.

    Attributes:
        frame_index: the frame these keypoints belong to.
        ids: (N,) int64 track id of each keypoint (ids are never reused).
        lengths: (N,) int64 number of consecutive frames the track has been seen, this one included.
        start_frames: (N,) int64 frame index where each track started.
        start_points: (N,2) float32 x,y of each track in its first frame.
        history: (N,L,2) float32 the last ``L = max_length`` positions, oldest first, the current keypoint
            last; rows of tracks shorter than L are NaN-padded at the front.
    """

    frame_index: int
    ids: np.ndarray
    lengths: np.ndarray
    start_frames: np.ndarray
    start_points: np.ndarray
    history: np.ndarray

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def keypoints(self) -> np.ndarray:
        """(N,2) float32 current positions."""
        return self.history[:, -1]

    @property
    def max_length(self) -> int:
        return int(self.history.shape[1])


#: the tracker's default verification: fundamental-matrix RANSAC at 1 px, the 0.7 descriptor gate, no displacement
#: gate
DEFAULT_VERIFICATION = VerificationConfig()


class PointTracker:
    """Chain verified mutual-NN descriptor matches between consecutive frames into tracks.

    Args:
        max_length: positions kept per track for drawing (``Tracks.history``); the track itself, its
            length and its start are kept however long it lives.
        nn_threshold: largest L2 distance between unit descriptors accepted as a match (0 to 2).
        verification: how each frame pair's matches are checked before they extend tracks
            (:class:`superpoint_rt.verification.VerificationConfig`; default: fundamental-matrix RANSAC);
            None or ``VerificationConfig.off()``: no check (every mutual-NN match extends its track). The
            displacement gate is per frame: when frame indices skip (a live stream drops frames), it grows with
            the gap (``max_displacement * (frame_index - previous frame_index)``).

    After each :meth:`update`, ``last_matches`` holds the accepted pairs (previous index, current index) and
    ``last_verification`` the whole check (the rejected pairs and why); :meth:`verification_stats` sums them.
    Not thread-safe: use one tracker per stream.
    """

    def __init__(
        self,
        max_length: int = 5,
        nn_threshold: float = 0.7,
        verification: VerificationConfig | None = DEFAULT_VERIFICATION,
    ) -> None:
        if int(max_length) < 2:
            raise ValueError(f"max_length must be >= 2, got {max_length}")
        if not 0.0 < float(nn_threshold) <= 2.0:
            raise ValueError(f"nn_threshold must be in (0, 2], got {nn_threshold}")
        if verification is not None and not isinstance(verification, VerificationConfig):
            raise TypeError(f"verification must be a VerificationConfig or None, got {type(verification).__name__}")
        self.max_length = int(max_length)
        self.nn_threshold = float(nn_threshold)
        self.verification: VerificationConfig = VerificationConfig.off() if verification is None else verification
        self.reset()

    def reset(self) -> None:
        """Forget every track (ids keep increasing)."""
        self._prev: Tracks | None = None
        self._prev_desc: np.ndarray | None = None
        self._frame = -1
        if not hasattr(self, "_next_id"):
            self._next_id = 0
        self._ended_count = 0
        self._ended_sum = 0
        self._ended_multi_count = 0
        self._ended_multi_sum = 0
        self._ended_max = 0
        self.last_matches: np.ndarray = np.zeros((0, 2), np.int64)
        self.last_verification: Verification | None = None
        self._verify_counts: dict[str, int] = dict.fromkeys(
            ["frame_pairs", "candidates", *REJECT_NAMES.values(), "fitted", "too_few", "no_model"], 0
        )

    @property
    def tracks(self) -> Tracks | None:
        """The tracks of the last frame passed to :meth:`update`."""
        return self._prev

    def update(self, features: Features, frame_index: int | None = None) -> Tracks:
        """Add one frame's features; returns the tracks through its keypoints (same order as
        ``features.keypoints``).

        Args:
            features: keypoints (N,2) and unit descriptors (N,D) of the new frame.
            frame_index: the frame's index; default: one more than the previous call's.
        """
        kp = np.asarray(features.keypoints, np.float32).reshape(-1, 2)
        desc = np.asarray(features.descriptors, np.float32)
        if desc.ndim != 2 or desc.shape[0] != kp.shape[0]:
            raise ValueError(f"descriptors {desc.shape} do not match keypoints {kp.shape}")
        frame = self._frame + 1 if frame_index is None else int(frame_index)
        if frame <= self._frame:
            raise ValueError(f"frame_index must increase: got {frame} after {self._frame}")
        n, L = kp.shape[0], self.max_length
        prev, prev_desc = self._prev, self._prev_desc
        if prev is not None and prev_desc is not None and prev_desc.shape[1] != desc.shape[1]:
            raise ValueError(f"descriptor size changed from {prev_desc.shape[1]} to {desc.shape[1]}")
        if prev is None or prev_desc is None:
            matches = np.zeros((0, 2), np.int64)
            self.last_verification = None
        else:
            if n == 0 or len(prev) == 0:
                candidates, distances = np.zeros((0, 2), np.int64), np.zeros(0, np.float32)
            else:
                candidates, distances = match(prev_desc, desc, max_distance=self.nn_threshold, return_distances=True)
            cfg = self.verification
            gap = frame - self._frame
            if cfg.max_displacement is not None and gap > 1:
                cfg = replace(cfg, max_displacement=cfg.max_displacement * gap)
            v = verify_matches(prev.keypoints, kp, candidates, distances, cfg)
            self._count_verification(v)
            self.last_verification = v
            matches = v.matches

        ids = np.full(n, -1, np.int64)
        lengths = np.ones(n, np.int64)
        start_frames = np.full(n, frame, np.int64)
        start_points = kp.copy()
        history = np.full((n, L, 2), np.nan, np.float32)
        history[:, -1] = kp
        if prev is not None and len(matches):
            i, j = matches[:, 0], matches[:, 1]
            ids[j] = prev.ids[i]
            lengths[j] = prev.lengths[i] + 1
            start_frames[j] = prev.start_frames[i]
            start_points[j] = prev.start_points[i]
            history[j, :-1] = prev.history[i, 1:]
        new = ids < 0
        ids[new] = self._next_id + np.arange(int(new.sum()), dtype=np.int64)
        self._next_id += int(new.sum())

        if prev is not None:  # tracks of the previous frame not continued have ended
            ended = np.ones(len(prev), bool)
            ended[matches[:, 0]] = False
            self._count_ended(prev.lengths[ended])

        self._prev = Tracks(frame, ids, lengths, start_frames, start_points, history)
        self._prev_desc = desc
        self._frame = frame
        self.last_matches = matches
        return self._prev

    def _count_verification(self, v: Verification) -> None:
        c = self._verify_counts
        c["frame_pairs"] += 1
        for k, val in v.counts().items():
            c[k] += val
        if v.ransac in c:
            c[v.ransac] += 1

    def verification_stats(self) -> dict[str, int]:
        """Totals since :meth:`reset` over the frame pairs matched: ``frame_pairs``, ``candidates`` (mutual-NN
        matches), ``kept``, the matches rejected by each check (``descriptor``, ``displacement``, ``ransac``) and the
        frame pairs whose RANSAC ``fitted`` a model, had ``too_few`` matches (skipped) or found ``no_model``."""
        return dict(self._verify_counts)

    def _count_ended(self, lengths: np.ndarray) -> None:
        if lengths.size == 0:
            return
        self._ended_count += int(lengths.size)
        self._ended_sum += int(lengths.sum())
        multi = lengths[lengths >= 2]
        self._ended_multi_count += int(multi.size)
        self._ended_multi_sum += int(multi.sum())
        self._ended_max = max(self._ended_max, int(lengths.max()))

    def length_stats(self) -> dict[str, float | int]:
        """Track-length statistics over every track so far (ended and alive), in frames:
        ``tracks``, ``mean_length``, ``tracks_multi`` / ``mean_length_multi`` (tracks seen in >= 2 frames),
        ``max_length``."""
        count, total = self._ended_count, self._ended_sum
        mcount, mtotal, mx = self._ended_multi_count, self._ended_multi_sum, self._ended_max
        if self._prev is not None and len(self._prev):
            alive = self._prev.lengths
            count += int(alive.size)
            total += int(alive.sum())
            multi = alive[alive >= 2]
            mcount += int(multi.size)
            mtotal += int(multi.sum())
            mx = max(mx, int(alive.max()))
        return {
            "tracks": count,
            "mean_length": total / count if count else 0.0,
            "tracks_multi": mcount,
            "mean_length_multi": mtotal / mcount if mcount else 0.0,
            "max_length": mx,
        }
