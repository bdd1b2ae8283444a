"""DistributedDataParallel on the CPU (gloo): ``torchrun --nproc-per-node 2 -m superpoint_rt.train ...``.

Oracle: a single process that computes each rank's gradient on that rank's batch (global batch
``step * world + rank``), averages them (what DDP's all-reduce does) and takes the Adam step itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("yaml")
if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
    pytest.skip("this torch build has no gloo backend", allow_module_level=True)

from superpoint_rt.train.config import DataConfig, TrainConfig, save_config  # noqa: E402
from superpoint_rt.train.data import SyntheticShapesBatches  # noqa: E402
from superpoint_rt.train.trainer import Trainer  # noqa: E402

WORLD = 2
STEPS = 2


def _config() -> TrainConfig:
    data = DataConfig(height=32, width=40, num_workers=0)
    return TrainConfig(
        batch_size=2, max_steps=STEPS, checkpoint_every=1, keep_every=0, log_every=1, val_every=0, lr=1e-3,
        lr_schedule=((1, 5e-4),), torch_threads=1, precision="fp32", channels_last=False, data=data, seed=5,
    )  # fmt: skip


def _torchrun(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={WORLD}"]
    cmd += ["-m", "superpoint_rt.train", *args, "--no-progress"]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def _oracle(cfg: TrainConfig, run_dir: Path, steps: int) -> dict[str, torch.Tensor]:
    tr = Trainer(cfg, run_dir, progress=False)  # one process: WORLD_SIZE unset
    assert not tr.distributed
    params = [p for p in tr.net.parameters() if p.requires_grad]
    for step in range(steps):
        grads = [torch.zeros_like(p) for p in params]
        for rank in range(WORLD):
            batch = SyntheticShapesBatches(cfg.data, cfg.batch_size, cfg.seed, rank=rank, world=WORLD).batch(step)
            tr.model.train()
            tr.optimizer.zero_grad(set_to_none=True)
            loss, _ = tr.compute_loss(batch)
            loss.backward()
            for g, p in zip(grads, params, strict=True):
                assert p.grad is not None
                g += p.grad / WORLD
        for g, p in zip(grads, params, strict=True):
            p.grad = g
        for group in tr.optimizer.param_groups:
            group["lr"] = cfg.lr_at(step)
        tr.optimizer.step()
    return {k: v.detach().clone() for k, v in tr.net.named_parameters()}


def test_torchrun_two_processes_average_gradients_and_resume(tmp_path: Path) -> None:
    cfg = _config()
    save_config(cfg, tmp_path / "tiny.yaml")
    run = tmp_path / "run"
    # first 1 step, then resume under torchrun for the second: checkpoint/resume across processes
    for extra in (["--max-steps", "1"], ["--resume"]):
        proc = _torchrun(["magicpoint", "--config", "tiny.yaml", "--run-dir", str(run), *extra], tmp_path)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    state = torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
    assert state["step"] == STEPS
    rows = (run / "train_log.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2"]  # rank 0 alone writes the log, once per step
    assert [float(r.split(",")[2]) for r in rows[1:]] == [1e-3, 5e-4]

    expected = _oracle(cfg, tmp_path / "oracle", STEPS)
    init = Trainer(cfg, tmp_path / "init", progress=False).net.state_dict()
    for name, want in expected.items():
        got = state["model"][name]
        torch.testing.assert_close(got, want, rtol=1e-4, atol=2e-6, msg=lambda m, n=name: f"{n}: {m}")
    # and the run really moved the weights (the comparison is not between two untouched copies)
    moved = max(float((state["model"][k] - init[k]).abs().max()) for k in expected)
    assert moved > 5e-4
