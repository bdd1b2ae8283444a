"""Homography accuracy, repeatability and NN mAP per training checkpoint, from ``superpoint-rt eval --json`` files.

    superpoint-rt eval BENCH --method superpoint --precision bf16 --weights CKPT --json evals/step_N.json   # per ckpt
    python scripts/checkpoint_curve.py evals/step_*.json --json curve.json --plot curve.png [--shipped 4648]

The step is read from each file name (the last integer in it). Only the "all" summary row is used, plus the
homography AUC at 5 px computed from the per-pair corner errors (so older files without it in their summary work
too); files with a different pair count than the first are refused (they are not the same benchmark). When every
file was made with the same ``--homography-trials N`` (N > 1), the rows and the plot also carry
``homography_trials@1/3/5`` (each pair's share of N RANSAC runs within eps, averaged): single RANSAC runs move a
checkpoint's homography accuracy by a few points, so read those for decisions. Files with different N are refused.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from superpoint_rt.eval.metrics import homography_auc
from superpoint_rt.sysinfo import cpu_description

METRICS = ("homography@1", "homography@3", "homography@5", "repeatability", "nn_map", "matching_score")
AUC = "homography_auc@5"
TRIALS = ("homography_trials@1", "homography_trials@3", "homography_trials@5")


def read_rows(paths: list[Path]) -> list[dict[str, Any]]:
    """One row per eval JSON: step (from the file name), pairs, :data:`METRICS` of the "all" summary, the AUC, and
    :data:`TRIALS` with ``homography_trials`` (N) when every file has them."""
    rows = []
    for p in paths:
        found = re.findall(r"\d+", p.stem)
        if not found:
            raise ValueError(f"{p}: no step number in the file name")
        result = json.loads(p.read_text())["results"][0]
        summary = result["summary"]["all"]
        auc = homography_auc([q["corner_error"] for q in result["pairs"]], 5.0)
        row = {"step": int(found[-1]), "pairs": summary["pairs"], **{k: round(summary[k], 4) for k in METRICS}}
        row[AUC] = round(auc, 4)
        trials = int(result.get("config", {}).get("homography_trials", 1))
        if trials > 1 and all(k in summary for k in TRIALS):
            row.update({"homography_trials": trials, **{k: round(summary[k], 4) for k in TRIALS}})
        rows.append(row)
    rows.sort(key=lambda r: r["step"])
    if len({r["pairs"] for r in rows}) > 1:
        raise ValueError(f"different pair counts {sorted({r['pairs'] for r in rows})}: not the same benchmark")
    counts = {r.get("homography_trials") for r in rows}
    if len(counts) > 1:
        if None not in counts:
            raise ValueError(f"different --homography-trials {sorted(c for c in counts if c)}: not comparable")
        for r in rows:  # some files have no trials: keep the metrics every file has
            for k in ("homography_trials", *TRIALS):
                r.pop(k, None)
    return rows


def plot(rows: list[dict[str, Any]], out: Path, shipped: int | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    shown: tuple[str, ...] = (*METRICS[:5], AUC)
    styles = ["o-", "s-", "^-", "d--", "x:", "k*-"]
    if TRIALS[0] in rows[0]:  # the averaged homography replaces the single RANSAC runs
        shown = (*TRIALS, *METRICS[3:5], AUC)
    for k, style in zip(shown, styles, strict=True):
        label = "hom. AUC@5px" if k == AUC else k.replace("homography@", "hom. eps=")
        if k in TRIALS:
            label = f"hom. eps={k.split('@')[1]} ({rows[0]['homography_trials']} RANSAC runs)"
        ax.plot(steps, [r[k] for r in rows], style, label=label)
    if shipped is not None:
        ax.axvline(shipped, color="grey", lw=1)
        xy = ("data", "axes fraction")
        ax.annotate("shipped", (shipped, 0.02), xycoords=xy, rotation=90, ha="right", color="grey")
    pairs = rows[0]["pairs"]
    title = f"checkpoints on the training-photo benchmark ({pairs} pairs; one pair = {1 / pairs:.3f})"
    values = [r[k] for r in rows for k in shown]
    ylim = (max(0.0, min(values) - 0.05), min(1.0, max(values) + 0.05))  # every point inside
    ax.set(xlabel="SuperPoint-stage step", ylabel="score", ylim=ylim, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=3, loc="best")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("evals", nargs="+", type=Path, help="eval JSON files, one per checkpoint")
    ap.add_argument("--json", type=Path, help="write the rows (and the CPU) here")
    ap.add_argument("--plot", type=Path, help="write a PNG here")
    ap.add_argument("--shipped", type=int, help="mark this step as the shipped one")
    ap.add_argument("--note", default="", help="free text stored in the JSON (what the benchmark and runs are)")
    args = ap.parse_args(argv)
    try:
        rows = read_rows(args.evals)
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for r in rows:
        print(" ".join(f"{k}={v}" for k, v in r.items()))
    if args.json:
        doc = {"note": args.note, "shipped_step": args.shipped, "cpu": cpu_description(), "rows": rows}
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    if args.plot:
        plot(rows, args.plot, args.shipped)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
