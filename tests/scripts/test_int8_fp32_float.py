"""scripts/int8_fp32_float.py: after its patch an INT8 engine runs its float parts in FP32 even on a BF16 CPU."""

from __future__ import annotations

import pytest
from script_loader import load_script

from superpoint_rt.weights import DEFAULT_WEIGHTS, load_weights


def test_int8_float_parts_run_in_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openvino")
    import superpoint_rt.backends.openvino_engine as ov_engine

    ir = DEFAULT_WEIGHTS.with_name("superpoint_rt_int8.xml")
    if not ir.exists():
        pytest.skip("this installation ships no default INT8 IR")
    # pretend the CPU has BF16 (what the engine would pick there), then apply the script's patch
    monkeypatch.setattr(ov_engine, "cpu_supports_bf16", lambda: True)
    weights = load_weights(None)
    assert ov_engine.OpenVINOEngine(weights, "int8", model_path=str(ir)).info()["inference_precision"] == "bf16"
    mod = load_script("int8_fp32_float")
    mod.force_fp32_float_parts()  # replaces the module attribute monkeypatch set; monkeypatch restores it after
    assert ov_engine.OpenVINOEngine(weights, "int8", model_path=str(ir)).info()["inference_precision"] == "f32"
