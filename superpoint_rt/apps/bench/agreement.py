"""How far two pipelines' keypoints and descriptors agree on the same images.

Used for BF16 / INT8 vs FP32 (same backend: what reduced precision costs) and ours-FP32 vs the reference (a correctness
check of the fast pipeline against the demo-style one). Pipelines are told apart by their descriptions
(``pipeline`` = reference / ours, ``backend``, ``precision``), so this module needs none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def keypoint_agreement(
    kp_ref: np.ndarray, desc_ref: np.ndarray, kp_test: np.ndarray, desc_test: np.ndarray, radius: float = 1.0
) -> dict[str, Any]:
    """How well ``test`` keypoints reproduce ``ref`` ones.

    For every reference keypoint the nearest test keypoint (Euclidean); a match when within ``radius`` px.
    Returns the counts, the matched fraction and the matched descriptors' cosine similarities (the array, under
    ``"cosines"``, for pooling).
    """
    n, m = len(kp_ref), len(kp_test)
    if n == 0 or m == 0:
        return {"reference": n, "test": m, "matched": 0, "cosines": np.zeros(0, np.float64)}
    best = np.empty(n, np.int64)
    best_d2 = np.empty(n, np.float64)
    a, b = kp_ref.astype(np.float64), kp_test.astype(np.float64)
    for s in range(0, n, 1024):
        d2 = ((a[s : s + 1024, None, :] - b[None, :, :]) ** 2).sum(-1)
        best[s : s + 1024] = d2.argmin(1)
        best_d2[s : s + 1024] = d2[np.arange(d2.shape[0]), best[s : s + 1024]]
    ok = best_d2 <= radius * radius + 1e-9
    cos = np.einsum("ij,ij->i", desc_ref[ok].astype(np.float64), desc_test[best[ok]].astype(np.float64))
    return {"reference": n, "test": m, "matched": int(ok.sum()), "cosines": cos}


def summarise_agreement(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pool :func:`keypoint_agreement` results over images."""
    n = sum(p["reference"] for p in parts)
    matched = sum(p["matched"] for p in parts)
    cos = np.concatenate([p["cosines"] for p in parts]) if parts else np.zeros(0)
    return {
        "images": len(parts),
        "reference_keypoints": n,
        "test_keypoints": sum(p["test"] for p in parts),
        "fraction_within_1px": round(matched / n, 4) if n else None,
        "descriptor_cosine_median": round(float(np.median(cos)), 5) if cos.size else None,
        "descriptor_cosine_p1": round(float(np.percentile(cos, 1)), 5) if cos.size else None,
    }


def pipeline_agreements(
    pipelines: Sequence[dict[str, Any]], outputs: Sequence[Sequence[Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Reduced precision (BF16, FP16, INT8) vs FP32 (same backend where there is one) and ours-FP32 vs reference.

    ``pipelines``: what each pipeline is (dicts with ``pipeline`` = reference | ours | ours-gpu, ``backend``,
    ``precision``, ``convention``); ``outputs[i]``: pipeline i's detections ``(keypoints, scores, descriptors)`` of
    the same frames at batch 1. Returns (summaries keyed ``"<backend>:<precision> vs <backend>:fp32"``, summaries
    keyed ``"<backend>:fp32 vs reference"``).
    """
    ours = [i for i, p in enumerate(pipelines) if p["pipeline"].startswith("ours")]
    fp32 = [i for i in ours if pipelines[i]["precision"] == "fp32"]

    def pooled(ref: int, test: int) -> dict[str, Any]:
        return summarise_agreement(
            [keypoint_agreement(a[0], a[2], b[0], b[2]) for a, b in zip(outputs[ref], outputs[test], strict=True)]
        )

    agreement: dict[str, Any] = {}
    for i in ours:
        if pipelines[i]["precision"] == "fp32":
            continue
        same = [j for j in fp32 if pipelines[j]["backend"] == pipelines[i]["backend"]]
        if same or fp32:
            j = (same or fp32)[0]
            key = f"{pipelines[i]['backend']}:{pipelines[i]['precision']} vs {pipelines[j]['backend']}:fp32"
            agreement[key] = pooled(j, i)
    ref_agreement: dict[str, Any] = {}
    ref = next((i for i, p in enumerate(pipelines) if p["pipeline"] == "reference"), None)
    if ref is not None:
        for j in fp32:
            s = pooled(ref, j)
            s["descriptor_convention"] = (
                f"reference: {pipelines[ref]['convention']}, ours: {pipelines[j]['convention']}"
            )
            ref_agreement[f"{pipelines[j]['backend']}:fp32 vs reference"] = s
    return agreement, ref_agreement
