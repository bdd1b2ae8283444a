"""TensorRT backend: the pure-Python decisions (no TensorRT needed), then the engine itself where TensorRT exists."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from superpoint_rt.backends.tensorrt import (
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
    from superpoint_rt.backends.tensorrt import default_engine_cache_dir

    monkeypatch.setenv("SUPERPOINT_RT_ENGINE_CACHE", str(tmp_path / "e"))
    assert default_engine_cache_dir() == tmp_path / "e"


def test_default_engine_cache_dir_in_a_source_checkout(monkeypatch):
    from pathlib import Path

    from superpoint_rt.backends.tensorrt import default_engine_cache_dir

    monkeypatch.delenv("SUPERPOINT_RT_ENGINE_CACHE", raising=False)
    repo_engines = Path(__file__).resolve().parents[2] / "engines"
    if not (repo_engines / "README.md").exists():
        pytest.skip("not a source checkout with engines/README.md")
    assert default_engine_cache_dir() == repo_engines


def test_profile_uses_the_network_cell():
    from superpoint_rt.backends.tensorrt import profile
    from superpoint_rt.network_spec import CELL

    assert profile.CELL is CELL


# ---- load or build, timed (fakes for TensorRT) -------------------------------------------------------------------


class _Clock:
    """A fake perf_counter: each call advances by the next step."""

    def __init__(self, *steps):
        self.t, self.steps = 0.0, list(steps)

    def __call__(self):
        self.t += self.steps.pop(0) if self.steps else 0.0
        return self.t


def _fake_build(calls, plan=b"fresh-plan"):
    def build():
        calls.append("build")
        return plan

    return build


def test_load_or_build_builds_then_loads_and_records_real_times(tmp_path):
    from superpoint_rt.backends.tensorrt import load_or_build

    cache, k, calls = EngineCache(tmp_path), _key(), []
    # build: clock reads 0 -> 12.5 around build(), then 0 -> 0.25 around deserialize()
    built = load_or_build(
        cache, k, True, _fake_build(calls), lambda plan: ("engine", plan), clock=_Clock(1, 12.5, 1, 0.25)
    )
    assert calls == ["build"] and built.engine == ("engine", b"fresh-plan")
    assert built.decision.action == "build" and built.times.action == "build"
    assert built.times.build_seconds == pytest.approx(12.5) and built.times.load_seconds == pytest.approx(0.25)
    assert json.loads(cache.meta_path(k).read_text())["build_seconds"] == 12.5

    # a cached plan: loaded, the time measured around reading + deserialising, no build and no build time
    loaded = load_or_build(cache, k, False, _fake_build(calls), lambda plan: ("engine", plan), clock=_Clock(3, 0.04))
    assert calls == ["build"] and loaded.engine == ("engine", b"fresh-plan")
    assert loaded.decision.action == "load" and loaded.times.action == "load"
    assert loaded.times.build_seconds is None and loaded.times.load_seconds == pytest.approx(0.04)
    assert loaded.times.to_dict() == {"action": "load", "load_seconds": 0.04}
    assert built.times.to_dict() == {"action": "build", "load_seconds": 0.25, "build_seconds": 12.5}


def test_load_or_build_rebuilds_a_plan_that_does_not_deserialize(tmp_path):
    from superpoint_rt.backends.tensorrt import load_or_build

    cache, k, calls = EngineCache(tmp_path), _key(), []
    cache.store(k, b"stale-plan")
    with pytest.warns(UserWarning, match="failed to deserialize"):
        res = load_or_build(
            cache, k, True, _fake_build(calls), lambda plan: None if plan == b"stale-plan" else "engine"
        )
    assert calls == ["build"] and res.engine == "engine" and res.times.action == "build"
    assert res.decision.reason == "cached engine failed to deserialize"
    assert cache.plan_path(k).read_bytes() == b"fresh-plan"

    cache.store(k, b"stale-plan")  # the same, with building disabled: an error, the bad plan dropped
    with pytest.raises(RuntimeError, match="allow_build=False"):
        load_or_build(cache, k, False, _fake_build(calls), lambda plan: None)
    assert not cache.plan_path(k).exists() and calls == ["build"]
    with pytest.raises(RuntimeError, match="cannot deserialize"):  # a fresh plan TensorRT rejects
        load_or_build(cache, k, True, _fake_build(calls), lambda plan: None)


def _fake_engine(tmp_path, times):
    """A TensorRTEngine with fakes for everything TensorRT would have made (the constructor needs TensorRT)."""
    from superpoint_rt.backends.base import Engine
    from superpoint_rt.backends.tensorrt import CacheDecision, TensorRTEngine

    class Context:
        def __init__(self):
            self.shapes = []

        def set_input_shape(self, name, shape):
            self.shapes.append((name, shape))
            return True

    eng = object.__new__(TensorRTEngine)
    Engine.__init__(eng)
    eng.precision, eng.device = "fp16", "cuda:0"
    eng.trt_version, eng.gpu, eng.profile = Version.parse("10.3.0"), GPU, ShapeProfile.coerce("1x32x32:1x64x64:2x64x64")
    eng.strategy = build_strategy("10.3.0", "fp16")
    eng.plan_path = tmp_path / "x.plan"
    eng.decision = CacheDecision(times.action, "test", eng.plan_path)
    eng.startup = times
    eng.context, eng._shape = Context(), None
    return eng


def test_engine_reports_its_load_time_not_a_zero_compile_time(tmp_path):
    from superpoint_rt.backends.tensorrt import StartupTimes

    eng = _fake_engine(tmp_path, StartupTimes("load", load_seconds=0.125))
    eng._set_shape((1, 64, 64))
    eng._set_shape((2, 32, 64))
    assert eng.context.shapes == [("image", (1, 1, 64, 64)), ("image", (2, 1, 32, 64))]
    assert eng.compile_seconds == {}  # nothing compiles per shape: no invented 0.0 first-frame cost
    info = eng.info()
    assert info["startup"] == {"action": "load", "load_seconds": 0.125}
    assert "build_seconds" not in info and "compile_seconds" not in info
    with pytest.raises(ShapeOutOfProfileError):
        eng._set_shape((3, 64, 64))

    built = _fake_engine(tmp_path, StartupTimes("build", load_seconds=0.5, build_seconds=90.0)).info()
    assert built["startup"] == {"action": "build", "load_seconds": 0.5, "build_seconds": 90.0}


# ---- the CLI glue (superpoint_rt.apps.tensorrt_cli) ----------------------------------------------------------------


def test_build_engine_cli_maps_arguments_and_describes_the_plan(rand_weights, tmp_path, monkeypatch, capsys):
    from superpoint_rt.apps import tensorrt_cli
    from superpoint_rt.backends import tensorrt

    cache, k = EngineCache(tmp_path), _key()
    plan = cache.store(k, b"plan", extra={"build_seconds": 3.5, "built": "2025-01-02T03:04:05"})
    seen = {}

    def fake_build_engine(weights, **kw):
        seen.update(kw, weights=weights)
        return plan

    monkeypatch.setattr(tensorrt, "build_engine", fake_build_engine)
    args = argparse.Namespace(min_shape="1x32x32", opt_shape="1x64x64", max_shape="2x64x64", precision=None)
    assert tensorrt_cli.build_engine_cli(rand_weights, args) == plan
    assert seen == {
        "weights": rand_weights,
        "precision": "fp16",
        "min_shape": "1x32x32",
        "opt_shape": "1x64x64",
        "max_shape": "2x64x64",
        "cache_dir": None,
        "device": "cuda",
    }
    out = capsys.readouterr().out
    assert "TensorRT 10.3 fp16 engine for NVIDIA H100 80GB HBM3 (sm_90)" in out
    assert "profile 1x240x320:1x480x640:8x720x1280, built 2025-01-02T03:04:05 in 3.5 s" in out


def test_describe_plan_without_a_sidecar(tmp_path):
    from superpoint_rt.backends.tensorrt import describe_plan

    assert "no readable sidecar" in describe_plan(tmp_path / "missing.plan")


# ---- the backend without TensorRT ------------------------------------------------------------------------------------


def test_backend_module_imports_and_explains_without_tensorrt(rand_weights, monkeypatch):
    from superpoint_rt.backends import BackendUnavailableError
    from superpoint_rt.backends import tensorrt as te

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
    from superpoint_rt.backends.tensorrt import TensorRTEngine

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
    from superpoint_rt.backends.tensorrt import TensorRTEngine

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
    from superpoint_rt.apps.tensorrt_cli import build_engine_cli

    args = argparse.Namespace(
        min_shape="1x32x32", opt_shape="1x64x64", max_shape="2x64x64", precision=None, engine_cache=str(tmp_path)
    )
    path = build_engine_cli(rand_weights, args)
    assert path.exists() and path.with_suffix(".json").exists()
