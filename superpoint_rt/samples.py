"""The bundled sample: a 240x320 video of a planar scene and its ground-truth homographies (frame 0 -> frame k).

``SAMPLE_VIDEO`` streams with :func:`superpoint_rt.streaming.stream`; ``load_homographies(SAMPLE_HOMOGRAPHIES)`` gives
``(N, 3, 3)`` float64 arrays, pixel centres at integers (``superpoint_rt/data/sample/README.md`` says how it was made).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SAMPLE_DIR = Path(__file__).resolve().parent / "data" / "sample"
SAMPLE_VIDEO = SAMPLE_DIR / "coffee_240x320.mp4"
SAMPLE_HOMOGRAPHIES = SAMPLE_DIR / "coffee_240x320_homographies.npz"


def load_homographies(path: str | os.PathLike[str]) -> np.ndarray:
    """Ground-truth homographies ``(N,3,3)`` float64, frame 0 -> frame k, from an ``.npz`` (key
    ``homographies``) or ``.npy`` file."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"ground-truth homographies not found: {p}")
    try:
        if p.suffix == ".npz":
            with np.load(p) as z:
                if "homographies" not in z:
                    raise ValueError(f"{p} has no 'homographies' array (keys: {list(z.keys())})")
                h = np.asarray(z["homographies"], np.float64)
        else:
            h = np.asarray(np.load(p), np.float64)
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read homographies from {p}: {e}") from e
    if h.ndim != 3 or h.shape[1:] != (3, 3) or not np.isfinite(h).all():
        raise ValueError(f"{p}: homographies must be a finite (N,3,3) array, got shape {h.shape}")
    return h
