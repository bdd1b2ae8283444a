"""Trainer: the loss goes down on a fixed batch; resume continues at the exact step; export; CLI."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("yaml")

from superpoint_rt.network import SuperPointNet, expected_state_dict_shapes  # noqa: E402
from superpoint_rt.train.config import DataConfig, TrainConfig, load_config, save_config  # noqa: E402
from superpoint_rt.train.heatmap import detection_metrics, logits_to_heatmap  # noqa: E402
from superpoint_rt.train.trainer import Trainer  # noqa: E402


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
    repo_cfg = Path(__file__).resolve().parents[2] / "configs" / "magicpoint.yaml"
    if repo_cfg.is_file():
        assert load_config(repo_cfg).stage == "magicpoint"


def test_shipped_configs_load_and_chain_as_documented() -> None:
    configs = Path(__file__).resolve().parents[2] / "configs"
    if not configs.is_dir():
        pytest.skip("configs/ is not next to the tests (installed package)")
    loaded = {p.stem: load_config(p) for p in sorted(configs.glob("*.yaml"))}
    assert {"magicpoint", "superpoint", "superpoint_release", "superpoint_release_v2"} <= set(loaded)
    ref, interim = loaded["superpoint"], loaded["superpoint_interim"]
    release, v2 = loaded["superpoint_release"], loaded["superpoint_release_v2"]
    # the reference recipe (rpautrat/SuperPoint): batch 2, Adam 1e-4, descriptor weight 1e-4, 90 degrees
    assert (ref.batch_size, ref.lr, ref.lambda_loss, ref.data.homography.max_angle) == (2, 1e-4, 1e-4, 1.57)
    assert interim.data.homography.max_angle == 0.785 and interim.batch_size == 2
    assert (release.batch_size, release.lambda_loss) == (8, 1.0)
    assert loaded["superpoint_release_desc1e-4"].lambda_loss == 1e-4
    assert v2.data.homography.allow_artifacts and not release.data.homography.allow_artifacts
    assert v2.lr_at(4648) == 1e-4 and v2.lr_at(6000) == 3e-5  # the release run's schedule (docs/MODEL_CARD.md)
    two = loaded["superpoint_release_v2_2proc"]  # the same run as 2 processes x 4 samples
    assert (two.batch_size, two.torch_threads) == (4, 1) and two.lr_schedule == v2.lr_schedule
    v3 = loaded["superpoint_release_v3"]  # phase 3: phase 2's recipe as 2 processes, phase 2's crops + new ones
    assert v3.data.image_dir == (v2.data.image_dir, "train_data/crops_v3")
    assert v3.data.label_dir == (v2.data.label_dir, "train_runs/adapt_v3")
    assert v3.checkpoint_every == 250
    same = {"checkpoint_every": 0}
    assert dataclasses.replace(v3, data=dataclasses.replace(v3.data, image_dir=None, label_dir=None), **same) == (
        dataclasses.replace(two, data=dataclasses.replace(two.data, image_dir=None, label_dir=None), **same)
    )
    photos, v4 = loaded["superpoint_v2_photos"], loaded["superpoint_release_v4_scale"]  # weights v2: phase 4's recipe
    assert (photos.data.image_dir, photos.data.label_dir) == ("train_data/crops_photos", "train_runs/adapt_photos")
    assert photos.data.homography == v4.data.homography and photos.batch_size == v4.batch_size == 4
    assert photos.lr_at(12188) == 3e-5 and photos.lr_at(12189) == 1e-4 and photos.lr_at(14000) == 3e-5
    recipe_l, recipe_i = loaded["superpoint_v2l_shift"], loaded["superpoint_v2i_softmax"]  # L = I + the shift term
    assert recipe_l.lambda_shift == 10.0 and dataclasses.replace(recipe_l, lambda_shift=0.0) == recipe_i
    recipe_m = loaded["superpoint_v2m_centroid"]  # M = I + the centroid shift term
    assert (recipe_m.lambda_shift, recipe_m.shift_loss, recipe_l.shift_loss) == (1.0, "centroid", "heatmap")
    assert dataclasses.replace(recipe_m, lambda_shift=0.0, shift_loss="heatmap") == recipe_i
    recipe_n, recipe_o = loaded["superpoint_v2n_shift3"], loaded["superpoint_v2o_warp"]  # N: M's term x3; O: M + warp
    assert dataclasses.replace(recipe_n, lambda_shift=1.0) == recipe_m and recipe_m.lambda_warp == 0.0
    assert recipe_o.lambda_warp == 0.5 and dataclasses.replace(recipe_o, lambda_warp=0.0) == recipe_m
    recipe_p, recipe_q = loaded["superpoint_v2p_warp15"], loaded["superpoint_v2q_labels4"]  # P: O x3; Q: new labels
    assert recipe_p.lambda_warp == 1.5 and dataclasses.replace(recipe_p, lambda_warp=0.5) == recipe_o
    assert recipe_q.data.label_dir == "train_runs/adapt_photos_v9_top256"
    assert dataclasses.replace(recipe_q, data=recipe_p.data) == recipe_p
    recipe_r, recipe_s = loaded["superpoint_v2r_labels4_warp05"], loaded["superpoint_v2s_head_labels4"]
    assert dataclasses.replace(recipe_r, lambda_warp=1.5, keep_every=recipe_q.keep_every) == recipe_q  # R: Q at O's 0.5
    assert recipe_s.train_layers == ("convPa", "convPb") and not recipe_q.train_layers  # S: Q, the detector head only
    assert dataclasses.replace(recipe_s, train_layers=(), keep_every=recipe_q.keep_every) == recipe_q
    recipe_t = loaded["superpoint_v2t_labels4_desc2x"]  # T: Q with the descriptor term twice as heavy
    assert recipe_t.lambda_loss == 2 * recipe_q.lambda_loss
    assert dataclasses.replace(recipe_t, lambda_loss=recipe_q.lambda_loss) == recipe_q


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


def test_lr_schedule_parse_and_lookup(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("stage: magicpoint\nlr: 0.001\nlr_schedule: [[10, 0.0003], [20, 1.0e-4]]\n")
    cfg = load_config(tmp_path / "s.yaml")
    assert cfg.lr_schedule == ((10, 3e-4), (20, 1e-4))
    # hand-worked: updates after 0..9 completed steps use lr, 10..19 the first drop, 20.. the second
    assert [cfg.lr_at(s) for s in (0, 9, 10, 19, 20, 10**6)] == [1e-3, 1e-3, 3e-4, 3e-4, 1e-4, 1e-4]
    save_config(cfg, tmp_path / "round.yaml")
    assert load_config(tmp_path / "round.yaml") == cfg
    for bad, msg in [
        ([[10, 1e-4], [5, 1e-5]], "increase"),
        ([[10, 0.0]], "> 0"),
        ([[-1, 1e-4]], ">= 0"),
        ([[1.5, 1e-4]], "integer"),
        ([10, 1e-4], "pairs"),
    ]:
        with pytest.raises(ValueError, match=msg):
            TrainConfig(lr_schedule=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lr must be"):
        TrainConfig(lr=0.0)


def test_lr_schedule_drives_the_optimizer_and_survives_resume(tmp_path: Path) -> None:
    sched = ((2, 5e-4), (3, 2e-4))
    seen: list[float] = []
    tr = Trainer(_tiny(lr=1e-3, lr_schedule=sched), tmp_path / "a", progress=False)
    tr.run(on_step=lambda s, v: seen.append(tr.optimizer.param_groups[0]["lr"]))
    assert seen == [1e-3, 1e-3, 5e-4, 2e-4]  # lr of the updates producing steps 1, 2, 3, 4
    # a checkpoint saved at a different lr: on resume the config's schedule still decides
    Trainer(_tiny(lr=1e-2, max_steps=2), tmp_path / "b", progress=False).run()
    tr2 = Trainer(_tiny(lr=1e-3, lr_schedule=sched), tmp_path / "b", resume=True, progress=False)
    seen.clear()
    tr2.run(on_step=lambda s, v: seen.append(tr2.optimizer.param_groups[0]["lr"]))
    assert seen == [5e-4, 2e-4]


def test_cli_parses(tmp_path: Path) -> None:
    import argparse

    from superpoint_rt.apps.train_cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", "magicpoint", "--run-dir", str(tmp_path), "--max-steps", "3", "--resume"])
    assert args.max_steps == 3 and args.resume and callable(args.func)


def test_each_chunk_records_its_steps_machine_and_precision(tmp_path: Path) -> None:
    import csv

    Trainer(_tiny(), tmp_path, max_steps=2, progress=False).run()
    Trainer(_tiny(), tmp_path, resume=True, progress=False).run()
    with open(tmp_path / "chunks.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["start_step"], r["end_step"]) for r in rows] == [("0", "2"), ("2", "4")]
    assert all(r["precision"] == "fp32" and r["cpu"] and r["processes"] == "1" for r in rows)
    assert all(float(r["seconds"]) >= 0 and r["cpu_flags"] for r in rows)
    assert all(re.fullmatch(r"family \S+ model \S+", r["cpu_id"]) for r in rows)


def test_cli_precision_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--precision auto follows the CPU's native BF16 (hand-set here both ways); an explicit value wins."""
    import superpoint_rt.backends as backends
    from superpoint_rt.apps import train_cli

    seen: list[str] = []

    class FakeTrainer:
        def __init__(self, cfg: TrainConfig, *a: object) -> None:
            seen.append(cfg.precision)

        def install_stop_handlers(self) -> None: ...

        def run(self) -> int:
            return 0

    monkeypatch.setattr("superpoint_rt.train.trainer.Trainer", FakeTrainer)
    cfg = tmp_path / "m.yaml"
    cfg.write_text("stage: magicpoint\nprecision: bf16\n")
    for native, flag, want in (
        (False, "auto", "fp32"),
        (True, "auto", "bf16"),
        (False, "bf16", "bf16"),
        (True, None, "bf16"),
    ):
        monkeypatch.setattr(backends, "cpu_supports_bf16", lambda n=native: n)
        argv = ["magicpoint", "--config", str(cfg), "--run-dir", str(tmp_path / "r")]
        train_cli.main(argv + (["--precision", flag] if flag else []))
        assert seen[-1] == want


def test_resume_does_not_need_the_init_weights_file(tmp_path: Path) -> None:
    """init_weights seed a new run; a resumed run takes every weight from its checkpoint, so a config whose
    init_weights file is gone (another machine, a cleaned run folder) still resumes, to the same weights."""
    Trainer(_tiny(), tmp_path, max_steps=2, progress=False).run()
    saved = Trainer(_tiny(), tmp_path, resume=True, progress=False).net.state_dict()
    tr = Trainer(_tiny(init_weights=str(tmp_path / "gone.pt")), tmp_path, resume=True, progress=False)
    assert tr.step == 2
    for k, v in tr.net.state_dict().items():
        assert torch.equal(v, saved[k]), k
    with pytest.raises(FileNotFoundError):
        Trainer(_tiny(init_weights=str(tmp_path / "gone.pt")), tmp_path / "new", progress=False)


def test_channels_last_auto_follows_the_probe_and_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``channels_last: auto`` on the CPU takes the layout the probe measured faster (faked both ways here),
    trains in it and writes it into chunks.csv; explicit true/false never probe; other values are refused."""
    import csv

    import superpoint_rt.train.memory_format as mf

    for faster in (True, False):
        monkeypatch.setattr(mf, "probe_channels_last", lambda h, w, p, f=faster: (f, {"channels_last_s": 1.0}))
        run = tmp_path / str(faster)
        tr = Trainer(_tiny(channels_last="auto", max_steps=1), run, progress=False)
        assert tr.channels_last is faster
        assert tr.memory_format == (torch.channels_last if faster else torch.contiguous_format)
        tr.run()
        with open(run / "chunks.csv") as f:
            row = next(csv.DictReader(f))
        assert row["memory_format"] == ("channels_last" if faster else "contiguous")
        assert row["memory_probe"] == "channels_last_s=1.0"

    def boom(*a: object) -> None:
        raise AssertionError("probed although the layout was given")

    monkeypatch.setattr(mf, "probe_channels_last", boom)
    assert Trainer(_tiny(channels_last=True), tmp_path / "t", progress=False).channels_last is True
    with pytest.raises(ValueError, match="channels_last"):
        _tiny(channels_last="yes")


def test_memory_format_probe_times_both_layouts() -> None:
    from superpoint_rt.train.memory_format import probe_channels_last

    faster, times = probe_channels_last(16, 24)
    assert isinstance(faster, bool) and set(times) == {"channels_last_s", "contiguous_s"}
    assert all(t > 0 for t in times.values()) and faster == (times["channels_last_s"] < times["contiguous_s"])


def test_chunk_log_with_new_columns_keeps_old_rows(tmp_path: Path) -> None:
    """A chunks.csv written by an older version (fewer columns) gains the new columns; old rows keep their cells."""
    import csv

    path = tmp_path / "chunks.csv"
    path.write_text("started,start_step,end_step\n2026-01-01,0,2\n")
    tr = Trainer(_tiny(max_steps=1), tmp_path / "run", progress=False)
    tr._append_csv(path, {"started": "x", "start_step": 2, "end_step": 4, "memory_format": "contiguous"})
    tr._append_csv(path, {"started": "y", "start_step": 4, "end_step": 6, "memory_format": "channels_last"})
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [r["end_step"] for r in rows] == ["2", "4", "6"]
    assert [r["memory_format"] for r in rows] == ["", "contiguous", "channels_last"]


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
def test_sigterm_to_the_process_group_ends_the_chunk_with_a_checkpoint(tmp_path: Path) -> None:
    """torchrun stops a rank by SIGTERM to its process group (DataLoader workers included): the run must still
    finish its step, checkpoint, record the chunk and exit 0, as ``--time-limit`` does."""
    import csv
    import signal
    import subprocess
    import sys
    import time

    cfg = _tiny(max_steps=100000, checkpoint_every=100000)
    cfg.data.num_workers = 1  # the case torchrun's signal used to break
    save_config(cfg, tmp_path / "cfg.yaml")
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "superpoint_rt.train", "magicpoint", "--config", str(tmp_path / "cfg.yaml")]
    proc = subprocess.Popen(
        [*cmd, "--run-dir", str(run), "--no-progress"],
        start_new_session=True,  # its own process group, as torchrun starts each rank
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (run / "train_log.csv").is_file() or len((run / "train_log.csv").read_text().splitlines()) < 3:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0][-2000:]
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out[-2000:]
    with open(run / "chunks.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and int(rows[0]["end_step"]) >= 2
    state = torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
    assert state["step"] == int(rows[0]["end_step"])
