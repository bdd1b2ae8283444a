"""scripts/loss_gradient_scale.py: gradient norms against a direct autograd computation, and one CLI run."""

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


def test_encoder_grad_norm_is_the_l2_norm_over_all_params() -> None:
    mod = load_script("loss_gradient_scale")
    a = torch.tensor([3.0, 0.0], requires_grad=True)
    b = torch.tensor([[1.0]], requires_grad=True)
    loss = 2.0 * a.sum() + 6.0 * b.sum()  # gradients (2, 2) and (6): norm sqrt(4 + 4 + 36)
    assert mod.encoder_grad_norm(loss, [a, b]) == pytest.approx(np.sqrt(44.0))


def test_cli_on_a_tiny_labelled_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, labelled_images: Callable[..., Any]
) -> None:
    from superpoint_rt.network import SuperPointNet
    from superpoint_rt.train.config import TrainConfig, save_config

    mod = load_script("loss_gradient_scale")
    data = labelled_images(tmp_path, 2, seed=2, size=(40, 48))
    save_config(TrainConfig(stage="superpoint", lambda_loss=2.0, data=data), tmp_path / "c.yaml")
    torch.manual_seed(0)
    torch.save({"model": SuperPointNet(batch_norm=True).state_dict()}, tmp_path / "ck.pt")
    out = tmp_path / "s.json"
    argv = ["x", "--checkpoint", str(tmp_path / "ck.pt"), "--config", str(tmp_path / "c.yaml"), "--batches", "2"]
    monkeypatch.setattr(sys, "argv", [*argv, "--pairs", "2", "--temperatures", "0.1", "--json", str(out)])
    assert mod.main() == 0
    r = json.loads(out.read_text())
    assert len(r["batches"]) == 2
    for row in r["batches"]:
        assert set(row) == {"detector", "hinge_weighted", "softmax_t0.1"}
        assert row["hinge_weighted"]["lambda_loss"] == 2.0
        assert all(np.isfinite(v["grad_norm"]) and v["grad_norm"] > 0 for v in row.values())
    monkeypatch.setattr(sys, "argv", [*argv, "--pairs", "2", "--temperatures", "0.1", "--shift", "--json", str(out)])
    assert mod.main() == 0
    for row in json.loads(out.read_text())["batches"]:
        assert set(row) == {"detector", "hinge_weighted", "softmax_t0.1", "shift"}
        assert np.isfinite(row["shift"]["grad_norm"]) and row["shift"]["value"] >= 0
