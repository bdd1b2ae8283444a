"""TensorRT engine (``backend="tensorrt"``): FP16 (default) or FP32 on an NVIDIA GPU, TensorRT 10 or 11.

Lifecycle (one small class, method names after the lifecycle): :meth:`TensorRTEngine.build` (ONNX -> serialized
plan, with a timing cache) or load (deserialize a cached plan), :meth:`~TensorRTEngine.activate` (execution context),
:meth:`~TensorRTEngine.allocate_buffers` (once, for the profile's largest shape), :meth:`~TensorRTEngine.infer`
(enqueue on a stream).

* FP16: TensorRT 10 builds the FP32 ONNX export with ``BuilderFlag.FP16``; TensorRT >= 11 (strongly typed only)
  builds the FP16-typed export (``build_onnx(dtype="float16")``: FP16 input and convolutions, FP32 outputs, the
  descriptor normalisation in FP32). See :func:`~.version.build_strategy`.
* One optimisation profile over (batch, height, width): min/opt/max, default 1x240x320 / 1x480x640 / 8x720x1280.
  A frame outside it raises :class:`~.profile.ShapeOutOfProfileError`; the engine is built or loaded only in the
  constructor, never in the middle of a stream.
* Serialized engines are cached (:class:`~.cache.EngineCache`) under a key of TensorRT version, GPU name + compute
  capability, precision, profile and ONNX hash; a mismatch or a failed deserialisation rebuilds (at construction),
  ``allow_build=False`` turns that into an error instead (:func:`~.cache.load_or_build`).
* Device buffers come from PyTorch (CUDA tensors + pinned host staging), so this backend needs ``tensorrt`` and
  ``torch`` with CUDA. ``run`` (host in, host out) returns views into pinned buffers valid until the next call;
  ``run_device`` keeps everything on the GPU for the fused post-processing.
* Start-up cost, measured: ``startup`` (:class:`~.cache.StartupTimes`, also in ``info()``) holds the load time
  (reading + deserialising the plan) and, when the plan was built here, the build time. ``compile_seconds`` stays
  empty: TensorRT compiles nothing per input shape, the engine is ready for every shape of its profile.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ...export import onnx_bytes, onnx_hash
from ...network_spec import CELL, DESCRIPTOR_DIM
from ...weights import Weights
from ..base import BackendUnavailableError, Engine, check_network_input
from .cache import CacheDecision, EngineCache, EngineKey, GpuIdentity, StartupTimes, load_or_build
from .profile import DEFAULT_PROFILE, ShapeProfile, parse_shape
from .version import TRT_PRECISIONS, BuildStrategy, Version, build_strategy

log = logging.getLogger(__name__)

INPUT_NAME = "image"
OUTPUT_NAMES = ("logits", "descriptors")
OUTPUT_CHANNELS = {"logits": CELL * CELL + 1, "descriptors": DESCRIPTOR_DIM}
#: ONNX node names (superpoint_rt.export) of the descriptor normalisation, kept FP32 in TensorRT 10 FP16 builds
FP32_LAYER_PREFIXES = ("desc_norm", "desc_normalize")


def tensorrt_available() -> bool:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return False
    return True


def _import_tensorrt() -> Any:
    try:
        import tensorrt as trt
    except ImportError as e:
        raise BackendUnavailableError(
            "backend 'tensorrt' needs NVIDIA TensorRT >= 10 (pip install tensorrt, on a machine with an NVIDIA GPU)"
        ) from e
    return trt


def _import_torch_cuda(device: str) -> Any:
    try:
        import torch
    except ImportError as e:
        raise BackendUnavailableError(
            "backend 'tensorrt' uses PyTorch for its CUDA buffers: pip install torch==2.13.0 (a CUDA build)"
        ) from e
    if not torch.cuda.is_available():
        raise BackendUnavailableError("backend 'tensorrt' needs a CUDA GPU; torch sees none")
    dev = torch.device(device)
    if dev.type != "cuda":
        raise BackendUnavailableError(f"backend 'tensorrt' runs on a CUDA device, got device={device!r}")
    return torch


def gpu_identity(device: str = "cuda") -> GpuIdentity:
    """Name and compute capability of a CUDA device (through torch)."""
    import torch

    dev = torch.device(device)
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    major, minor = torch.cuda.get_device_capability(index)
    return GpuIdentity(torch.cuda.get_device_name(index), (int(major), int(minor)))


class TensorRTEngine(Engine):
    """SuperPoint on TensorRT.

    Args:
        weights: the network weights (state dict, or an ONNX file used as is).
        precision: "fp16" (default) or "fp32".
        device: "cuda" or "cuda:N".
        profile: :class:`~.profile.ShapeProfile`, "MIN:OPT:MAX" (each BxHxW) or None (default
            1x240x320:1x480x640:8x720x1280).
        cache_dir: engine cache folder (default :func:`~.cache.default_engine_cache_dir`).
        allow_build: build when no matching cached engine exists (False: raise instead; for deployments that must
            not spend minutes building at start-up).
        workspace_bytes: builder workspace limit (None: TensorRT's default, the whole GPU memory).
        allocate: allocate the I/O buffers now (False for ahead-of-time builds that never run).
    """

    name = "tensorrt"

    def __init__(
        self,
        weights: Weights,
        precision: str = "fp16",
        device: str = "cuda",
        *,
        profile: ShapeProfile | str | None = None,
        cache_dir: str | Path | None = None,
        allow_build: bool = True,
        workspace_bytes: int | None = None,
        allocate: bool = True,
    ) -> None:
        super().__init__()
        if precision not in TRT_PRECISIONS:
            raise BackendUnavailableError(
                f"backend 'tensorrt' runs {' or '.join(TRT_PRECISIONS)}, got precision={precision!r}"
            )
        trt = _import_tensorrt()
        torch = _import_torch_cuda(device)
        self._trt, self._torch = trt, torch
        self.trt_version = Version.parse(trt.__version__)
        self.strategy: BuildStrategy = build_strategy(self.trt_version, precision)
        self.precision = precision
        dev = torch.device(device)
        self._device = torch.device("cuda", dev.index if dev.index is not None else torch.cuda.current_device())
        self.device = str(self._device)
        self.profile = ShapeProfile.coerce(profile)
        self.workspace_bytes = workspace_bytes
        self.gpu = gpu_identity(self.device)
        self.cache = EngineCache(cache_dir)
        if weights.state_dict is None and self.strategy.onnx_dtype == "float16":
            warnings.warn(
                "ONNX weights are built with their own types: with TensorRT >= 11 an FP32 ONNX file gives an FP32 "
                "engine (export an FP16 graph with `superpoint-rt export --onnx F --fp16` from state-dict weights)",
                stacklevel=2,
            )
        self._onnx = onnx_bytes(weights, self.strategy.onnx_dtype)
        self.key = EngineKey(
            str(self.trt_version), self.gpu, precision, self.profile, onnx_hash(self._onnx), self.strategy
        )
        self._logger = trt.Logger(trt.Logger.WARNING)
        loaded = load_or_build(self.cache, self.key, allow_build, self.build, self.deserialize)
        self.engine = loaded.engine
        self.decision: CacheDecision = loaded.decision
        #: measured start-up: the load (read + deserialise) and, when built here, the build
        self.startup: StartupTimes = loaded.times
        self.plan_path = self.cache.plan_path(self.key)
        self.context: Any = None
        self._buffers: dict[str, Any] = {}
        self._shape: tuple[int, int, int] | None = None
        self._stream: Any = None
        if allocate:
            self.activate()
            self.allocate_buffers()

    # ---- build / load (the decision between them: cache.load_or_build) ------------------------------------------

    def build(self) -> bytes:
        """ONNX -> serialized plan (with the timing cache read before and written back after)."""
        trt = self._trt
        builder = trt.Builder(self._logger)
        flags = 0
        if self.strategy.strongly_typed:
            flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
            if flag is not None:  # always on (and deprecated) in TensorRT >= 11
                flags |= 1 << int(flag)
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, self._logger)
        if not parser.parse(self._onnx):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise RuntimeError(f"TensorRT could not parse the SuperPoint ONNX export: {errors}")
        config = builder.create_builder_config()
        if self.strategy.fp16_flag:
            config.set_flag(trt.BuilderFlag.FP16)
            # as in the FP16-typed export: the descriptor normalisation stays FP32 (an FP16 sum of 256 squares
            # overflows above |x| ~ 16); TensorRT 10 honours per-layer precisions with this flag
            config.set_flag(trt.BuilderFlag.PREFER_PRECISION_CONSTRAINTS)
            for i in range(network.num_layers):
                layer = network.get_layer(i)
                if layer.name.startswith(FP32_LAYER_PREFIXES):
                    layer.precision = trt.float32
                    for j in range(layer.num_outputs):
                        layer.set_output_type(j, trt.float32)
        if self.workspace_bytes is not None:
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(self.workspace_bytes))
        opt_profile = builder.create_optimization_profile()
        mn, opt, mx = self.profile.input_shapes()
        opt_profile.set_shape(INPUT_NAME, mn, opt, mx)
        config.add_optimization_profile(opt_profile)
        timing = self._timing_cache(config)
        plan = builder.build_serialized_network(network, config)
        if plan is None:
            raise RuntimeError("TensorRT failed to build the SuperPoint engine (see the TensorRT log above)")
        if timing is not None:
            try:
                self.cache.write_timing_cache(
                    str(self.trt_version), self.gpu, bytes(config.get_timing_cache().serialize())
                )
            except Exception as e:  # a timing cache is an optimisation: never fail the build for it
                log.warning("could not write the TensorRT timing cache: %s", e)
        return bytes(plan)

    def _timing_cache(self, config: Any) -> Any:
        data = self.cache.read_timing_cache(str(self.trt_version), self.gpu)
        for blob in (data, b"") if data else (b"",):
            try:
                cache = config.create_timing_cache(blob)
                if cache is not None and config.set_timing_cache(cache, False):
                    return cache
            except Exception as e:
                log.warning("ignoring an unusable TensorRT timing cache: %s", e)
        return None

    def deserialize(self, plan: bytes) -> Any:
        """Serialized plan -> ICudaEngine, or None when TensorRT rejects it."""
        runtime = self._trt.Runtime(self._logger)
        try:
            return runtime.deserialize_cuda_engine(plan)
        except Exception as e:  # some versions raise, others return None
            log.warning("TensorRT deserialisation failed: %s", e)
            return None

    # ---- activate / buffers / infer -------------------------------------------------------------------------------

    def activate(self) -> None:
        """Create the execution context and check the engine's I/O tensors."""
        trt = self._trt
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        missing = [n for n in (INPUT_NAME, *OUTPUT_NAMES) if n not in names]
        if missing:
            raise RuntimeError(f"TensorRT engine lacks I/O tensors {missing}; it has {names}")
        if self.engine.get_tensor_mode(INPUT_NAME) != trt.TensorIOMode.INPUT:
            raise RuntimeError("TensorRT engine: 'image' is not an input")
        self.context = self.engine.create_execution_context()
        if self.context is None:
            raise RuntimeError("TensorRT could not create an execution context (out of GPU memory?)")
        self._stream = self._torch.cuda.Stream(device=self._device)

    def _torch_dtype(self, name: str) -> Any:
        np_dtype = np.dtype(self._trt.nptype(self.engine.get_tensor_dtype(name)))
        torch = self._torch
        table = {np.dtype(np.float32): torch.float32, np.dtype(np.float16): torch.float16}
        if np_dtype not in table:
            raise RuntimeError(f"TensorRT engine tensor {name!r} has unsupported dtype {np_dtype}")
        return table[np_dtype]

    def allocate_buffers(self) -> None:
        """Device and pinned host buffers for the profile's largest shape, allocated once; their addresses are bound
        to the context here and never change, so any shape inside the profile runs without reallocation."""
        torch = self._torch
        b, h, w = self.profile.max
        hc, wc = h // CELL, w // CELL
        dev = self._device
        in_dtype = self._torch_dtype(INPUT_NAME)
        bufs: dict[str, Any] = {
            "image": torch.empty(b * h * w, dtype=in_dtype, device=dev),
            "image_host": torch.empty(b * h * w, dtype=torch.float32, pin_memory=True),
        }
        if in_dtype != torch.float32:
            bufs["image_f32"] = torch.empty(b * h * w, dtype=torch.float32, device=dev)
        for name in OUTPUT_NAMES:
            n = b * OUTPUT_CHANNELS[name] * hc * wc
            dtype = self._torch_dtype(name)
            bufs[name] = torch.empty(n, dtype=dtype, device=dev)
            bufs[name + "_host"] = torch.empty(n, dtype=torch.float32, pin_memory=True)
            if dtype != torch.float32:
                bufs[name + "_f32"] = torch.empty(n, dtype=torch.float32, device=dev)
        for name in (INPUT_NAME, *OUTPUT_NAMES):
            if not self.context.set_tensor_address(name, int(bufs[name].data_ptr())):
                raise RuntimeError(f"TensorRT rejected the buffer address of {name!r}")
        self._buffers = bufs

    def _set_shape(self, shape: tuple[int, int, int]) -> None:
        self.profile.check(shape)
        if shape != self._shape:
            b, h, w = shape
            if not self.context.set_input_shape(INPUT_NAME, (b, 1, h, w)):
                raise RuntimeError(f"TensorRT rejected the input shape {(b, 1, h, w)}")
            self._shape = shape

    def infer(self, stream: Any = None) -> None:
        """Enqueue the network on ``stream`` (a torch.cuda.Stream; default the engine's) for the bound buffers."""
        s = stream or self._stream
        if not self.context.execute_async_v3(int(s.cuda_stream)):
            raise RuntimeError("TensorRT execute_async_v3 failed (see the TensorRT log above)")

    def run_device(self, image: Any, stream: Any = None) -> tuple[Any, Any]:
        """Device in, device out: ``image`` a CUDA tensor (B, 1, H, W) float32/float16 -> (logits, descriptors) CUDA
        float32 tensors (views of the engine's buffers, valid until the next call), enqueued on ``stream``."""
        torch = self._torch
        if image.dim() != 4 or image.shape[1] != 1:
            raise ValueError(f"run_device: image must be (B, 1, H, W), got {tuple(image.shape)}")
        b, _, h, w = (int(v) for v in image.shape)
        self._set_shape((b, h, w))
        s = stream or self._stream
        n = b * h * w
        with torch.cuda.stream(s):
            self._buffers["image"][:n].view(b, 1, h, w).copy_(image)
            self.infer(s)
            return self._outputs_device(b, h, w)

    def _outputs_device(self, b: int, h: int, w: int) -> tuple[Any, Any]:
        outs = []
        for name in OUTPUT_NAMES:
            shape = (b, OUTPUT_CHANNELS[name], h // CELL, w // CELL)
            n = int(np.prod(shape))
            buf = self._buffers[name][:n]
            if name + "_f32" in self._buffers:
                f32 = self._buffers[name + "_f32"][:n]
                f32.copy_(buf)
                buf = f32
            outs.append(buf.view(shape))
        return outs[0], outs[1]

    def run(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_network_input(image)
        torch = self._torch
        b, _, h, w = image.shape
        self._set_shape((b, h, w))
        n = b * h * w
        s = self._stream
        host_in = self._buffers["image_host"][:n]
        host_in.numpy()[:] = image.reshape(-1)
        with torch.cuda.stream(s):
            dev_in = self._buffers["image"][:n]
            if "image_f32" in self._buffers:
                staged = self._buffers["image_f32"][:n]
                staged.copy_(host_in, non_blocking=True)
                dev_in.copy_(staged)
            else:
                dev_in.copy_(host_in, non_blocking=True)
            self.infer(s)
            outs = self._outputs_device(b, h, w)
            hosts = []
            for name, out in zip(OUTPUT_NAMES, outs):
                host = self._buffers[name + "_host"][: out.numel()]
                host.copy_(out.reshape(-1), non_blocking=True)
                hosts.append(host)
        s.synchronize()  # the one synchronisation per call
        logits = hosts[0].numpy().reshape(outs[0].shape)
        desc = hosts[1].numpy().reshape(outs[1].shape)
        return logits, desc

    def info(self) -> dict[str, Any]:
        d = super().info()
        d.update(
            tensorrt=str(self.trt_version),
            gpu=self.gpu.name,
            compute_capability=list(self.gpu.compute_capability),
            profile=str(self.profile),
            plan=str(self.plan_path),
            cache_decision={"action": self.decision.action, "reason": self.decision.reason},
            startup=self.startup.to_dict(),
            strongly_typed=self.strategy.strongly_typed,
            onnx_dtype=self.strategy.onnx_dtype,
        )
        return d


def build_engine(
    weights: Weights,
    precision: str = "fp16",
    min_shape: str | tuple[int, int, int] = DEFAULT_PROFILE.min,
    opt_shape: str | tuple[int, int, int] = DEFAULT_PROFILE.opt,
    max_shape: str | tuple[int, int, int] = DEFAULT_PROFILE.max,
    cache_dir: str | Path | None = None,
    device: str = "cuda",
) -> Path:
    """Build (or find in the cache) the engine for a profile ahead of time; returns the serialized plan's path.

    Shapes are BxHxW strings or (B, H, W) triples; ``cache_dir`` None is the default engine cache. The plan's JSON
    sidecar (:func:`~.cache.describe_plan`) says what it was built for.
    """
    profile = ShapeProfile(parse_shape(min_shape), parse_shape(opt_shape), parse_shape(max_shape))
    eng = TensorRTEngine(weights, precision, device, profile=profile, cache_dir=cache_dir, allocate=False)
    return eng.plan_path
