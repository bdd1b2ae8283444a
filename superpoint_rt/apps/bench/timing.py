"""The stages the benchmark times and the statistics it reports for each."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: ``preprocess`` (image -> network input), ``network``, ``postprocess`` (outputs -> keypoints + descriptors),
#: ``e2e`` (uint8 BGR frames in, keypoints + descriptors out, measured around the whole call)
STAGES = ("preprocess", "network", "postprocess", "e2e")


def timing_stats(samples: Sequence[float], batch: int = 1) -> dict[str, float]:
    """Per-call seconds -> p50 / p99 / mean / min milliseconds and FPS (``batch`` images per call, FPS from p50)."""
    ms = np.asarray(samples, np.float64) * 1e3
    p50 = float(np.percentile(ms, 50))
    return {
        "p50_ms": round(p50, 4),
        "p99_ms": round(float(np.percentile(ms, 99)), 4),
        "mean_ms": round(float(ms.mean()), 4),
        "min_ms": round(float(ms.min()), 4),
        "fps": round(batch * 1e3 / p50, 3) if p50 > 0 else float("inf"),
    }
