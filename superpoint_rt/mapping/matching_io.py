"""Match the pairs of a features file into a matches file (hloc layout), resumable."""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .features_io import _h5py, feature_names, has_matches, matches_from_pairs, write_matches
from .pairs import pairs_from_spec


class _DescriptorCache:
    """The last ``size`` images' (N, D) descriptors read from an open features file."""

    def __init__(self, h5: Any, size: int = 64) -> None:
        self.h5, self.size = h5, size
        self.items: OrderedDict[str, np.ndarray] = OrderedDict()

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self.items:
            self.items.move_to_end(name)
            return self.items[name]
        d = np.ascontiguousarray(self.h5[name]["descriptors"][()].T.astype(np.float32))
        self.items[name] = d
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return d


def match_features(
    features: str | os.PathLike[str],
    pairs: str | Sequence[tuple[str, str]],
    out: str | os.PathLike[str],
    *,
    max_distance: float | None = 0.7,
    ratio: float | None = None,
    resume: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Mutual nearest-neighbour matching (:func:`superpoint_rt.matching.match`) of every pair into ``out``.

    Args:
        pairs: ``"exhaustive"``, ``"sequential[:K]"``, a pairs file's path, or a list of (name0, name1).
        resume: skip pairs already in ``out`` (either order); False starts a new file.

    Returns:
        {"pairs", "matched", "skipped", "mean_matches", "seconds"}.
    """
    from tqdm import tqdm

    from ..matching import match

    h5py = _h5py()
    t0 = time.perf_counter()
    with h5py.File(str(features), "r") as fh:
        names = feature_names(fh)
        if not names:
            raise ValueError(f"{features}: no features in it")
        pair_list = pairs_from_spec(pairs, names) if isinstance(pairs, str) else [tuple(p) for p in pairs]
        known = set(names)
        missing = sorted({n for p in pair_list for n in p if n not in known})
        if missing:
            raise ValueError(f"pairs name images that are not in {features}: {missing[:5]}")
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        cache = _DescriptorCache(fh)
        counts: list[int] = []
        skipped = 0
        with h5py.File(str(out), "a" if resume else "w") as fm:
            todo = []
            for a, b in pair_list:
                if has_matches(fm, a, b):
                    skipped += 1
                else:
                    todo.append((a, b))
            for a, b in tqdm(todo, desc="match", unit="pair", disable=not progress):
                da, db = cache[a], cache[b]
                ij, dist = match(da, db, max_distance=max_distance, ratio=ratio, return_distances=True)
                m0, s0 = matches_from_pairs(ij, dist, len(da))
                write_matches(fm, a, b, m0, s0)
                counts.append(len(ij))
    return {
        "pairs": len(pair_list),
        "matched": len(counts),
        "skipped": skipped,
        "mean_matches": float(np.mean(counts)) if counts else 0.0,
        "seconds": time.perf_counter() - t0,
    }
