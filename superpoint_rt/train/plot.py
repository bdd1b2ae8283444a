"""Loss-curve PNG of a run directory (train_log.csv, val_log.csv -> loss_curve.png)."""

from __future__ import annotations

import csv
from pathlib import Path


def _read(path: Path) -> dict[str, list[float]]:
    cols: dict[str, list[float]] = {}
    if not path.is_file():
        return cols
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                if k is None or v in (None, ""):
                    continue
                cols.setdefault(k, []).append(float(v))
    return cols


def plot_run(run_dir: str | Path) -> Path:
    """Write ``<run_dir>/loss_curve.png``: training loss (log scale), validation loss and P/R."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = Path(run_dir)
    tr = _read(run / "train_log.csv")
    va = _read(run / "val_log.csv")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    if tr.get("step"):
        axes[0].plot(tr["step"], tr["loss"], label="train loss", lw=0.8)
    if va.get("step"):
        axes[0].plot(va["step"], va["val_loss"], "o-", label="val loss", ms=3)
        axes[1].plot(va["step"], va["precision"], "o-", label="precision", ms=3)
        axes[1].plot(va["step"], va["recall"], "o-", label="recall", ms=3)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("step")
    if tr.get("step") or va.get("step"):
        axes[0].legend()
    axes[0].grid(alpha=0.3)
    axes[1].set_xlabel("step")
    axes[1].set_ylim(0, 1)
    if va.get("step"):
        axes[1].legend()
    axes[1].grid(alpha=0.3)
    fig.tight_layout()
    out = run / "loss_curve.png"
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
