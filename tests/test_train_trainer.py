"""Trainer: the loss goes down on a fixed batch; resume continues at the exact step; export; CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("yaml")

from superpoint_rt.network import SuperPointNet, expected_state_dict_shapes  # noqa: E402
from superpoint_rt.train.config import DataConfig, TrainConfig, load_config, save_config  # noqa: E402
from superpoint_rt.train.trainer import Trainer, detection_metrics, logits_to_heatmap  # noqa: E402


def _tiny(**kw: object) -> TrainConfig:
    data = DataConfig(height=32, width=40, num_workers=0)
    base = dict(
        batch_size=3, max_steps=4, checkpoint_every=2, keep_every=0, log_every=1, val_every=0,
        torch_threads=1, precision="fp32", channels_last=False, data=data, seed=3,
    )  # fmt: skip
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_loss_decreases_on_a_fixed_batch(tmp_path: Path) -> None:
    tr = Trainer(_tiny(lr=3e-3), tmp_path, progress=False)
    from superpoint_rt.train.data import SyntheticShapesBatches

    batch = SyntheticShapesBatches(tr.cfg.data, 4, seed=0).batch(0)
    losses = [tr.train_step(batch)[0] for _ in range(8)]
    assert losses[-1] < 0.7 * losses[0]
    assert tr.step == 8


def test_resume_continues_exactly(tmp_path: Path) -> None:
    ref: list[tuple[int, float]] = []
    Trainer(_tiny(), tmp_path / "a", progress=False).run(on_step=lambda s, v: ref.append((s, v)))
    part: list[tuple[int, float]] = []
    Trainer(_tiny(), tmp_path / "b", max_steps=2, progress=False).run(on_step=lambda s, v: part.append((s, v)))
    tr = Trainer(_tiny(), tmp_path / "b", resume=True, progress=False)
    assert tr.step == 2
    tr.run(on_step=lambda s, v: part.append((s, v)))
    assert [s for s, _ in part] == [1, 2, 3, 4]
    np.testing.assert_allclose([v for _, v in part], [v for _, v in ref], rtol=1e-6)
    rows = (tmp_path / "b" / "train_log.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4"]
    with pytest.raises(FileNotFoundError):
        Trainer(_tiny(), tmp_path / "missing", resume=True, progress=False)


def test_export_is_plain_and_matches_eval_network(tmp_path: Path) -> None:
    tr = Trainer(_tiny(max_steps=2), tmp_path, progress=False)
    tr.run()
    obj = torch.load(tmp_path / "export" / "weights.pth", map_location="cpu")
    assert set(obj["state_dict"]) == set(expected_state_dict_shapes())
    assert obj["meta"]["stage"] == "magicpoint" and obj["meta"]["step"] == 2
    assert obj["meta"]["convention"] == "center"
    plain = SuperPointNet()
    plain.load_state_dict(obj["state_dict"])
    x = torch.rand(1, 1, 32, 40)
    tr.net.eval()
    with torch.no_grad():
        a = tr.net(x)[0]
        b = plain.eval()(x)[0]
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4, rtol=1e-4)
    assert (tmp_path / "loss_curve.png").is_file()


def test_validation_metrics_hand_case() -> None:
    logits = torch.full((1, 65, 2, 2), -10.0)
    logits[:, 64] = 10.0
    logits[0, 9, 0, 0] = 20.0  # a detection at (x=1, y=1)
    heat = logits_to_heatmap(logits)
    assert heat.shape == (1, 16, 16) and float(heat[0, 1, 1]) > 0.99
    kmap = torch.zeros(1, 16, 16, dtype=torch.uint8)
    kmap[0, 2, 3] = 1  # within 3 px: found
    kmap[0, 12, 12] = 1  # missed
    assert detection_metrics(heat, kmap, 0.5, 4, 3) == (1, 1, 1, 2)


def test_config_yaml_roundtrip_and_errors(tmp_path: Path) -> None:
    cfg = _tiny()
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg
    (tmp_path / "bad.yaml").write_text("stage: magicpoint\nbogus: 1\n")
    with pytest.raises(ValueError, match="bogus"):
        load_config(tmp_path / "bad.yaml")
    with pytest.raises(ValueError):
        TrainConfig(stage="nope")
    repo_cfg = Path(__file__).resolve().parents[1] / "configs" / "magicpoint.yaml"
    if repo_cfg.is_file():
        assert load_config(repo_cfg).stage == "magicpoint"


def test_config_base_merges_and_rejects_cycles(tmp_path: Path) -> None:
    save_config(_tiny(), tmp_path / "parent.yaml")
    (tmp_path / "child.yaml").write_text("base: parent.yaml\nlr: 0.5\ndata:\n  homography:\n    max_angle: 0.25\n")
    parent, child = load_config(tmp_path / "parent.yaml"), load_config(tmp_path / "child.yaml")
    assert child.lr == 0.5 and child.data.homography.max_angle == 0.25
    # everything not named in the child comes from the parent, nested sections included
    assert child.data.homography.patch_ratio == parent.data.homography.patch_ratio
    assert child.data.height == parent.data.height and child.batch_size == parent.batch_size
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ValueError, match="cycle"):
        load_config(tmp_path / "a.yaml")


def test_cli_parses(tmp_path: Path) -> None:
    import argparse

    from superpoint_rt.train.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", "magicpoint", "--run-dir", str(tmp_path), "--max-steps", "3", "--resume"])
    assert args.max_steps == 3 and args.resume and callable(args.func)
