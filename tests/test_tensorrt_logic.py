"""TensorRT backend: the pure-Python decisions (no TensorRT needed), then the engine itself where TensorRT exists."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from superpoint_rt.gpu.trt_logic import (
    DEFAULT_PROFILE,
    BuildStrategy,
    EngineCache,
    EngineKey,
    GpuIdentity,
    ShapeOutOfProfileError,
    ShapeProfile,
    Version,
    build_strategy,
    engine_action,
    format_shape,
    parse_shape,
)

# ---- versions ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [("10.9.0", "10.10.0"), ("9.9", "10.0"), ("10.3.0.26", "10.3.1"), ("10.13", "11.0.0"), ("11.0.0rc1", "11.1")],
)
def test_version_numeric_order(a, b):
    assert Version.parse(a) < Version.parse(b)
    assert a > b or a < b  # string order is not what decides (e.g. "10.9.0" > "10.10.0" as strings)


def test_version_parse_forms():
    assert Version.parse("10.3.0.26").parts == (10, 3, 0, 26)
    assert Version.parse("11.0.0b2").parts == (11,)  # trailing zeros normalised
    assert Version.parse("10") == Version.parse("10.0.0")
    assert Version.parse("v10.1+cuda12").major == 10 and Version.parse("v10.1+cuda12").minor == 1
    assert str(Version.parse("10.3.0.26")) == "10.3.0.26"
    for bad in ("", "abc", "x10.1"):
        with pytest.raises(ValueError):
            Version.parse(bad)


# ---- shapes and profiles ---------------------------------------------------------------------------------------------


def test_parse_shape():
    assert parse_shape("1x480x640") == (1, 480, 640)
    assert parse_shape("8,720,1280") == (8, 720, 1280)
    assert parse_shape(" 2X240X320 ") == (2, 240, 320)
    assert parse_shape((4, 16, 8)) == (4, 16, 8)
    assert format_shape((8, 720, 1280)) == "8x720x1280"
    for bad in ("480x640", "0x480x640", "1x479x640", "1x480x0", "axbxc", "1x480x640x3", (1, 2)):
        with pytest.raises(ValueError):
            parse_shape(bad)


def test_profile_validation_and_contains():
    p = ShapeProfile.from_strings("1x240x320", "1x480x640", "8x720x1280")
    assert p == DEFAULT_PROFILE
    assert p.contains((1, 480, 640)) and p.contains((8, 720, 1280)) and p.contains((3, 240, 1280))
    assert not p.contains((9, 480, 640)) and not p.contains((1, 232, 320)) and not p.contains((1, 480, 1288))
    p.check((2, 480, 640))
    with pytest.raises(ShapeOutOfProfileError, match="outside the TensorRT engine's profile") as e:
        p.check((1, 1080, 1920))
    assert "--max-shape" in str(e.value)  # the message says how to fix it
    assert isinstance(e.value, ValueError)
    with pytest.raises(ValueError, match="min <= opt <= max"):
        ShapeProfile((1, 480, 640), (1, 240, 320), (1, 720, 1280))
    with pytest.raises(ValueError, match="batch"):
        ShapeProfile((2, 240, 320), (1, 240, 320), (4, 240, 320))
    assert p.input_shapes() == ((1, 1, 240, 320), (1, 1, 480, 640), (8, 1, 720, 1280))
    assert p.max_elements() == 8 * 720 * 1280


def test_profile_coerce():
    assert ShapeProfile.coerce(None) == DEFAULT_PROFILE
    p = ShapeProfile.coerce("1x64x64:2x128x128:4x256x256")
    assert (p.min, p.opt, p.max) == ((1, 64, 64), (2, 128, 128), (4, 256, 256))
    assert ShapeProfile.coerce(str(p)) == p
    assert ShapeProfile.coerce(((1, 64, 64), (1, 64, 64), (1, 64, 64))).max == (1, 64, 64)
    with pytest.raises(ValueError):
        ShapeProfile.coerce("1x64x64:2x128x128")


# ---- build strategy --------------------------------------------------------------------------------------------------


def test_build_strategy_per_version():
    assert build_strategy("10.3.0", "fp16") == BuildStrategy("float32", strongly_typed=False, fp16_flag=True)
    assert build_strategy("10.13.2", "fp32") == BuildStrategy("float32", strongly_typed=False, fp16_flag=False)
    # TensorRT 11: no FP16 builder flag; the FP16-typed export + strong typing
    assert build_strategy("11.0.0", "fp16") == BuildStrategy("float16", strongly_typed=True, fp16_flag=False)
    assert build_strategy("11.4.1", "fp32") == BuildStrategy("float32", strongly_typed=True, fp16_flag=False)
    assert build_strategy("12.0", "fp16").onnx_dtype == "float16"
    with pytest.raises(RuntimeError, match=">= 10"):
        build_strategy("8.6.1", "fp16")
    with pytest.raises(ValueError):
        build_strategy("10.3", "int8")


def test_fp16_onnx_export_is_typed_for_strong_typing(rand_weights):
    """The FP16 graph TensorRT 11 builds: FP16 input, FP16 convolution weights, FP32 outputs."""
    onnx = pytest.importorskip("onnx")
    from superpoint_rt.export import build_onnx

    m = build_onnx(rand_weights, dtype=build_strategy("11.0", "fp16").onnx_dtype)
    assert m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert {o.type.tensor_type.elem_type for o in m.graph.output} == {onnx.TensorProto.FLOAT}
    conv_w = [i for i in m.graph.initializer if i.name.endswith(".weight")]
    assert conv_w and all(i.data_type == onnx.TensorProto.FLOAT16 for i in conv_w)


# ---- engine cache ----------------------------------------------------------------------------------------------------

GPU = GpuIdentity("NVIDIA H100 80GB HBM3", (9, 0))


def _key(**kw):
    base = {
        "tensorrt_version": "10.3.0",
        "gpu": GPU,
        "precision": "fp16",
        "profile": DEFAULT_PROFILE,
        "onnx_hash": "0123456789abcdef",
        "strategy": build_strategy("10.3.0", "fp16"),
    }
    base.update(kw)
    return EngineKey(**base)


def test_engine_key_changes_with_every_field():
    k = _key()
    assert k.digest() == _key().digest()  # deterministic
    variants = [
        _key(tensorrt_version="10.4.0", strategy=build_strategy("10.4.0", "fp16")),
        _key(gpu=GpuIdentity("NVIDIA A100-SXM4-80GB", (8, 0))),
        _key(gpu=GpuIdentity("NVIDIA H100 80GB HBM3", (9, 1))),
        _key(precision="fp32", strategy=build_strategy("10.3.0", "fp32")),
        _key(profile=ShapeProfile((1, 240, 320), (1, 480, 640), (4, 720, 1280))),
        _key(onnx_hash="fedcba9876543210"),
    ]
    digests = {v.digest() for v in variants}
    assert len(digests) == len(variants) and k.digest() not in digests
    # "10.3" and "10.3.0" are the same version: the same key
    assert _key(tensorrt_version="10.3").digest() == k.digest()
    name = k.filename()
    assert name.endswith(".plan") and "sm_90" in name and "fp16" in name and "/" not in name


def test_cache_lookup_store_load_and_mismatch(tmp_path):
    cache = EngineCache(tmp_path)
    k = _key()
    d = cache.lookup(k)
    assert d.action == "build" and "no cached engine" in d.reason
    plan = b"\x00serialized-plan\x01" * 100
    path = cache.store(k, plan, extra={"build_seconds": 1.5})
    assert path == cache.plan_path(k) and path.read_bytes() == plan
    assert cache.lookup(k).action == "load"
    meta = json.loads(cache.meta_path(k).read_text())
    assert meta["key"]["gpu_name"] == GPU.name and meta["build_seconds"] == 1.5

    # a different key maps to a different file: build
    assert cache.lookup(_key(onnx_hash="ffff")).action == "build"
    # the sidecar's key edited (e.g. copied from another machine): build, naming the field
    meta["key"]["compute_capability"] = [8, 0]
    cache.meta_path(k).write_text(json.dumps(meta))
    d = cache.lookup(k)
    assert d.action == "build" and "compute_capability" in d.reason


def test_cache_detects_truncated_or_orphan_plans(tmp_path):
    cache = EngineCache(tmp_path)
    k = _key()
    cache.store(k, b"abcdef" * 1000)
    cache.plan_path(k).write_bytes(b"abc")  # truncated
    d = cache.lookup(k)
    assert d.action == "build" and "SHA-256" in d.reason
    cache.meta_path(k).unlink()  # plan without sidecar
    assert "sidecar" in cache.lookup(k).reason
    cache.meta_path(k).write_text("{not json")
    assert "unreadable" in cache.lookup(k).reason
    cache.invalidate(k)
    assert not cache.plan_path(k).exists() and not cache.meta_path(k).exists()
    assert cache.lookup(k).reason == "no cached engine for this key"


def test_engine_action_never_builds_when_disallowed(tmp_path):
    cache = EngineCache(tmp_path)
    k = _key()
    assert engine_action(cache.lookup(k), allow_build=True) == "build"
    with pytest.raises(RuntimeError, match="allow_build=False"):
        engine_action(cache.lookup(k), allow_build=False)
    cache.store(k, b"plan")
    assert engine_action(cache.lookup(k), allow_build=False) == "load"


def test_timing_cache_per_version_and_gpu(tmp_path):
    cache = EngineCache(tmp_path)
    assert cache.read_timing_cache("10.3", GPU) == b""
    cache.write_timing_cache("10.3", GPU, b"timing")
    assert cache.read_timing_cache("10.3.0", GPU) == b"timing"
    assert cache.read_timing_cache("10.4", GPU) == b""
    assert cache.read_timing_cache("10.3", GpuIdentity("NVIDIA L4", (8, 9))) == b""
    cache.write_timing_cache("10.3", GPU, b"")  # empty data never overwrites
    assert cache.read_timing_cache("10.3", GPU) == b"timing"


def test_default_engine_cache_dir_env(monkeypatch, tmp_path):
    from superpoint_rt.gpu.trt_logic import default_engine_cache_dir

    monkeypatch.setenv("SUPERPOINT_RT_ENGINE_CACHE", str(tmp_path / "e"))
    assert default_engine_cache_dir() == tmp_path / "e"


# ---- the backend without TensorRT ------------------------------------------------------------------------------------


def test_backend_module_imports_and_explains_without_tensorrt(rand_weights, monkeypatch):
    from superpoint_rt.backends import BackendUnavailableError
    from superpoint_rt.backends import tensorrt_engine as te

    if te.tensorrt_available():
        pytest.skip("TensorRT is installed: the unavailable path is not reachable")
    with pytest.raises(BackendUnavailableError, match="TensorRT"):
        te.TensorRTEngine(rand_weights, "fp16")
    with pytest.raises(BackendUnavailableError, match="fp16 or fp32"):
        te.TensorRTEngine(rand_weights, "bf16")


# ---- the backend with TensorRT (GPU machines) ------------------------------------------------------------------------


def _trt_or_skip():
    pytest.importorskip("tensorrt", reason="TensorRT is not installed")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")


@pytest.mark.tensorrt
@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_tensorrt_engine_matches_onnxruntime(rand_weights, tmp_path, precision):
    _trt_or_skip()
    from superpoint_rt.backends import create_engine
    from superpoint_rt.backends.tensorrt_engine import TensorRTEngine

    profile = "1x32x48:2x64x64:2x96x96"
    eng = TensorRTEngine(rand_weights, precision, profile=profile, cache_dir=tmp_path)
    assert eng.decision.action == "build"
    x = np.random.default_rng(0).random((2, 1, 64, 80), dtype=np.float32)
    la, da = eng.run(x)
    lb, db = create_engine("onnxruntime", rand_weights, "fp32").run(x)
    tol = 1e-3 if precision == "fp32" else 5e-2
    assert np.abs(la - lb).max() <= tol * (1 + np.abs(lb).max())
    assert np.median(np.sum(da * db, axis=1)) > (0.9999 if precision == "fp32" else 0.99)
    with pytest.raises(ShapeOutOfProfileError):
        eng.run(np.zeros((3, 1, 64, 64), np.float32))
    # a second engine with the same key loads the cached plan
    again = TensorRTEngine(rand_weights, precision, profile=profile, cache_dir=tmp_path)
    assert again.decision.action == "load"
    np.testing.assert_allclose(again.run(x)[0], la, rtol=0, atol=1e-5)


@pytest.mark.tensorrt
@pytest.mark.gpu
def test_tensorrt_rebuilds_after_failed_deserialisation(rand_weights, tmp_path):
    _trt_or_skip()
    from superpoint_rt.backends.tensorrt_engine import TensorRTEngine

    profile = "1x32x32:1x32x32:1x64x64"
    eng = TensorRTEngine(rand_weights, "fp16", profile=profile, cache_dir=tmp_path, allocate=False)
    plan, meta = eng.cache.plan_path(eng.key), eng.cache.meta_path(eng.key)
    garbage = b"not a plan" * 100
    plan.write_bytes(garbage)
    m = json.loads(meta.read_text())
    import hashlib

    m["plan_sha256"] = hashlib.sha256(garbage).hexdigest()  # intact file, unusable content
    meta.write_text(json.dumps(m))
    with pytest.warns(UserWarning, match="failed to deserialize"):
        again = TensorRTEngine(rand_weights, "fp16", profile=profile, cache_dir=tmp_path)
    assert again.decision.action == "build" and plan.read_bytes() != garbage


@pytest.mark.tensorrt
@pytest.mark.gpu
def test_build_engine_cli(rand_weights, tmp_path):
    _trt_or_skip()
    from superpoint_rt.backends.tensorrt_engine import build_engine_cli

    args = argparse.Namespace(
        min_shape="1x32x32", opt_shape="1x64x64", max_shape="2x64x64", precision=None, engine_cache=str(tmp_path)
    )
    path = build_engine_cli(rand_weights, args)
    assert path.exists() and path.with_suffix(".json").exists()
