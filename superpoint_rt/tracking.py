"""Point tracking by chaining descriptor matches between consecutive frames.

Each keypoint of a new frame is matched to the previous frame's keypoints by mutual nearest neighbour on
the descriptors (L2 distance at most ``nn_threshold``); a matched keypoint continues the track of its match,
an unmatched one starts a new track (a track ends the first frame it is not matched). Coordinates are
(x, y) = (column, row) in input pixels, pixel centres at integers.

Example::

    tracker = PointTracker(max_length=5)
    for index, frame, feats in sp.stream("video.mp4"):
        tracks = tracker.update(feats, index)
        image = draw_tracks(frame, tracks)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .matching import mutual_nn_match
from .types import Features

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


class PointTracker:
    """Chain mutual-NN descriptor matches between consecutive frames into tracks.

    Args:
        max_length: positions kept per track for drawing (``Tracks.history``); the track itself, its
            length and its start are kept however long it lives.
        nn_threshold: largest L2 distance between unit descriptors accepted as a match (0 to 2).

    Not thread-safe: use one tracker per stream.
    """

    def __init__(self, max_length: int = 5, nn_threshold: float = 0.7) -> None:
        if int(max_length) < 2:
            raise ValueError(f"max_length must be >= 2, got {max_length}")
        if not 0.0 < float(nn_threshold) <= 2.0:
            raise ValueError(f"nn_threshold must be in (0, 2], got {nn_threshold}")
        self.max_length = int(max_length)
        self.nn_threshold = float(nn_threshold)
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
        if prev is None or prev_desc is None or n == 0 or len(prev) == 0:
            matches = np.zeros((0, 2), np.int64)
        else:
            matches = mutual_nn_match(prev_desc, desc, self.nn_threshold)

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
