"""What a benchmark result becomes: a JSON file, a PNG chart and a few printed lines."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .timing import STAGES


def write_results(result: dict[str, Any], out_dir: str | os.PathLike[str], name: str, chart: bool = True) -> list[Path]:
    """Write ``<name>.json`` (and ``<name>.png``) into ``out_dir`` (created if needed); returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(result, indent=1, default=_json_default) + "\n")
    paths = [path]
    if chart:
        paths.append(plot_results(result, out / f"{name}.png"))
    return paths


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def plot_results(result: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Stacked p50 stage latencies and end-to-end FPS per pipeline and configuration (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = result["records"]
    configs = sorted({(r["height"], r["width"], r["batch"]) for r in recs})
    labels = [p["label"] for p in result["pipelines"]]
    keys = [(p["pipeline"], p["backend"], p["precision"]) for p in result["pipelines"]]
    index = {
        (r["pipeline"], r["backend"], r["precision"], r["height"], r["width"], r["batch"], r["stage"]): r for r in recs
    }
    fig, axes = plt.subplots(len(configs), 2, figsize=(13, 2.4 + 1.1 * len(keys) * len(configs)), squeeze=False)
    palette = ["#999999", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]
    for row, (h, w, b) in enumerate(configs):
        ax_lat, ax_fps = axes[row]
        n = len(keys)
        height = 0.8 / n
        for j, (k, label) in enumerate(zip(keys, labels)):
            vals = [index.get((*k, h, w, b, s), {}).get("p50_ms", 0.0) for s in STAGES]
            ys = np.arange(len(STAGES)) + (j - (n - 1) / 2) * height
            bars = ax_lat.barh(ys, vals, height=height, color=palette[j % len(palette)], label=label)
            for bar, v in zip(bars, vals):
                ax_lat.text(bar.get_width(), bar.get_y() + height / 2, f" {v:.3g}", va="center", fontsize=6)
        ax_lat.set_yticks(np.arange(len(STAGES)), list(STAGES), fontsize=8)
        ax_lat.invert_yaxis()
        ax_lat.set_xscale("log")
        ax_lat.set_xlabel("p50 latency per call, ms (log)")
        ax_lat.set_title(f"{h}x{w}, batch {b}: per stage", fontsize=9)
        if row == len(configs) - 1:
            ax_lat.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
        fps = [index.get((*k, h, w, b, "e2e"), {}).get("fps", 0.0) for k in keys]
        y = np.arange(n)
        bars = ax_fps.barh(y, fps, color=[palette[j % len(palette)] for j in range(n)])
        for bar, v in zip(bars, fps):
            ax_fps.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {v:.1f}", va="center", fontsize=7)
        ax_fps.set_yticks(y, labels, fontsize=7)
        ax_fps.invert_yaxis()
        ax_fps.set_xscale("log")
        ax_fps.set_xlabel("end-to-end FPS (images/s, log)")
        ax_fps.set_title(f"{h}x{w}, batch {b}: end to end", fontsize=9)
    dev = result["device"]
    load = result["load"]["before"].get("loadavg", [])
    weights = "RANDOM weights" if result["weights"]["random"] else result["weights"]["source"]
    fig.suptitle(
        f"superpoint_rt bench: {dev.get('cpu')} ({dev.get('cpu_count')} CPUs), {weights}, load {load}", fontsize=9
    )
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def print_summary(result: dict[str, Any]) -> None:
    """Human-readable ratios, isolated post-processing times and agreement."""
    if result["weights"]["random"]:
        print(f"NOTE: {result['weights']['note']}")
    print(f"load average before/after: {result['load']['before']['loadavg']} / {result['load']['after']['loadavg']}")
    for r in result["summary"]["ratios"]:
        sp = r.get("e2e_speedup")
        pp = r.get("postprocess_speedup")
        print(
            f"{r['height']}x{r['width']} b{r['batch']} {r['backend']}:{r['precision']}"
            + (" (default)" if r["default_engine"] else "")
            + f": {r['e2e_fps']} FPS"
            + (f", e2e {sp}x and post-processing {pp}x faster than the reference" if sp is not None else "")
        )
    for res, iso in result["summary"].get("postprocess_isolated", {}).items():
        print(
            f"{res} post-processing alone (warm, same FP32 outputs): ours {iso['ours_p50_ms']} ms, reference "
            f"{iso['reference_p50_ms']} ms p50 ({iso['speedup_p50']}x)"
        )
    summary = result["summary"]
    agreements = summary.get("precision_agreement", summary.get("bf16_vs_fp32_agreement", {}))
    for res, agr in agreements.items():
        for k, v in agr.items():
            print(
                f"{res} {k}: {v['fraction_within_1px']} of FP32 keypoints within 1 px; descriptor cosine median "
                f"{v['descriptor_cosine_median']}, 1st percentile {v['descriptor_cosine_p1']}"
            )
    for r in summary.get("engine_ratios", []):
        print(
            f"{r['height']}x{r['width']} b{r['batch']} default {r['default']} vs {r['other']}: e2e "
            f"{r['e2e_speedup']}x" + (f", network {r['network_speedup']}x" if "network_speedup" in r else "")
        )
    for p, v in result.get("peak", {}).get("precisions", {}).items():
        print(f"peak {p}: {v['gflops']} GFLOP/s p50 ({v['best_probe']})")
    for r in summary.get("efficiency", []):
        if r.get("efficiency") is not None:
            print(
                f"{r['height']}x{r['width']} b{r['batch']} {r['backend']}:{r['precision']} network "
                f"{r['achieved_gflops']} GFLOP/s = {r['efficiency']} of the {r['precision']} peak"
            )
    for r in summary.get("auto_check", []):
        print(
            f"{r['height']}x{r['width']} b{r['batch']} auto ran {r['default']}; fastest {r['fastest']}"
            + ("" if r["default_is_fastest"] else f" (the default took {r['default_over_fastest_p50']}x its time)")
        )
