"""The TensorRT backend's decisions, kept apart from the TensorRT calls so they are tested without TensorRT.

* :class:`Version`: numeric version parsing and comparison ("10.10" > "10.9", never string order).
* :func:`parse_shape` / :class:`ShapeProfile`: the optimisation profile (batch, height, width) min/opt/max, and the
  check that raises :class:`ShapeOutOfProfileError` for a frame the engine cannot run (never a silent rebuild).
* :func:`build_strategy`: how FP16 is obtained: TensorRT 10 = FP32 ONNX + the FP16 builder flag (weak typing);
  TensorRT >= 11 = the FP16-typed ONNX export + a strongly typed network (the only mode there).
* :class:`EngineKey` / :class:`EngineCache`: serialized engines cached under a key of TensorRT version, GPU name +
  compute capability, precision, shape range and ONNX hash, with a JSON sidecar; :meth:`EngineCache.lookup` decides
  "load" or "build" (and why), a failed deserialisation is reported with :meth:`EngineCache.invalidate` and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: TensorRT versions this backend is written for
MIN_TENSORRT_MAJOR = 10
CELL = 8
#: TensorRT precisions offered by the backend
TRT_PRECISIONS = ("fp16", "fp32")


class ShapeOutOfProfileError(ValueError):
    """A frame's (batch, height, width) is outside the TensorRT engine's optimisation profile."""


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
# Shapes and the optimisation profile
# ---------------------------------------------------------------------------------------------------------------------

Shape = tuple[int, int, int]  # (batch, height, width)


def parse_shape(text: str | Shape | list[int]) -> Shape:
    """Parse "BxHxW" (also "B,H,W" or a 3-sequence) -> (B, H, W); B >= 1, H and W positive multiples of 8.

    Raises:
        ValueError: wrong format or values.
    """
    if isinstance(text, str):
        parts = re.split(r"[x,\s]+", text.strip().lower())
        try:
            vals = tuple(int(p) for p in parts if p != "")
        except ValueError as e:
            raise ValueError(f"shape must be BxHxW with integers (e.g. 1x480x640), got {text!r}") from e
    else:
        try:
            vals = tuple(int(v) for v in text)
        except (TypeError, ValueError) as e:
            raise ValueError(f"shape must be (B, H, W) integers, got {text!r}") from e
    if len(vals) != 3:
        raise ValueError(f"shape must have 3 values BxHxW (batch x height x width), got {text!r}")
    b, h, w = vals
    if b < 1:
        raise ValueError(f"batch must be >= 1, got {b} in {text!r}")
    if h < CELL or w < CELL or h % CELL or w % CELL:
        raise ValueError(f"height and width must be positive multiples of {CELL}, got {h}x{w} in {text!r}")
    return b, h, w


def format_shape(shape: Shape) -> str:
    return "x".join(str(int(v)) for v in shape)


@dataclass(frozen=True)
class ShapeProfile:
    """A TensorRT optimisation profile over the network input (B, 1, H, W), given as (B, H, W) triples.

    Each of B, H, W must satisfy min <= opt <= max.
    """

    min: Shape
    opt: Shape
    max: Shape

    def __post_init__(self) -> None:
        for name in ("min", "opt", "max"):
            object.__setattr__(self, name, parse_shape(getattr(self, name)))
        for i, axis in enumerate(("batch", "height", "width")):
            if not (self.min[i] <= self.opt[i] <= self.max[i]):
                raise ValueError(
                    f"profile {axis}: need min <= opt <= max, got {self.min[i]} / {self.opt[i]} / {self.max[i]}"
                )

    @classmethod
    def from_strings(cls, min_shape: str, opt_shape: str, max_shape: str) -> ShapeProfile:
        return cls(parse_shape(min_shape), parse_shape(opt_shape), parse_shape(max_shape))

    @classmethod
    def coerce(cls, value: ShapeProfile | str | tuple[Any, Any, Any] | None) -> ShapeProfile:
        """None -> the default; "MIN:OPT:MAX" or "MIN,OPT,MAX" strings (each BxHxW); a (min, opt, max) triple."""
        if value is None:
            return DEFAULT_PROFILE
        if isinstance(value, ShapeProfile):
            return value
        if isinstance(value, str):
            parts = [p for p in re.split(r"[:;]|\s+", value.strip()) if p]
            if len(parts) != 3:
                raise ValueError(f"profile string must be 'MIN:OPT:MAX' with each BxHxW, got {value!r}")
            return cls.from_strings(*parts)
        if len(value) != 3:
            raise ValueError(f"profile must be (min, opt, max), got {value!r}")
        return cls(*value)

    def contains(self, shape: Shape) -> bool:
        return all(lo <= v <= hi for lo, v, hi in zip(self.min, shape, self.max))

    def check(self, shape: Shape) -> None:
        """Raise :class:`ShapeOutOfProfileError` (with the fix) when ``shape`` cannot run on this profile."""
        if not self.contains(shape):
            raise ShapeOutOfProfileError(
                f"input {format_shape(shape)} (BxHxW, after padding to multiples of 8) is outside the TensorRT "
                f"engine's profile min {format_shape(self.min)} .. max {format_shape(self.max)}. The engine is never "
                "rebuilt in the middle of a stream: create the SuperPoint with a wider profile "
                "(profile='MIN:OPT:MAX') or build one ahead of time with `superpoint-rt export --tensorrt "
                "--min-shape BxHxW --opt-shape BxHxW --max-shape BxHxW`"
            )

    def input_shapes(self) -> tuple[tuple[int, int, int, int], ...]:
        """(min, opt, max) as the network input shapes (B, 1, H, W)."""
        return tuple((b, 1, h, w) for b, h, w in (self.min, self.opt, self.max))  # type: ignore[return-value]

    def max_elements(self) -> int:
        """Elements of the largest input (B * H * W): the size the input buffer is allocated once for."""
        b, h, w = self.max
        return b * h * w

    def __str__(self) -> str:
        return f"{format_shape(self.min)}:{format_shape(self.opt)}:{format_shape(self.max)}"

    def to_dict(self) -> dict[str, list[int]]:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}


#: the profile used when none is given (same as `superpoint-rt export --tensorrt`'s defaults)
DEFAULT_PROFILE = ShapeProfile((1, 240, 320), (1, 480, 640), (8, 720, 1280))


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


# ---------------------------------------------------------------------------------------------------------------------
# Engine cache
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GpuIdentity:
    """The GPU an engine is built for: plans are not portable across GPU models or compute capabilities."""

    name: str
    compute_capability: tuple[int, int]

    @property
    def sm(self) -> str:
        return f"sm_{self.compute_capability[0]}{self.compute_capability[1]}"


@dataclass(frozen=True)
class EngineKey:
    """Everything a serialized engine depends on. Two keys are equal iff a cached plan may be reused."""

    tensorrt_version: str
    gpu: GpuIdentity
    precision: str
    profile: ShapeProfile
    onnx_hash: str
    strategy: BuildStrategy

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensorrt_version": ".".join(map(str, Version.parse(self.tensorrt_version).parts)),
            "gpu_name": self.gpu.name,
            "compute_capability": list(self.gpu.compute_capability),
            "precision": self.precision,
            "profile": self.profile.to_dict(),
            "onnx_hash": self.onnx_hash,
            "onnx_dtype": self.strategy.onnx_dtype,
            "strongly_typed": self.strategy.strongly_typed,
            "fp16_flag": self.strategy.fp16_flag,
        }

    def digest(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def filename(self) -> str:
        """A readable, unique plan file name."""
        gpu = re.sub(r"[^A-Za-z0-9]+", "-", self.gpu.name).strip("-").lower()[:32] or "gpu"
        major = Version.parse(self.tensorrt_version).major
        return f"superpoint_trt{major}_{gpu}_{self.gpu.sm}_{self.precision}_{self.digest()}.plan"


@dataclass(frozen=True)
class CacheDecision:
    """What to do for a key: ``action`` "load" (a matching plan exists) or "build", and why."""

    action: str
    reason: str
    plan_path: Path


def default_engine_cache_dir() -> Path:
    """``$SUPERPOINT_RT_ENGINE_CACHE``; else the repository's ``engines/`` in a source checkout; else
    ``<superpoint_rt cache>/engines`` ($SUPERPOINT_RT_CACHE or ~/.cache/superpoint_rt)."""
    env = os.environ.get("SUPERPOINT_RT_ENGINE_CACHE")
    if env:
        return Path(env)
    repo_engines = Path(__file__).resolve().parents[2] / "engines"
    if (repo_engines / "README.md").exists():
        return repo_engines
    from ..weights import default_cache_dir

    return default_cache_dir() / "engines"


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class EngineCache:
    """Serialized TensorRT engines (``*.plan`` + ``*.json`` sidecar) and timing caches in one folder.

    The sidecar holds the full key and the plan's SHA-256: a plan is loaded only when both match, so a changed GPU,
    TensorRT version, precision, profile or network (ONNX hash) or a truncated file leads to a rebuild, with the
    reason recorded.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_engine_cache_dir()

    def plan_path(self, key: EngineKey) -> Path:
        return self.root / key.filename()

    def meta_path(self, key: EngineKey) -> Path:
        return self.plan_path(key).with_suffix(".json")

    def timing_cache_path(self, tensorrt_version: str, gpu: GpuIdentity) -> Path:
        """One timing cache per TensorRT version x GPU (shared by every network and precision)."""
        v = Version.parse(tensorrt_version)
        gpu_name = re.sub(r"[^A-Za-z0-9]+", "-", gpu.name).strip("-").lower()[:32] or "gpu"
        return self.root / f"timing_trt{'.'.join(map(str, v.parts))}_{gpu_name}_{gpu.sm}.cache"

    def lookup(self, key: EngineKey) -> CacheDecision:
        """Decide "load" when a plan with this exact key and an intact file exists, else "build" with the reason."""
        plan, meta_file = self.plan_path(key), self.meta_path(key)
        if not plan.exists():
            return CacheDecision("build", "no cached engine for this key", plan)
        try:
            meta = json.loads(meta_file.read_text())
        except FileNotFoundError:
            return CacheDecision("build", "cached engine has no metadata sidecar", plan)
        except (OSError, ValueError) as e:
            return CacheDecision("build", f"cached engine metadata unreadable ({e})", plan)
        expected = key.to_dict()
        stored = meta.get("key") if isinstance(meta, dict) else None
        if not isinstance(stored, dict):
            return CacheDecision("build", "cached engine metadata has no key", plan)
        diff = sorted(k for k in set(expected) | set(stored) if expected.get(k) != stored.get(k))
        if diff:
            return CacheDecision("build", f"cached engine key differs in {diff}", plan)
        try:
            digest = _sha256_file(plan)
        except OSError as e:
            return CacheDecision("build", f"cached engine unreadable ({e})", plan)
        if digest != meta.get("plan_sha256"):
            return CacheDecision("build", "cached engine file does not match its recorded SHA-256 (truncated?)", plan)
        return CacheDecision("load", "cached engine matches", plan)

    def store(self, key: EngineKey, plan: bytes, extra: dict[str, Any] | None = None) -> Path:
        """Write the plan, then its sidecar (atomically each): a crash never leaves a sidecar for a partial plan."""
        path = self.plan_path(key)
        _atomic_write(path, plan)
        meta = {"key": key.to_dict(), "plan_sha256": hashlib.sha256(plan).hexdigest(), **(extra or {})}
        _atomic_write(self.meta_path(key), (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode())
        return path

    def invalidate(self, key: EngineKey) -> None:
        """Remove a plan (e.g. after a failed deserialisation) so the next lookup says "build"."""
        self.meta_path(key).unlink(missing_ok=True)
        self.plan_path(key).unlink(missing_ok=True)

    def read_timing_cache(self, tensorrt_version: str, gpu: GpuIdentity) -> bytes:
        """The stored timing cache, or b"" (TensorRT then starts an empty one)."""
        try:
            return self.timing_cache_path(tensorrt_version, gpu).read_bytes()
        except OSError:
            return b""

    def write_timing_cache(self, tensorrt_version: str, gpu: GpuIdentity, data: bytes) -> None:
        if data:
            _atomic_write(self.timing_cache_path(tensorrt_version, gpu), bytes(data))


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def engine_action(decision: CacheDecision, allow_build: bool) -> str:
    """Return "load", or "build" when allowed; raises when a build is needed but not allowed (production streams)."""
    if decision.action == "load":
        return "load"
    if not allow_build:
        raise RuntimeError(
            f"no usable TensorRT engine at {decision.plan_path} ({decision.reason}) and building is disabled "
            "(allow_build=False): build it ahead of time with `superpoint-rt export --tensorrt`"
        )
    return "build"
