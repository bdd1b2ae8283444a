"""The TensorRT backend (``backend="tensorrt"``): one home for the engine and its TensorRT-free decisions.

* :mod:`.engine`: :class:`TensorRTEngine` (build / load, activate, allocate buffers, infer: the lifecycle of
  TensorRT's demo ``Engine``) and :func:`build_engine` (ahead-of-time build for a profile, returns the plan's path).
* :mod:`.cache`: the engine cache (key, sidecar, lookup, timing cache) and :func:`load_or_build` with its measured
  :class:`StartupTimes`.
* :mod:`.profile`: the (batch, height, width) optimisation profile and :class:`ShapeOutOfProfileError`.
* :mod:`.version`: numeric TensorRT versions and the per-version :func:`build_strategy`.

Importing this package never imports TensorRT or torch; :func:`tensorrt_available` says whether TensorRT imports.
"""

from __future__ import annotations

from .cache import (
    CacheDecision,
    EngineCache,
    EngineKey,
    GpuIdentity,
    LoadResult,
    StartupTimes,
    default_engine_cache_dir,
    describe_plan,
    engine_action,
    load_or_build,
)
from .engine import TensorRTEngine, build_engine, gpu_identity, tensorrt_available
from .profile import DEFAULT_PROFILE, ShapeOutOfProfileError, ShapeProfile, format_shape, parse_shape
from .version import MIN_TENSORRT_MAJOR, TRT_PRECISIONS, BuildStrategy, Version, build_strategy

__all__ = [
    "DEFAULT_PROFILE",
    "MIN_TENSORRT_MAJOR",
    "TRT_PRECISIONS",
    "BuildStrategy",
    "CacheDecision",
    "EngineCache",
    "EngineKey",
    "GpuIdentity",
    "LoadResult",
    "ShapeOutOfProfileError",
    "ShapeProfile",
    "StartupTimes",
    "TensorRTEngine",
    "Version",
    "build_engine",
    "build_strategy",
    "default_engine_cache_dir",
    "describe_plan",
    "engine_action",
    "format_shape",
    "gpu_identity",
    "load_or_build",
    "parse_shape",
    "tensorrt_available",
]
