"""What ``backend="auto"`` and ``precision=None`` run on a CPU: one rule, decided by measurement, written down.

The rule (first matching row wins; README "Backends and precisions" shows the same table with the measurements):

===  =====================================================  ==================  ===================================
row  when                                                   runs                measured
===  =====================================================  ==================  ===================================
amx  AMX (with native BF16), OpenVINO installed, and the    OpenVINO INT8       INT8 46 ms vs BF16 84 ms, FP32 224
     weights carry the guarded INT8 IR                                          (e2e, Xeon with AMX,
                                                                                cpu_spr_amx_v8_two_res.json)
vnni native BF16 without AMX, AVX512-VNNI, OpenVINO, and    OpenVINO INT8       INT8 32 ms vs BF16 59 ms (network,
     the weights carry the guarded INT8 IR                                      Zen 5, cpu_zen5_avx512bf16.json);
                                                                                Zen 4 (same instructions) not
                                                                                measured
bf16 native BF16 (AMX or AVX512-BF16), OpenVINO; on AMX or   OpenVINO BF16       BF16 1.9x FP32 (Zen 4,
     with VNNI only when there is no guarded INT8 IR                            cpu_quick.json); 3.2x (Xeon with
                                                                                AMX, cpu_quick_amx.json)
int8 no native BF16, AVX2, OpenVINO, and the weights carry   OpenVINO INT8       the fastest engine on an AVX2-only
     the guarded INT8 IR (shipped beside packaged weights)                      Zen 2 (cpu_zen2_avx2.json)
fp32 anything else                                          the faster FP32     ONNX Runtime FP32 5-15% faster than
                                                            engine installed:   OpenVINO FP32 on that Zen 2, three
                                                            ONNX Runtime, else  interleaved runs
                                                            OpenVINO, torch     (cpu_zen2_fp32_engines.json)
===  =====================================================  ==================  ===================================

``precision="fp32"`` with ``backend="auto"`` runs the same faster FP32 engine; BF16, FP16 and INT8 run on OpenVINO.

"Guarded" IR: the INT8 model that ships with our weights passed the accuracy guard (within 0.02 of FP32 in
homography accuracy and repeatability, docs/EVALUATION.md); an IR of your own (``int8_model=``) runs only when asked
for (``precision="int8"``). Where a row says "not measured", the choice is the measured one we have; running
``superpoint-rt bench`` on such a CPU measures INT8 against BF16 (and says in ``summary.auto_check`` whether the rule
picked the fastest engine of that run), and a new row here is one edit.

Everything here is a pure function of :class:`CpuCaps` (hand-made in tests) except :meth:`CpuCaps.detect`.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "FP32_ORDER",
    "RULES",
    "AutoChoice",
    "CpuCaps",
    "Rule",
    "choose",
    "cpu_flags",
    "cpu_model",
    "cpuinfo",
    "fastest_for",
    "guarded_int8_model",
]


def cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (``model name``, ``cpu family``, ``flags``, ...); empty where
    there is no such file. The one reader: :func:`cpu_flags`, :func:`cpu_model` and ``sysinfo`` use it."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                key = key.strip()
                if not sep:
                    if fields:  # the blank line after the first processor
                        break
                    continue
                fields.setdefault(key, value.strip())
    except OSError:
        pass
    return fields


def cpu_flags() -> set[str]:
    """The CPU feature flags of the first processor in /proc/cpuinfo (empty where there is none)."""
    return set(cpuinfo().get("flags", "").split())


def cpu_model() -> str:
    """The CPU model string (/proc/cpuinfo ``model name``, else the platform's)."""
    return cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_id() -> str:
    """``"family F model M"`` of /proc/cpuinfo: what tells CPUs apart where the model string does not (KVM guests
    often report a bare "AMD EPYC" for both a Zen 2, family 23 model 49, and a Zen 5, family 26 model 2)."""
    info = cpuinfo()
    return f"family {info.get('cpu family')} model {info.get('model')}"


@dataclass(frozen=True)
class CpuCaps:
    """What the rule looks at. ``native_bf16``: OpenVINO's CPU plugin reports BF16 (AMX or AVX512-BF16)."""

    model: str = ""
    avx2: bool = False
    avx512f: bool = False
    avx512_vnni: bool = False
    avx_vnni: bool = False
    avx512_bf16: bool = False
    amx: bool = False
    native_bf16: bool = False

    @classmethod
    def from_flags(cls, flags: set[str], model: str = "", native_bf16: bool | None = None) -> CpuCaps:
        """Caps from /proc/cpuinfo-style flags; ``native_bf16`` None: AMX-BF16 or AVX512-BF16 in the flags."""
        amx = bool(flags & {"amx_tile", "amx_bf16", "amx_int8"})
        bf16_flag = "avx512_bf16" in flags or "amx_bf16" in flags
        return cls(
            model=model,
            avx2="avx2" in flags,
            avx512f="avx512f" in flags,
            avx512_vnni="avx512_vnni" in flags,
            avx_vnni="avx_vnni" in flags,
            avx512_bf16="avx512_bf16" in flags,
            amx=amx,
            native_bf16=bf16_flag if native_bf16 is None else native_bf16,
        )

    @classmethod
    def detect(cls) -> CpuCaps:
        """This machine: /proc/cpuinfo flags, and OpenVINO's word on native BF16 where OpenVINO is installed."""
        from .openvino_engine import cpu_supports_bf16, openvino_available

        native = cpu_supports_bf16() if openvino_available() else None
        return cls.from_flags(cpu_flags(), cpu_model(), native_bf16=native)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rule:
    """One row of the rule: ``id``, when it applies (text), what runs, and the measurement behind it."""

    id: str
    when: str
    runs: str
    measured: str


#: the rows, in the order they are tried (see the module docstring); ``choose`` implements them
RULES: tuple[Rule, ...] = (
    Rule(
        "amx",
        "AMX with native BF16, OpenVINO installed, the weights carry the guarded INT8 IR",
        "openvino int8",
        "Intel Xeon with AMX (family 6 model 207), e2e p50 at 480x640: OpenVINO INT8 46 ms vs BF16 84 ms and FP32 "
        "224 ms (240x320: 14 vs 24 ms), INT8 97% of FP32 keypoints within 1 px (cpu_spr_amx_v8_two_res.json); v8's "
        "INT8 against BF16 there: homography level on three held-out sets, NN mAP -0.002, localisation +0.005 px; "
        "v10's IR (conv1a in float too): INT8 24 ms vs BF16 37 ms, 1.53x (cpu_spr_amx_v10.json)",
    ),
    Rule(
        "vnni",
        "native BF16 without AMX, AVX512-VNNI, OpenVINO installed, the weights carry the guarded INT8 IR",
        "openvino int8",
        "AMD EPYC Zen 5 (AVX512-BF16 + VNNI), network p50 at 480x640: OpenVINO INT8 32 ms vs BF16 59 ms and FP32 "
        "117 ms, INT8 97% of FP32 keypoints within 1 px (cpu_zen5_avx512bf16.json); Zen 4 not measured",
    ),
    Rule(
        "bf16",
        "native BF16 (AMX or AVX512-BF16), OpenVINO installed; on AMX or with VNNI only without the guarded INT8 IR",
        "openvino bf16",
        "AMD EPYC Zen 4: OpenVINO BF16 345 ms vs FP32 648 ms at 480x640 (cpu_quick.json); INT8 not measured there. "
        "Intel Xeon with AMX: BF16 81 ms vs FP32 259 ms (cpu_quick_amx.json)",
    ),
    Rule(
        "int8",
        "no native BF16, AVX2, OpenVINO installed, the weights carry the guarded INT8 IR",
        "openvino int8",
        "AMD EPYC Zen 2 (AVX2 only), network p50 at 480x640: OpenVINO INT8 358 ms vs ONNX Runtime FP32 464 ms and "
        "OpenVINO FP32 498 ms; the fastest at 240x320 too (cpu_zen2_avx2.json)",
    ),
    Rule(
        "fp32",
        "anything else",
        "the faster FP32 engine installed: onnxruntime fp32, else openvino fp32, else torch fp32",
        "AMD EPYC Zen 2: ONNX Runtime FP32 5-15% faster than OpenVINO FP32 (network p50) at 240x320 and 480x640 in "
        "three interleaved runs (cpu_zen2_fp32_engines.json, cpu_zen2_avx2.json, cpu_zen2_avx2_inprocess.json)",
    ),
)
_RULE = {r.id: r for r in RULES}
#: FP32 engines, fastest first (measured on the Zen 2 of the int8/fp32 rows)
FP32_ORDER = ("onnxruntime", "openvino", "torch")


@dataclass(frozen=True)
class AutoChoice:
    """What runs and why: ``rule`` is the id of the row of :data:`RULES` that matched."""

    backend: str
    precision: str
    rule: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "measured": _RULE[self.rule].measured if self.rule in _RULE else None}


def choose(
    caps: CpuCaps,
    installed: Sequence[str],
    guarded_int8: bool,
    backend: str = "auto",
    int8_note: str = "",
) -> AutoChoice:
    """The CPU engine and precision for ``backend`` ("auto" or a CPU backend) with ``precision=None``.

    Args:
        caps: the CPU (hand-made in tests, :meth:`CpuCaps.detect` otherwise).
        installed: the CPU backends whose packages import ("openvino", "onnxruntime", "torch").
        guarded_int8: the weights carry the guarded INT8 IR (:func:`guarded_int8_model`).
        backend: "auto", or the backend already chosen (then only its precision is chosen).
        int8_note: why there is no guarded IR, for the reason text.

    Raises:
        ValueError: ``backend`` is neither "auto" nor installed-and-CPU (the caller checks names first).
    """
    ov = "openvino" in installed and backend in ("auto", "openvino")
    if ov and caps.amx and caps.native_bf16 and guarded_int8:
        return AutoChoice(
            "openvino", "int8", "amx", "AMX; the weights carry the guarded INT8 IR: AMX-INT8 beats AMX-BF16 (1.8x)"
        )
    if ov and caps.native_bf16 and caps.avx512_vnni and guarded_int8:
        return AutoChoice(
            "openvino",
            "int8",
            "vnni",
            "native BF16 and AVX512-VNNI; the weights carry the guarded INT8 IR: INT8 beats BF16",
        )
    if ov and caps.native_bf16:
        why = "BF16 beats FP32" + ("" if guarded_int8 else "; no guarded INT8 IR" + _int8_why(int8_note))
        unit = "AMX" if caps.amx else "AVX512-BF16"
        return AutoChoice("openvino", "bf16", "bf16", f"native BF16 ({unit}): {why}")
    if ov and caps.avx2 and guarded_int8:
        return AutoChoice(
            "openvino", "int8", "int8", "no native BF16; the weights carry the guarded INT8 IR, the fastest measured"
        )
    if backend != "auto":
        if backend not in FP32_ORDER:
            raise ValueError(f"{backend!r} is not a CPU backend")
        why = "no native BF16" if not caps.native_bf16 else "BF16 needs OpenVINO"
        return AutoChoice(backend, "fp32", "fp32", f"{why}; {backend} chosen by the caller" + _int8_why(int8_note))
    for b in FP32_ORDER:
        if b in installed:
            why = "no native BF16" if not caps.native_bf16 else "native BF16, but OpenVINO is not installed"
            if ov and guarded_int8 and not caps.avx2:
                why = "no native BF16, no AVX2 (INT8 not measured there)"
            reason = f"{why}; {b} is the fastest FP32 engine installed" + _int8_why(int8_note)
            return AutoChoice(b, "fp32", "fp32", reason)
    raise ValueError("no CPU backend is installed")


def fastest_for(precision: str, installed: Sequence[str]) -> str | None:
    """The backend ``backend="auto"`` runs for an explicit ``precision``: the faster FP32 engine installed for "fp32"
    (:data:`FP32_ORDER`), OpenVINO for the others (torch for "bf16" without it); None when none is installed."""
    order = FP32_ORDER if precision == "fp32" else ("openvino", "torch") if precision == "bf16" else ("openvino",)
    return next((b for b in order if b in installed), None)


def _int8_why(note: str) -> str:
    return f" ({note})" if note else ""


def guarded_int8_model(weights: Any) -> tuple[str | None, str]:
    """(path of the guarded INT8 IR shipped beside ``weights``, or None; why not, when None).

    Only the IR that ships beside packaged weights counts (it passed the accuracy guard); one that does not match
    the weights' fingerprint does not count (and is reported) rather than raising.
    """
    from ..quantize import packaged_int8_model
    from ..weights import WeightsError

    try:
        path = packaged_int8_model(weights)
    except WeightsError as e:
        return None, f"the shipped INT8 IR does not match these weights: {e}"
    if path is None:
        return None, "these weights carry no guarded INT8 IR"
    return str(path), ""
