"""``train_layers``: the named layers learn, every other one stays exactly as loaded (weights and batch-norm
statistics), and a full run's checkpoint resumes into a partial run."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("yaml")

from superpoint_rt.train.config import DataConfig, TrainConfig, load_config  # noqa: E402
from superpoint_rt.train.trainer import Trainer, layer_of  # noqa: E402

HEAD = ("convPa", "convPb")


def _config(data: DataConfig, steps: int, layers: tuple[str, ...] = ()) -> TrainConfig:
    return TrainConfig(
        stage="superpoint", batch_size=2, max_steps=steps, lr=1e-3, checkpoint_every=1, keep_every=0, log_every=1,
        val_every=0, torch_threads=1, precision="fp32", channels_last=False, data=data, train_layers=layers,
        lambda_shift=1.0, shift_loss="centroid", lambda_warp=0.5,
    )  # fmt: skip


def _state(tr: Trainer) -> dict[str, np.ndarray]:
    return {k: v.detach().clone().numpy() for k, v in tr.net.state_dict().items()}


def test_layer_of_maps_batch_norm_to_its_convolution() -> None:
    assert layer_of("bnPa.running_mean") == "convPa"
    assert layer_of("conv3b.weight") == "conv3b"
    assert layer_of("bn1a.num_batches_tracked") == "conv1a"


def test_only_the_named_layers_change(tmp_path: Path, labelled_images: Callable[..., DataConfig]) -> None:
    data = labelled_images(tmp_path, 3, seed=2)
    tr = Trainer(_config(data, 3, HEAD), tmp_path / "head", progress=False)
    before = _state(tr)
    probe = torch.from_numpy(np.random.default_rng(0).uniform(0, 1, (1, 1, 32, 40)).astype(np.float32))
    tr.net.eval()
    with torch.no_grad():
        desc_before = tr.net(probe)[1].clone()
    tr.run()
    after = _state(tr)
    changed = {layer_of(k) for k in before if not np.array_equal(before[k], after[k])}
    assert changed == set(HEAD)  # the encoder's and descriptor head's weights and BN statistics are untouched
    for k in ("bnPa.running_mean", "convPb.weight"):
        assert not np.array_equal(before[k], after[k])
    tr.net.eval()
    with torch.no_grad():
        np.testing.assert_array_equal(tr.net(probe)[1].numpy(), desc_before.numpy())  # the descriptors as loaded
    tr.stage_model.train()  # frozen batch norm stays in eval mode while the rest trains
    assert tr.net.bnPa.training and not tr.net.bn1a.training and not tr.net.bnDb.training


def test_full_checkpoint_resumes_into_a_partial_run(tmp_path: Path, labelled_images: Callable[..., DataConfig]) -> None:
    data = labelled_images(tmp_path, 3, seed=3)
    full = _config(data, 2)
    Trainer(full, tmp_path / "run", progress=False).run()  # all layers, 2 steps: Adam state for every parameter
    partial = dataclasses.replace(full, max_steps=4, train_layers=HEAD)
    tr = Trainer(partial, tmp_path / "run", resume=True, progress=False)
    params = dict(tr.net.named_parameters())
    adam_before = {n: tr.optimizer.state[p]["exp_avg"].clone() for n, p in params.items()}
    before = _state(tr)
    tr.run()
    assert tr.step == 4
    after = _state(tr)
    assert {layer_of(k) for k in before if not np.array_equal(before[k], after[k])} == set(HEAD)
    for name, p in params.items():  # the frozen layers' Adam moments stay as the full run left them
        moved = not torch.equal(tr.optimizer.state[p]["exp_avg"], adam_before[name])
        assert moved == (layer_of(name) in HEAD), name


def test_train_layers_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown layer 'convX'"):
        TrainConfig(stage="superpoint", train_layers=("convPa", "convX"))
    with pytest.raises(ValueError, match="twice"):
        TrainConfig(stage="superpoint", train_layers=("convPa", "convPa"))
    with pytest.raises(ValueError, match="nothing left to train"):
        Trainer(TrainConfig(stage="magicpoint", train_layers=("convDa",), torch_threads=1), tmp_path, progress=False)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("stage: superpoint\ntrain_layers: [convPa, convPb]\n")
    assert load_config(cfg).train_layers == HEAD
