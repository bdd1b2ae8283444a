"""TensorRT versions and what each needs, without TensorRT (tested on any machine).

* :class:`Version`: numeric version parsing and comparison ("10.10" > "10.9", never string order).
* :func:`build_strategy`: how FP16 is obtained: TensorRT 10 = FP32 ONNX + the FP16 builder flag (weak typing);
  TensorRT >= 11 = the FP16-typed ONNX export + a strongly typed network (the only mode there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: TensorRT versions this backend is written for
MIN_TENSORRT_MAJOR = 10
#: TensorRT precisions offered by the backend
TRT_PRECISIONS = ("fp16", "fp32")


# ---------------------------------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Version:
    """A dotted numeric version ("10.3.0.26", "11.0.0b2" -> (11, 0, 0)), compared component by component.

    Missing trailing components compare as zeros: ``Version.parse("10") == Version.parse("10.0.0")``.
    """

    parts: tuple[int, ...]
    raw: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        # normalise trailing zeros so that equality and ordering agree
        parts = tuple(self.parts)
        while len(parts) > 1 and parts[-1] == 0:
            parts = parts[:-1]
        object.__setattr__(self, "parts", parts)

    @classmethod
    def parse(cls, text: str | Version) -> Version:
        """Parse "MAJOR[.MINOR[.PATCH[.BUILD]]]" with an optional non-numeric suffix (rc1, b2, +cuda12, .post1).

        Raises:
            ValueError: no leading numeric component.
        """
        if isinstance(text, Version):
            return text
        s = str(text).strip()
        m = re.match(r"^v?(\d+(?:\.\d+)*)", s)
        if not m:
            raise ValueError(f"cannot parse a version number from {text!r}")
        return cls(tuple(int(p) for p in m.group(1).split(".")), raw=s)

    @property
    def major(self) -> int:
        return self.parts[0]

    @property
    def minor(self) -> int:
        return self.parts[1] if len(self.parts) > 1 else 0

    def __str__(self) -> str:
        return self.raw or ".".join(map(str, self.parts))


# ---------------------------------------------------------------------------------------------------------------------
# Build strategy
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildStrategy:
    """How to build: which ONNX export, network flags and builder flags.

    Attributes:
        onnx_dtype: "float32" or "float16" (:func:`superpoint_rt.export.build_onnx`'s ``dtype``).
        strongly_typed: create the network with the STRONGLY_TYPED flag (ignored, always on, in TensorRT >= 11).
        fp16_flag: set ``BuilderFlag.FP16`` (TensorRT 10 weak typing; removed in 11).
    """

    onnx_dtype: str
    strongly_typed: bool
    fp16_flag: bool


def build_strategy(trt_version: str | Version, precision: str) -> BuildStrategy:
    """The build recipe for ``precision`` ("fp16" | "fp32") on a TensorRT version.

    Raises:
        ValueError: unknown precision.
        RuntimeError: TensorRT older than 10 (the name-based tensor API and execute_async_v3 are needed).
    """
    v = Version.parse(trt_version)
    if precision not in TRT_PRECISIONS:
        raise ValueError(f"TensorRT precision must be one of {TRT_PRECISIONS}, got {precision!r}")
    if v.major < MIN_TENSORRT_MAJOR:
        raise RuntimeError(f"the TensorRT backend needs TensorRT >= {MIN_TENSORRT_MAJOR}, found {v}")
    if v.major >= 11:
        # weak typing is gone: the precision is in the graph (FP16 convolutions, FP32 outputs and softmax input)
        return BuildStrategy(
            onnx_dtype="float16" if precision == "fp16" else "float32", strongly_typed=True, fp16_flag=False
        )
    return BuildStrategy(onnx_dtype="float32", strongly_typed=False, fp16_flag=precision == "fp16")
