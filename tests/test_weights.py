"""Weights: the original release's format round-trips; strict loading names every problem; corrupt files fail
clearly."""

from __future__ import annotations

import numpy as np
import pytest

from superpoint_rt.network_spec import CONV_LAYERS, expected_state_dict_shapes
from superpoint_rt.weights import (
    PACKAGED_WEIGHTS,
    NoDefaultWeightsError,
    WeightsError,
    check_state_dict,
    load_weights,
    random_weights,
    save_npz,
)

torch = pytest.importorskip("torch")


def test_expected_keys_are_the_original_release_keys():
    # The original release (superpoint_v1.pth): 12 convolutions named conv1a..conv4b, convPa/Pb, convDa/Db.
    names = [n for n, *_ in CONV_LAYERS]
    assert names == [
        "conv1a", "conv1b", "conv2a", "conv2b", "conv3a", "conv3b",
        "conv4a", "conv4b", "convPa", "convPb", "convDa", "convDb",
    ]  # fmt: skip
    shapes = expected_state_dict_shapes()
    assert shapes["conv1a.weight"] == (64, 1, 3, 3)
    assert shapes["convPb.weight"] == (65, 256, 1, 1)
    assert shapes["convDb.weight"] == (256, 256, 1, 1)
    assert len(shapes) == 24


def test_original_format_pth_round_trip(tmp_path):
    from superpoint_rt.network import SuperPointNet

    net = SuperPointNet()
    path = tmp_path / "superpoint_v1.pth"
    torch.save(net.state_dict(), path)  # exactly the original release's layout: a plain state dict
    w = load_weights(path)
    assert w.meta["convention"] == "magicleap"
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(w.state_dict[k], v.numpy())
    # and back into a fresh network, strictly
    net2 = SuperPointNet()
    net2.load_state_dict({k: torch.from_numpy(v) for k, v in w.state_dict.items()}, strict=True)


def test_npz_round_trip(tmp_path):
    w = random_weights(3)
    w.meta["stage"] = "unit-test"
    p = save_npz(w, tmp_path / "w.npz")
    w2 = load_weights(p)
    assert w2.meta["stage"] == "unit-test"
    assert w2.fingerprint == w.fingerprint


def test_training_format_with_batch_norm_is_folded(tmp_path):
    from superpoint_rt.network import SuperPointNet

    net = SuperPointNet(batch_norm=True)
    # non-trivial BN statistics
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    net.eval()
    torch.save({"state_dict": net.state_dict(), "meta": {"convention": "center"}}, tmp_path / "t.pth")
    w = load_weights(tmp_path / "t.pth")
    plain = SuperPointNet()
    plain.load_state_dict({k: torch.from_numpy(v) for k, v in w.state_dict.items()})
    plain.eval()
    x = torch.rand(1, 1, 32, 48)
    with torch.no_grad():
        a, b = net(x)
        c, d = plain(x)
    assert torch.allclose(a, c, atol=1e-4)
    assert torch.allclose(b, d, atol=1e-4)


def test_training_checkpoint_loads_folded(tmp_path):
    # `--weights train_runs/.../checkpoints/last.pt` (model + optimizer + NumPy RNG state): folded BN network
    pytest.importorskip("yaml")
    from superpoint_rt.network import SuperPointNet
    from superpoint_rt.train.config import DataConfig, TrainConfig
    from superpoint_rt.train.trainer import Trainer

    cfg = TrainConfig(batch_size=2, max_steps=1, keep_every=0, val_every=0, torch_threads=1, precision="fp32",
                      channels_last=False, data=DataConfig(height=32, width=40, num_workers=0))  # fmt: skip
    tr = Trainer(cfg, tmp_path / "run", progress=False)
    tr.run()
    w = load_weights(tmp_path / "run" / "checkpoints" / "last.pt")
    assert w.meta["step"] == 1 and w.meta["stage"] == "magicpoint" and w.meta["convention"] == "center"
    plain = SuperPointNet()
    plain.load_state_dict({k: torch.from_numpy(v) for k, v in w.state_dict.items()})
    bn_net = tr.net.eval()  # the oracle: PyTorch's own batch norm with the running statistics
    x = torch.rand(1, 1, 32, 48)
    with torch.no_grad():
        (a, b), (c, d) = bn_net(x), plain.eval()(x)
    torch.testing.assert_close(c, a, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(d, b, atol=1e-4, rtol=1e-4)
    # only NumPy's array types are let through: any other global in the pickle is still refused
    import datetime

    state = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
    state["when"] = datetime.datetime(2026, 1, 1)
    torch.save(state, tmp_path / "odd.pt")
    with pytest.raises(WeightsError, match="corrupt or not a state dict"):
        load_weights(tmp_path / "odd.pt")


def test_strict_loading_names_missing_unexpected_and_misshaped():
    sd = {k: np.zeros(s, np.float32) for k, s in expected_state_dict_shapes().items()}
    del sd["conv1a.bias"]
    sd["extra.weight"] = np.zeros(3, np.float32)
    sd["convDb.weight"] = np.zeros((128, 256, 1, 1), np.float32)
    with pytest.raises(WeightsError) as e:
        check_state_dict(sd, "x")
    msg = str(e.value)
    assert "conv1a.bias" in msg and "extra.weight" in msg and "convDb.weight" in msg


def test_nan_weights_rejected():
    sd = {k: np.zeros(s, np.float32) for k, s in expected_state_dict_shapes().items()}
    sd["conv2a.weight"][0, 0, 0, 0] = np.nan
    with pytest.raises(WeightsError, match="NaN"):
        check_state_dict(sd)


@pytest.mark.parametrize("suffix", [".pth", ".npz", ".onnx", ".bin"])
def test_corrupt_files_raise_weights_error(tmp_path, suffix):
    p = tmp_path / f"bad{suffix}"
    p.write_bytes(b"PK\x03\x04 this is not a real archive" * 10)
    with pytest.raises(WeightsError):
        load_weights(p)


def test_empty_and_missing_files(tmp_path):
    p = tmp_path / "empty.npz"
    p.write_bytes(b"")
    with pytest.raises(WeightsError, match="empty"):
        load_weights(p)
    with pytest.raises(FileNotFoundError):
        load_weights(tmp_path / "nope.pth")


def test_no_default_weights_is_explicit(monkeypatch, tmp_path):
    import superpoint_rt.weights as wmod

    monkeypatch.setattr(wmod, "DEFAULT_WEIGHTS", tmp_path / "none.npz")
    with pytest.raises(NoDefaultWeightsError, match="no default weights"):
        load_weights(None)


def test_random_weights_warn():
    with pytest.warns(UserWarning, match="RANDOM"):
        load_weights("random")


def test_download_offline_is_a_clear_error(tmp_path):
    from superpoint_rt.weights import download_original_weights

    with pytest.raises(ConnectionError, match=r"offline|cannot download"):
        download_original_weights(cache_dir=tmp_path, url="http://127.0.0.1:9/superpoint_v1.pth", timeout=2)


def test_download_checksum_mismatch(tmp_path):
    from superpoint_rt.network import SuperPointNet
    from superpoint_rt.weights import download_original_weights

    torch.save(SuperPointNet().state_dict(), tmp_path / "superpoint_v1.pth")  # "already downloaded"
    with pytest.raises(WeightsError, match="SHA-256"):
        download_original_weights(cache_dir=tmp_path, sha256="0" * 64)
    # structurally valid and no pinned hash: accepted, and the hash is recorded for next time
    assert download_original_weights(cache_dir=tmp_path, sha256=None).exists()
    assert (tmp_path / "superpoint_v1.pth.sha256").exists()


def test_packaged_names(monkeypatch, tmp_path):
    import superpoint_rt.weights as wmod

    p = save_npz(random_weights(5), tmp_path / "interim.npz")
    monkeypatch.setitem(wmod.PACKAGED_WEIGHTS, "magicpoint-interim", p)
    assert load_weights("magicpoint-interim").fingerprint == random_weights(5).fingerprint
    monkeypatch.setitem(wmod.PACKAGED_WEIGHTS, "magicpoint-interim", tmp_path / "absent.npz")
    with pytest.raises(NoDefaultWeightsError, match="not in this installation"):
        load_weights("magicpoint-interim")


def test_versioned_names_load_their_weights() -> None:
    """``superpoint-rt-v1`` is the step-4648 release (the first default), ``superpoint-rt-v2`` step 12843,
    ``superpoint-rt-v3`` step 18761, ``superpoint-rt-v4`` step 23373, ``superpoint-rt-v5`` step 30766,
    ``superpoint-rt-v6`` step 32250, ``superpoint-rt-v7`` step 35129, ``superpoint-rt-v8`` step 36723,
    ``superpoint-rt-v9`` step 39205 (the default before v10), ``superpoint-rt-v10`` the default (step 40858); each
    carries its own INT8 IR, tied to it by fingerprint (v3's to v10's keep the detector head in float)."""
    from superpoint_rt.backends.auto import guarded_int8_model

    names = tuple(f"superpoint-rt-v{i}" for i in range(1, 11))
    if not all(PACKAGED_WEIGHTS[n].exists() for n in names):
        pytest.skip("this installation ships no default weights")
    versions = [load_weights(n) for n in names]
    default = load_weights(None)
    steps = (4648, 12843, 18761, 23373, 30766, 32250, 35129, 36723, 39205, 40858)
    assert tuple(w.meta.get("step") for w in versions) == steps
    assert versions[-1].fingerprint == default.fingerprint == load_weights("superpoint-rt").fingerprint
    assert len({w.fingerprint for w in versions}) == len(names)
    irs = [f"superpoint_rt_v{i}_int8.xml" for i in range(1, 10)] + ["superpoint_rt_int8.xml"]
    for w, ir in zip(versions, irs, strict=True):
        path, why = guarded_int8_model(w)
        assert path is not None and path.endswith(ir), why


def test_shipped_default_files_agree() -> None:
    """The default .npz, its ONNX export and its INT8 IR describe one network (fingerprints, outputs)."""
    import json

    import onnxruntime as ort

    from superpoint_rt.export import build_onnx
    from superpoint_rt.weights import DEFAULT_WEIGHTS

    if not DEFAULT_WEIGHTS.exists():
        pytest.skip("this installation ships no default weights")
    w = load_weights(None)
    assert w.meta["name"] == "superpoint-rt" and w.meta["stage"] == "superpoint"
    # each shipped IR carries the metadata of the weights it was quantised from (rt_info): the shipped file's, not a
    # draft's; v10's (the default) keeps the detector head in float (its sidecar says so), as v9's to v3's do, and its
    # first convolution too
    import html
    import re

    shipped_irs = (
        (w, "superpoint_rt_int8"),
        (load_weights("superpoint-rt-v9"), "superpoint_rt_v9_int8"),
        (load_weights("superpoint-rt-v8"), "superpoint_rt_v8_int8"),
        (load_weights("superpoint-rt-v7"), "superpoint_rt_v7_int8"),
        (load_weights("superpoint-rt-v6"), "superpoint_rt_v6_int8"),
        (load_weights("superpoint-rt-v5"), "superpoint_rt_v5_int8"),
        (load_weights("superpoint-rt-v4"), "superpoint_rt_v4_int8"),
        (load_weights("superpoint-rt-v3"), "superpoint_rt_v3_int8"),
        (load_weights("superpoint-rt-v2"), "superpoint_rt_v2_int8"),
    )
    for weights, stem in shipped_irs:
        side = json.loads(DEFAULT_WEIGHTS.with_name(stem + ".json").read_text())
        assert side["weights_fingerprint"] == weights.fingerprint
        xml = DEFAULT_WEIGHTS.with_name(stem + ".xml").read_text()
        found = re.search(r'<superpoint_rt value="([^"]*)"', xml)
        assert found is not None, "the INT8 IR lacks the weights' metadata"
        ir_meta = json.loads(html.unescape(found.group(1)))
        for key in ("name", "step", "licence", "note"):
            assert ir_meta.get(key) == weights.meta.get(key), key

    def kept_float(stem: str) -> list[str]:
        return json.loads(DEFAULT_WEIGHTS.with_name(stem + ".json").read_text())["kept_float"]

    # v10's IR keeps its first convolution in float too (quantised, it cost NN mAP and the bundled set's ε=3)
    assert kept_float("superpoint_rt_int8") == ["conv1a", "convPa", "convPb"]
    for stem in (f"superpoint_rt_v{i}_int8" for i in range(3, 10)):
        assert kept_float(stem) == ["convPa", "convPb"], stem
    x = np.random.default_rng(0).random((1, 1, 64, 80), dtype=np.float32)
    shipped = ort.InferenceSession(str(DEFAULT_WEIGHTS.with_suffix(".onnx")), providers=["CPUExecutionProvider"])
    built = ort.InferenceSession(build_onnx(w).SerializeToString(), providers=["CPUExecutionProvider"])
    for a, b in zip(shipped.run(None, {"image": x}), built.run(None, {"image": x}), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_batch_norm_names_round_trip_every_layer() -> None:
    from superpoint_rt.network_spec import batch_norm_name, conv_name

    for name, *_ in CONV_LAYERS:
        bn = batch_norm_name(name)
        assert bn.startswith("bn") and bn[2:] == name[4:]
        assert conv_name(bn) == name and conv_name(name) == name
    with pytest.raises(ValueError, match="not a convolution"):
        batch_norm_name("bnPa")
