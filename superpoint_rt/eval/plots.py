"""PNG plots of evaluation results (matplotlib, imported lazily, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from superpoint_rt.eval.runner import EvalResult


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_accuracy_vs_eps(results: list[EvalResult], path: str | Path, max_eps: float = 10.0) -> Path:
    """Homography accuracy as a function of the corner-error threshold, one line per method (all pairs)."""
    plt = _plt()
    eps = np.linspace(0.0, max_eps, 81)
    fig, ax = plt.subplots(figsize=(5, 4))
    for r in results:
        if not r.has_descriptors:
            continue
        errs = np.array([p.corner_error for p in r.pairs if p.corner_error is not None], dtype=np.float64)
        ax.plot(eps, [(errs <= e).mean() if len(errs) else 0.0 for e in eps], label=r.method)
    ax.set_xlabel("corner error threshold ε (px)")
    ax.set_ylabel("homography accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def pr_curve(result: EvalResult) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) of the NN matches of all pairs pooled and ranked by descriptor distance."""
    order = np.argsort(result.pr_distances, kind="stable")
    c = result.pr_correct[order].astype(np.float64)
    if len(c) == 0 or result.pr_positives == 0:
        return np.zeros(0), np.zeros(0)
    tp = np.cumsum(c)
    return tp / result.pr_positives, tp / np.arange(1, len(c) + 1)


def plot_pr(results: list[EvalResult], path: str | Path) -> Path:
    """Precision-recall curves of nearest-neighbour matching (the curve behind NN mAP)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4))
    for r in results:
        rec, prec = pr_curve(r)
        if len(rec):
            ax.plot(rec, prec, label=r.method)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def draw_matches(vis: dict[str, Any], max_lines: int = 150) -> np.ndarray:
    """Side-by-side BGR image of a pair: RANSAC inliers, green if within eps of the truth, else red."""
    from superpoint_rt.eval.metrics import warp

    a = cv2.cvtColor(vis["image1"], cv2.COLOR_GRAY2BGR)
    b = cv2.cvtColor(vis["image2"], cv2.COLOR_GRAY2BGR)
    w = a.shape[1]
    canvas = np.concatenate([a, b], axis=1)
    for p in vis["kp1"]:
        cv2.circle(canvas, (round(p[0]), round(p[1])), 2, (255, 128, 0), -1, cv2.LINE_AA)
    for p in vis["kp2"]:
        cv2.circle(canvas, (round(p[0]) + w, round(p[1])), 2, (255, 128, 0), -1, cv2.LINE_AA)
    m = vis["matches"][vis["inliers"]] if len(vis["matches"]) else vis["matches"]
    if len(m):
        p1, p2 = vis["kp1"][m[:, 0]], vis["kp2"][m[:, 1]]
        good = np.linalg.norm(warp(p1, vis["homography"])[0] - p2, axis=1) <= vis["eps"]
        for i in np.linspace(0, len(m) - 1, min(max_lines, len(m))).astype(int):
            color = (0, 200, 0) if good[i] else (0, 0, 255)
            q1 = (round(p1[i, 0]), round(p1[i, 1]))
            q2 = (round(p2[i, 0]) + w, round(p2[i, 1]))
            cv2.line(canvas, q1, q2, color, 1, cv2.LINE_AA)
    return canvas


def write_plots(results: list[EvalResult], out_dir: str | Path) -> list[Path]:
    """``accuracy_vs_eps.png``, ``nn_pr.png`` and ``matches_<method>.png`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    if any(r.has_descriptors for r in results):
        paths.append(plot_accuracy_vs_eps(results, out / "accuracy_vs_eps.png"))
        paths.append(plot_pr(results, out / "nn_pr.png"))
    for r in results:
        if r.vis is not None:
            name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in r.method)
            p = out / f"matches_{name}.png"
            cv2.imwrite(str(p), draw_matches(r.vis))
            paths.append(p)
    return paths
