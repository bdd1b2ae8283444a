"""The rule behind backend="auto" / precision=None on a CPU: hand-made CPU capabilities in, the documented choice
out (superpoint_rt.backends.auto); and the engine built for it says how it was chosen."""

from __future__ import annotations

import pytest

from superpoint_rt.backends import auto, auto_choice, create_engine
from superpoint_rt.backends.auto import RULES, CpuCaps, choose

ALL = ("openvino", "onnxruntime", "torch")
ZEN2 = CpuCaps.from_flags({"avx", "avx2", "fma", "sse4_2"}, "AMD EPYC (Zen 2)")
ZEN4 = CpuCaps.from_flags({"avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16"}, "AMD EPYC (Zen 4)")
SPR = CpuCaps.from_flags({"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"})
BF16_NO_VNNI = CpuCaps.from_flags({"avx2", "fma", "avx512f", "avx512_bf16"})
ICELAKE = CpuCaps.from_flags({"avx2", "fma", "avx512f", "avx512_vnni"})
OLD = CpuCaps.from_flags({"sse4_2", "avx"})


@pytest.mark.parametrize(
    ("caps", "installed", "guarded", "expected"),
    [
        (SPR, ALL, True, ("openvino", "int8", "amx")),  # AMX + the guarded IR: INT8 (1.8x BF16, measured)
        (SPR, ALL, False, ("openvino", "bf16", "bf16")),  # ... without the IR (own weights): BF16
        (ZEN4, ALL, True, ("openvino", "int8", "vnni")),  # native BF16 + AVX512-VNNI + the guarded IR: INT8
        (ZEN4, ALL, False, ("openvino", "bf16", "bf16")),  # ... without the IR (own weights): BF16
        (BF16_NO_VNNI, ALL, True, ("openvino", "bf16", "bf16")),  # native BF16, no VNNI: BF16
        (ZEN2, ALL, True, ("openvino", "int8", "int8")),  # AVX2 only + the guarded IR: INT8
        (ICELAKE, ALL, True, ("openvino", "int8", "int8")),  # AVX-512 VNNI, no BF16: INT8
        (ZEN2, ALL, False, ("onnxruntime", "fp32", "fp32")),  # no IR: the faster FP32 engine (measured)
        (ZEN2, ("openvino", "torch"), False, ("openvino", "fp32", "fp32")),  # ... else OpenVINO
        (ZEN2, ("onnxruntime", "torch"), True, ("onnxruntime", "fp32", "fp32")),  # INT8/BF16 need OpenVINO
        (SPR, ("onnxruntime",), True, ("onnxruntime", "fp32", "fp32")),
        (ZEN2, ("torch",), False, ("torch", "fp32", "fp32")),
        (OLD, ALL, True, ("onnxruntime", "fp32", "fp32")),  # no AVX2: INT8 not measured there
    ],
)
def test_rule_hand_made_cpus(caps, installed, guarded, expected):
    c = choose(caps, installed, guarded)
    assert (c.backend, c.precision, c.rule) == expected
    assert c.reason and c.as_dict()["measured"] == next(r.measured for r in RULES if r.id == c.rule)


def test_rule_with_the_backend_given():
    # the caller picked the backend: only the precision is chosen
    assert choose(ZEN2, ALL, True, backend="openvino").precision == "int8"
    assert choose(SPR, ALL, True, backend="openvino").precision == "int8"
    assert choose(SPR, ALL, False, backend="openvino").precision == "bf16"
    assert "AMX" in choose(SPR, ALL, False).reason
    c = choose(ZEN2, ALL, True, backend="onnxruntime")
    assert (c.backend, c.precision) == ("onnxruntime", "fp32") and "caller" in c.reason
    assert (choose(SPR, ALL, True, backend="torch").backend, choose(SPR, ALL, True, backend="torch").precision) == (
        "torch",
        "fp32",
    )
    with pytest.raises(ValueError):
        choose(ZEN2, ALL, True, backend="tensorrt")
    with pytest.raises(ValueError):
        choose(ZEN2, (), True)


def test_auto_backend_for_an_explicit_precision():
    assert auto.fastest_for("fp32", ALL) == "onnxruntime" and auto.fastest_for("fp32", ("torch",)) == "torch"
    assert auto.fastest_for("int8", ALL) == "openvino" and auto.fastest_for("int8", ("onnxruntime",)) is None
    assert auto.fastest_for("bf16", ("onnxruntime", "torch")) == "torch"
    assert auto.fastest_for("fp16", ALL) == "openvino"


def test_caps_from_flags():
    assert ZEN2.avx2 and not (ZEN2.native_bf16 or ZEN2.amx or ZEN2.avx512f)
    assert SPR.amx and SPR.native_bf16 and SPR.avx512_vnni
    assert ZEN4.native_bf16 and not ZEN4.amx
    # OpenVINO's word overrides the flags (a BF16 flag the plugin does not use)
    assert not CpuCaps.from_flags({"avx512_bf16"}, native_bf16=False).native_bf16


def test_rule_ids_are_documented_in_order():
    assert [r.id for r in RULES] == ["amx", "vnni", "bf16", "int8", "fp32"]
    doc = auto.__doc__ or ""
    for r in RULES:
        assert f"\n{r.id} " in doc


def test_packaged_weights_carry_the_guarded_ir_random_ones_do_not():
    from superpoint_rt.weights import load_weights, random_weights

    for name, ir in (("superpoint-rt", "superpoint_rt_int8.xml"), ("superpoint-rt-v2", "superpoint_rt_v2_int8.xml")):
        path, why = auto.guarded_int8_model(load_weights(name))
        assert path is not None and path.endswith(ir) and why == ""
    path, why = auto.guarded_int8_model(random_weights())
    assert path is None and "no guarded" in why
    assert (auto_choice(random_weights(), caps=ZEN2).precision, auto_choice(random_weights(), caps=ZEN2).rule) == (
        "fp32",
        "fp32",
    )
    assert auto_choice(load_weights(None), caps=ZEN2).precision == "int8"
    assert auto_choice(load_weights(None), caps=SPR).precision == "int8"
    assert auto_choice(random_weights(), caps=SPR).precision == "bf16"


def test_engine_records_how_it_was_chosen():
    pytest.importorskip("onnxruntime")
    from superpoint_rt.weights import random_weights

    eng = create_engine("onnxruntime", random_weights())
    assert eng.precision == "fp32" and eng.info()["chosen_by"]["rule"] == "fp32"
    eng = create_engine("onnxruntime", random_weights(), precision="fp32")
    assert eng.chosen_by is None and "chosen_by" not in eng.info()


def test_this_machine_follows_the_rule():
    """Whatever this CPU is, SuperPoint() runs what the rule says for it."""
    pytest.importorskip("openvino")
    from superpoint_rt import SuperPoint
    from superpoint_rt.weights import load_weights

    expected = auto_choice(load_weights(None))
    sp = SuperPoint()
    assert (sp.backend, sp.precision) == (expected.backend, expected.precision)
    assert sp.engine.info()["chosen_by"]["rule"] == expected.rule
    # an explicit FP32 runs on the faster FP32 engine installed
    assert SuperPoint(precision="fp32").backend == auto.fastest_for("fp32", ["openvino", "onnxruntime"])
