"""scripts/warp_centroid_stats.py: statistics against hand-worked distances, and one CLI run against the term."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("yaml")

from script_loader import load_script  # noqa: E402


def test_summarise_by_hand() -> None:
    mod = load_script("warp_centroid_stats")
    d = np.array([0.2, 0.5, 0.9, 1.5, 2.5, 3.5])
    row = mod.summarise(d, [4, 2])
    assert row["pairs"] == 6 and row["pairs_per_image"] == 3.0
    assert row["median_px"] == pytest.approx(1.2)
    assert (row["within_0.5px"], row["within_1px"], row["within_2px"]) == pytest.approx((2 / 6, 3 / 6, 4 / 6))
    assert row["term_px2"] == pytest.approx(np.mean(np.array([0.2, 0.5, 0.9, 1.5, 2.5]) ** 2))  # 3.5 px is cut


def test_cli_on_a_tiny_labelled_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, labelled_images: Callable[..., Any]
) -> None:
    from superpoint_rt.network import SuperPointNet
    from superpoint_rt.train.config import TrainConfig, save_config
    from superpoint_rt.train.pairs import PairBatches
    from superpoint_rt.train.warp_centroid import warp_centroid_errors

    mod = load_script("warp_centroid_stats")
    data = labelled_images(tmp_path, 2, seed=2, size=(40, 48))
    cfg = TrainConfig(stage="superpoint", data=data)
    save_config(cfg, tmp_path / "c.yaml")
    torch.manual_seed(0)
    net = SuperPointNet(batch_norm=True)
    torch.save({"model": net.state_dict()}, tmp_path / "ck.pt")
    out = tmp_path / "s.json"
    argv = ["x", "--config", str(tmp_path / "c.yaml"), "--checkpoint", f"A={tmp_path / 'ck.pt'}", "--batches", "1"]
    monkeypatch.setattr(sys, "argv", [*argv, "--pairs", "2", "--json", str(out)])
    assert mod.main() == 0
    r = json.loads(out.read_text())["results"]["A"]
    b = PairBatches(data, 2, cfg.val_seed).batch(0)  # the script's pairs: the validation seed's first batch
    with torch.no_grad():
        logits, _ = net.eval()(torch.cat([b["image"], b["warped_image"]]))
        d = np.sqrt(warp_centroid_errors(logits[:2], logits[2:], b["homography"], b["warped_cell_valid"]).numpy())
    assert r["pairs"] == len(d) > 0 and r["pairs_per_image"] == len(d) / 2
    assert r["median_px"] == pytest.approx(float(np.median(d)))
    assert r["term_px2"] == pytest.approx(float(np.mean(d[d <= 3.0] ** 2)))
    monkeypatch.setattr(sys, "argv", ["x", "--config", str(tmp_path / "c.yaml"), "--checkpoint", "no-equals-sign"])
    with pytest.raises(SystemExit):
        mod.main()
