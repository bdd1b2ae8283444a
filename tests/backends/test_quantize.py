"""INT8 post-training quantisation (OpenVINO + NNCF): the IR runs, stays near FP32, and is tied to its weights."""

from __future__ import annotations

import json
import warnings

import cv2
import numpy as np
import pytest

pytest.importorskip("nncf", reason="nncf is in the test extra; INT8 quantisation needs it")

from superpoint_rt import quantize as qmod
from superpoint_rt.weights import WeightsError, random_weights, save_npz


def _calibration(tmp_path, n: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    files = []
    for i in range(n):
        img = cv2.GaussianBlur(rng.integers(0, 256, (96, 128), dtype=np.uint8), (0, 0), 2.0)
        f = tmp_path / f"c{i}.png"
        cv2.imwrite(str(f), img)
        files.append(f)
    assert qmod.calibration_files(str(tmp_path), 2) == [files[0], files[2]]  # first and last of three
    return qmod.calibration_batches(files, (64, 80), crops_per_image=1)


def test_calibration_files_spread_over_sets(tmp_path) -> None:
    # two "sets" of five photos each: 4 of 10 evenly spaced are indices 0, 3, 6, 9 (round(i * 9 / 3))
    files = []
    for d in ("a_set", "b_set"):
        (tmp_path / d).mkdir()
        for i in range(5):
            f = tmp_path / d / f"{i}.png"
            cv2.imwrite(str(f), np.zeros((8, 8), np.uint8))
            files.append(f)
    picked = qmod.calibration_files(str(tmp_path), 4)
    assert picked == [files[0], files[3], files[6], files[9]]
    assert {p.parent.name for p in picked} == {"a_set", "b_set"}
    assert qmod.calibration_files(str(tmp_path), 50) == files
    with pytest.raises(ValueError, match="max_images"):
        qmod.calibration_files(str(tmp_path), 0)


@pytest.fixture(scope="module")
def int8_ir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("q")
    w = random_weights(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = qmod.quantize_openvino(w, _calibration(tmp), tmp / "sp_int8.xml")
    return w, out


def test_quantised_ir_close_to_fp32(int8_ir) -> None:
    from superpoint_rt.backends.openvino_engine import OpenVINOEngine

    w, path = int8_ir
    assert path.is_file() and path.with_suffix(".bin").is_file()
    side = json.loads(qmod.int8_sidecar(path).read_text())
    assert side["weights_fingerprint"] == w.fingerprint and side["calibration_inputs"] == 3
    x = cv2.GaussianBlur(np.random.default_rng(1).random((64, 80), np.float32), (0, 0), 1.5)[None, None]
    ref_logits, ref_desc = OpenVINOEngine(w, "fp32").run(x)
    q_logits, q_desc = OpenVINOEngine(w, "int8", model_path=str(path)).run(x)
    assert q_logits.shape == ref_logits.shape and q_desc.shape == ref_desc.shape
    assert np.isfinite(q_logits).all() and np.isfinite(q_desc).all()
    # INT8 is an approximation: the outputs correlate strongly with FP32 (a wrong graph would not)
    corr = np.corrcoef(ref_desc.ravel(), q_desc.ravel())[0, 1]
    assert corr > 0.95


def test_int8_model_tied_to_its_weights(int8_ir) -> None:
    w, path = int8_ir
    assert qmod.check_int8_model(path, w) == path
    with pytest.raises(WeightsError, match="quantised from other weights"):
        qmod.check_int8_model(path, random_weights(4))
    with pytest.raises(WeightsError, match="not found"):
        qmod.check_int8_model(path.with_name("absent.xml"), w)


def test_api_uses_ir_shipped_beside_packaged_weights(int8_ir, tmp_path, monkeypatch) -> None:
    from superpoint_rt.api import SuperPoint
    from superpoint_rt.backends.base import BackendUnavailableError

    w, path = int8_ir
    npz = save_npz(w, tmp_path / "mine.npz")
    ir = tmp_path / "mine_int8.xml"
    ir.write_bytes(path.read_bytes())
    ir.with_suffix(".bin").write_bytes(path.with_suffix(".bin").read_bytes())
    qmod.int8_sidecar(ir).write_text(qmod.int8_sidecar(path).read_text())
    monkeypatch.setattr(qmod, "PACKAGE_WEIGHTS_DIR", tmp_path)
    sp = SuperPoint(str(npz), backend="openvino", precision="int8")
    assert sp.precision == "int8"
    f = sp(np.zeros((64, 80), np.uint8))
    assert f.descriptors.shape[1] == 256
    # not packaged: precision int8 without an IR is a clear error
    monkeypatch.setattr(qmod, "PACKAGE_WEIGHTS_DIR", tmp_path / "elsewhere")
    with pytest.raises(BackendUnavailableError, match="int8_model"):
        SuperPoint(str(npz), backend="openvino", precision="int8")
    # an IR from other weights is refused
    other = save_npz(random_weights(5), tmp_path / "other.npz")
    with pytest.raises(WeightsError, match="other weights"):
        SuperPoint(str(other), backend="openvino", precision="int8", int8_model=str(ir))


def _quantised(xml_path, layer: str) -> bool:
    """Whether the convolution of ``layer`` in an OpenVINO IR reads a FakeQuantize activation or INT8 weights
    (OpenVINO names it ``<layer>/WithoutBiases``; NNCF names the weight decompression ``.../fq_weights_*``)."""
    import xml.etree.ElementTree as ET

    root = ET.parse(xml_path).getroot()
    layers = {lay.get("id"): lay for lay in root.iter("layer")}
    (conv,) = [i for i, lay in layers.items() if lay.get("name") == f"{layer}/WithoutBiases"]
    inputs = [layers[e.get("from-layer")] for e in root.iter("edge") if e.get("to-layer") == conv]
    return any(i.get("type") == "FakeQuantize" or "fq_weights" in (i.get("name") or "") for i in inputs)


def test_keep_float_leaves_the_named_layers_unquantised(int8_ir, tmp_path) -> None:
    w, default_ir = int8_ir
    assert _quantised(default_ir, "convPb") and _quantised(default_ir, "convDb")  # quantised by default
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = qmod.quantize_openvino(w, _calibration(tmp_path), tmp_path / "k_int8.xml", keep_float=["convPb"])
    assert not _quantised(out, "convPb") and _quantised(out, "convDb")  # only the named layer stays float
    assert json.loads(qmod.int8_sidecar(out).read_text())["kept_float"] == ["convPb"]


def test_cli_refuses_unknown_layers(tmp_path, capsys) -> None:
    import argparse

    from superpoint_rt.apps.quantize_cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    npz = save_npz(random_weights(3), tmp_path / "w.npz")
    args = parser.parse_args(
        ["quantize", "--weights", str(npz), "--calib", str(tmp_path), "--output", str(tmp_path / "o.xml"),
         "--keep-float", "convPb", "detector"]
    )  # fmt: skip
    assert args.func(args) == 2
    assert "detector" in capsys.readouterr().err and not (tmp_path / "o.xml").exists()


def test_cli_bias_correction_is_recorded(int8_ir, tmp_path) -> None:
    import argparse

    from superpoint_rt.apps.quantize_cli import register

    _, default_ir = int8_ir
    assert json.loads(qmod.int8_sidecar(default_ir).read_text())["bias_correction"] == "fast"
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    npz = save_npz(random_weights(3), tmp_path / "w.npz")
    _calibration(tmp_path)  # writes c0..c2.png into tmp_path
    args = parser.parse_args(
        ["quantize", "--weights", str(npz), "--calib", str(tmp_path), "--output", str(tmp_path / "o.xml"),
         "--size", "64x80", "--crops", "1", "--bias-correction", "full"]
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert args.func(args) == 0
    side = json.loads(qmod.int8_sidecar(tmp_path / "o.xml").read_text())
    assert side["bias_correction"] == "full" and side["calibration_inputs"] == 3
    with pytest.raises(SystemExit):
        parser.parse_args(["quantize", "--calib", "x", "--output", "o.xml", "--bias-correction", "slow"])
