"""Checkpoints given by a user are loaded safely: a pickle that would run code (or build any object other than
tensors, plain containers and NumPy arrays) is refused with a clear error on every path that reads one (the
trainer's ``init_weights`` and resume, ``train export``, ``scripts/release_weights.py``), while real training
checkpoints (model + optimizer + RNG state with NumPy arrays) still load, resume and export."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("yaml")

from superpoint_rt.network import expected_state_dict_shapes, fold_batch_norm  # noqa: E402
from superpoint_rt.train.checkpoint import CheckpointError, load_checkpoint, load_net_state  # noqa: E402
from superpoint_rt.train.config import DataConfig, TrainConfig  # noqa: E402
from superpoint_rt.train.trainer import Trainer  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


class _RunsCode:
    """Unpickling this calls ``os.mkdir(marker)``: what a hostile file does with ``os.system`` and the like."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (self.marker,))


class _Custom:
    """An ordinary class of the caller's: harmless, but not something a checkpoint may hold either."""

    def __init__(self) -> None:
        self.value = 1


def _tiny(**kw: Any) -> TrainConfig:
    data = DataConfig(height=32, width=40, num_workers=0)
    base: dict[str, Any] = dict(
        batch_size=2, max_steps=2, checkpoint_every=1, keep_every=0, log_every=1, val_every=0,
        torch_threads=1, precision="fp32", channels_last=False, data=data, seed=5,
    )  # fmt: skip
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 2-step MagicPoint run: ``checkpoints/last.pt`` (model, Adam state, scaler, RNG state) + export."""
    d = tmp_path_factory.mktemp("run")
    Trainer(_tiny(), d, progress=False).run()
    return d


def _hostile(run: Path, out: Path, payload: object) -> Path:
    """The run's real checkpoint with one extra entry: only the payload makes it unsafe."""
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    state["extra"] = payload
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, out)
    return out


PAYLOADS = {
    "runs_code": (lambda marker: _RunsCode(marker), "mkdir"),
    "custom_class": (lambda marker: _Custom(), "_Custom"),
}


@pytest.fixture(params=sorted(PAYLOADS))
def bad(request: pytest.FixtureRequest, run: Path, tmp_path: Path) -> tuple[Path, Path, str]:
    """(hostile checkpoint, marker its payload would create, the global the error must name)."""
    make, name = PAYLOADS[request.param]
    marker = tmp_path / "pwned"
    return _hostile(run, tmp_path / "bad" / "last.pt", make(marker)), marker, name


def _refused(name: str) -> Any:
    return pytest.raises(CheckpointError, match=rf"refused to load .*{name}.*could run code")


def test_the_payload_is_live(run: Path, tmp_path: Path) -> None:
    """The marker is a real witness: the unsafe load this replaced (``weights_only=False``) runs the payload."""
    marker = tmp_path / "pwned"
    path = _hostile(run, tmp_path / "bad.pt", _RunsCode(marker))
    torch.load(path, map_location="cpu", weights_only=False)
    assert marker.is_dir()


def test_load_checkpoint_and_load_net_state_refuse(bad: tuple[Path, Path, str]) -> None:
    path, marker, name = bad
    with _refused(name):
        load_checkpoint(path)
    with _refused(name):
        load_net_state(path)
    assert not marker.exists()


def test_init_weights_refuses(bad: tuple[Path, Path, str], tmp_path: Path) -> None:
    path, marker, name = bad
    with _refused(name):
        Trainer(_tiny(init_weights=str(path)), tmp_path / "init", progress=False)
    assert not marker.exists()


def test_resume_refuses(bad: tuple[Path, Path, str], tmp_path: Path) -> None:
    path, marker, name = bad
    run_dir = tmp_path / "resumed"
    (run_dir / "checkpoints").mkdir(parents=True)
    shutil.copy(path, run_dir / "checkpoints" / "last.pt")
    with _refused(name):
        Trainer(_tiny(max_steps=3), run_dir, resume=True, progress=False)
    assert not marker.exists()


def test_cli_export_refuses(bad: tuple[Path, Path, str], run: Path, tmp_path: Path) -> None:
    from superpoint_rt.apps.train_cli import main

    path, marker, name = bad
    out = tmp_path / "w.pth"
    with _refused(name):
        main(["export", "--run-dir", str(run), "--checkpoint", str(path), "--out", str(out)])
    assert not marker.exists() and not out.exists()


def _release_main() -> Any:
    script = REPO / "scripts" / "release_weights.py"
    if not script.is_file():
        pytest.skip("scripts/ is not next to the tests (installed package)")
    spec = importlib.util.spec_from_file_location("release_weights", script)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


def test_release_weights_refuses(bad: tuple[Path, Path, str], run: Path, tmp_path: Path) -> None:
    path, marker, name = bad
    out = tmp_path / "w.npz"
    args = ["--run-dir", str(run), "--checkpoint", str(path), "--name", "t", "--out", str(out), "--no-int8"]
    with _refused(name):
        _release_main()(args)
    assert not marker.exists() and not out.exists()


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    for i, junk in enumerate([b"not a checkpoint at all", b"junk", b""]):
        (tmp_path / f"junk{i}.pt").write_bytes(junk)
        with pytest.raises(CheckpointError, match=rf"cannot load .*junk{i}.pt safely \(corrupt or not a checkpoint\)"):
            load_checkpoint(tmp_path / f"junk{i}.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


# -- real checkpoints still work ------------------------------------------------------------------------------


def test_real_checkpoint_loads_with_its_numpy_rng_state(run: Path) -> None:
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert state["step"] == 2 and state["stage"] == "magicpoint"
    kind, keys, *_ = state["rng"]["numpy"]
    assert kind == "MT19937" and isinstance(keys, np.ndarray) and keys.dtype == np.uint32 and keys.shape == (624,)
    assert state["optimizer"]["state"]  # Adam moments: the run really stepped
    assert set(load_net_state(run / "checkpoints" / "last.pt")) == set(state["model"])
    assert set(load_net_state(run / "export" / "weights.pth")) == set(expected_state_dict_shapes())


def test_real_checkpoint_resumes_and_initialises(run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "resumed"
    shutil.copytree(run, run_dir)
    saved = load_checkpoint(run / "checkpoints" / "last.pt")
    tr = Trainer(_tiny(max_steps=3), run_dir, resume=True, progress=False)
    assert tr.step == 2
    for k, v in saved["model"].items():
        torch.testing.assert_close(tr.net.state_dict()[k], v, rtol=0, atol=0)
    assert tr.optimizer.state_dict()["state"].keys() == saved["optimizer"]["state"].keys()
    np.testing.assert_array_equal(np.random.get_state()[1], saved["rng"]["numpy"][1])  # noqa: NPY002
    assert tr.run() == 3
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"] == 3
    init = Trainer(_tiny(init_weights=str(run / "checkpoints" / "last.pt")), tmp_path / "init", progress=False)
    for k, v in saved["model"].items():
        if k.startswith("conv"):
            torch.testing.assert_close(init.net.state_dict()[k], v, rtol=0, atol=0)


def test_real_checkpoint_exports_by_cli_and_release_script(run: Path, tmp_path: Path) -> None:
    from superpoint_rt.apps.train_cli import main
    from superpoint_rt.weights import load_weights

    saved = load_checkpoint(run / "checkpoints" / "last.pt")
    want = {k: v.numpy() for k, v in fold_batch_norm(saved["model"]).items()}
    assert main(["export", "--run-dir", str(run), "--out", str(tmp_path / "w.pth")]) == 0
    exported = load_checkpoint(tmp_path / "w.pth")
    assert exported["meta"]["step"] == 2 and exported["meta"]["stage"] == "magicpoint"
    assert set(exported["state_dict"]) == set(want)
    for k, v in exported["state_dict"].items():
        np.testing.assert_array_equal(v.numpy(), want[k])
    out = tmp_path / "w.npz"
    args = ["--run-dir", str(run), "--name", "t", "--out", str(out), "--no-int8"]
    assert _release_main()(args) == 0
    w = load_weights(out)
    assert w.meta["name"] == "t" and w.meta["step"] == 2 and w.meta["stage"] == "magicpoint"
    for k, v in w.state_dict.items():
        np.testing.assert_allclose(v, want[k], rtol=0, atol=0)
    # promoting the released file (as a landed candidate is): same arrays and fingerprint, new name/licence/note,
    # the step and stage it recorded
    promoted = tmp_path / "promoted.npz"
    args = ["--weights", str(out), "--name", "v", "--licence", "L", "--note", "n", "--out", str(promoted), "--no-int8"]
    assert _release_main()(args) == 0
    p = load_weights(promoted)
    assert (p.meta["name"], p.meta["licence"], p.meta["note"]) == ("v", "L", "n")
    assert p.meta["step"] == 2 and p.meta["stage"] == "magicpoint" and p.fingerprint == w.fingerprint
    # a layer the IR should keep in float must be one of the weights' layers, refused before anything is written
    typo = tmp_path / "typo.npz"
    with pytest.raises(SystemExit):
        _release_main()(["--weights", str(out), "--name", "v", "--out", str(typo), "--keep-float", "convPx"])
    assert not typo.exists()


def test_release_weights_promotion_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    release = _release_main()
    out = tmp_path / "o.npz"
    with pytest.raises(SystemExit):
        release(["--weights", str(tmp_path / "w.pth"), "--name", "v", "--out", str(out), "--no-int8"])
    assert "must be one of our .npz files" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        release(["--weights", "a.npz", "--checkpoint", "c.pt", "--name", "v", "--out", str(out)])
    assert "--checkpoint goes with --run-dir" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # both sources
        release(["--weights", "a.npz", "--run-dir", "r", "--name", "v", "--out", str(out)])
    with pytest.raises(SystemExit):
        release(["--weights", "a.npz", "--name", "v", "--out", str(out), "--no-int8", "--keep-float", "convPa"])
    assert "--keep-float describes the INT8 IR" in capsys.readouterr().err
    assert not out.exists()
