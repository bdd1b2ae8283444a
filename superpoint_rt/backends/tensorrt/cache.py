"""The TensorRT engine cache and the load-or-build decision, without TensorRT (tested on any machine with fakes).

* :class:`EngineKey` / :class:`EngineCache`: serialized engines cached under a key of TensorRT version, GPU name +
  compute capability, precision, shape range and ONNX hash, with a JSON sidecar; :meth:`EngineCache.lookup` decides
  "load" or "build" (and why), a failed deserialisation is reported with :meth:`EngineCache.invalidate` and rebuilt.
* :func:`load_or_build`: that decision carried out with the engine's own ``build`` / ``deserialize`` callables, timed
  (:class:`StartupTimes`: the build, when there was one, and the load = reading + deserialising the plan).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...weights import file_sha256
from .profile import ShapeProfile
from .version import BuildStrategy, Version

log = logging.getLogger(__name__)


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
    repo_engines = Path(__file__).resolve().parents[3] / "engines"  # <repo>/superpoint_rt/backends/tensorrt/
    if (repo_engines / "README.md").exists():
        return repo_engines
    from ...weights import default_cache_dir

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
            digest = file_sha256(plan)
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


@dataclass(frozen=True)
class StartupTimes:
    """What an engine's start-up cost, measured: TensorRT compiles nothing per input shape, so this (paid once, in
    the constructor) is the whole first-frame cost beyond the first enqueue.

    Attributes:
        action: "load" (a cached plan) or "build".
        load_seconds: reading + deserialising the plan (after a build: deserialising the fresh plan).
        build_seconds: ONNX -> serialized plan, None when the plan came from the cache.
    """

    action: str
    load_seconds: float
    build_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"action": self.action, "load_seconds": round(self.load_seconds, 4)}
        if self.build_seconds is not None:
            d["build_seconds"] = round(self.build_seconds, 3)
        return d


@dataclass(frozen=True)
class LoadResult:
    """:func:`load_or_build`'s outcome: the deserialized engine, the final decision and the measured times."""

    engine: Any
    decision: CacheDecision
    times: StartupTimes


def load_or_build(
    cache: EngineCache,
    key: EngineKey,
    allow_build: bool,
    build: Callable[[], bytes],
    deserialize: Callable[[bytes], Any],
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> LoadResult:
    """Load the cached plan for ``key`` or build (and cache) one, at construction time, never mid-stream.

    ``build()`` returns a serialized plan; ``deserialize(plan)`` returns the engine or None when TensorRT rejects the
    plan. A cached plan that matches its key but does not deserialize (driver/TensorRT install changed under the same
    version string, or a corrupt file) is dropped and rebuilt, with a warning.

    Raises:
        RuntimeError: a build is needed and ``allow_build`` is False, or a freshly built plan does not deserialize.
    """
    decision = cache.lookup(key)
    if engine_action(decision, allow_build) == "load":
        t0 = clock()
        engine = deserialize(decision.plan_path.read_bytes())
        t1 = clock()
        if engine is not None:
            log.info("TensorRT engine loaded from %s in %.3f s", decision.plan_path, t1 - t0)
            return LoadResult(engine, decision, StartupTimes("load", load_seconds=t1 - t0))
        cache.invalidate(key)
        decision = CacheDecision("build", "cached engine failed to deserialize", decision.plan_path)
        engine_action(decision, allow_build)
        warnings.warn(f"TensorRT: {decision.reason}; rebuilding {decision.plan_path}", stacklevel=3)
    log.warning("building the TensorRT engine (%s): %s; this takes a while once", key.filename(), decision.reason)
    t0 = clock()
    plan = build()
    build_seconds = clock() - t0
    cache.store(
        key, plan, extra={"build_seconds": round(build_seconds, 2), "built": time.strftime("%Y-%m-%dT%H:%M:%S")}
    )
    t0 = clock()
    engine = deserialize(plan)
    load_seconds = clock() - t0
    if engine is None:
        raise RuntimeError("TensorRT built an engine that it cannot deserialize (see the TensorRT log above)")
    return LoadResult(engine, decision, StartupTimes("build", load_seconds=load_seconds, build_seconds=build_seconds))


def describe_plan(plan_path: str | os.PathLike[str]) -> str:
    """One line about a cached plan, from its JSON sidecar (TensorRT version, precision, GPU, profile, build time)."""
    path = Path(plan_path)
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
        key = meta["key"]
        cc = key["compute_capability"]
        prof = key["profile"]
        profile = ":".join("x".join(str(v) for v in prof[k]) for k in ("min", "opt", "max"))
        line = (
            f"TensorRT {key['tensorrt_version']} {key['precision']} engine for {key['gpu_name']} "
            f"(sm_{cc[0]}{cc[1]}), profile {profile}"
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        return f"TensorRT engine {path} (no readable sidecar: {e})"
    if "built" in meta:
        line += f", built {meta['built']}"
        if "build_seconds" in meta:
            line += f" in {meta['build_seconds']} s"
    return line
