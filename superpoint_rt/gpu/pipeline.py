"""The GPU path: uint8 frames in, keypoints + descriptors out, on one CUDA stream with one synchronisation per call.

    pipe = GpuPipeline(weights, backend="tensorrt")     # or backend="torch" (CUDA graphs)
    feats = pipe(frame)                                 # Features, like SuperPoint(...)(frame)

Per call: the frames are copied into a pinned staging buffer and uploaded asynchronously; gray conversion (OpenCV's
exact fixed-point BGR->gray), scaling to [0, 1] and edge padding to multiples of 8 run on the GPU; the engine writes
its outputs into device buffers (``run_device``); :class:`CudaPostprocess` runs the fused CUDA post-processing
(``_C.postprocess_cuda``: heatmap + threshold, NMS equal to the CPU's greedy NMS, sorted top-k, optional sub-pixel
refinement, descriptor sampling + normalisation) on them; descriptors are written by the kernel straight into mapped
pinned host memory and the few keypoint/score/count bytes are copied back; then the stream is synchronised once and
the results are sliced. Semantics are those of :class:`superpoint_rt.SuperPoint` on the CPU (same keypoints;
descriptors within float rounding of the engine's precision).

``device="cpu"`` runs the same code path with a PyTorch CPU forward and the CPU twin of the CUDA kernels
(``_C.postprocess_grid_cpu``): slow, for tests on machines without a GPU.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._ext import load_ext
from ..backends.base import BackendUnavailableError
from ..batch import BatchFeatures
from ..options import SuperPointOptions, option_names
from ..preprocess import check_image, split_images
from ..subpixel import IMAGE_SUBPIXEL_METHODS
from ..types import Features
from ..weights import Weights, load_weights

#: OpenCV's fixed-point BGR -> gray for uint8 (15-bit weights summing to 2^15, rounded): exact for all 2^24 colours
GRAY_WEIGHTS_BGR = (3735, 19235, 9798)
GRAY_SHIFT = 15
#: OpenCV's float BGR -> gray weights
GRAY_WEIGHTS_BGR_FLOAT = (0.114, 0.587, 0.299)


def gray_uint8_torch(frames: Any) -> Any:
    """(B, H, W, 3|4) uint8 BGR[A] torch tensor -> (B, H, W) uint8 gray, bit-identical to cv2.cvtColor."""
    import torch

    x = frames[..., :3].to(torch.int32)
    wb, wg, wr = GRAY_WEIGHTS_BGR
    g = (x[..., 0] * wb + x[..., 1] * wg + x[..., 2] * wr + (1 << (GRAY_SHIFT - 1))) >> GRAY_SHIFT
    return g.to(torch.uint8)


def to_network_input_torch(frames: Any) -> Any:
    """(B, H, W[, C]) uint8 or float32 torch tensor -> (B, 1, H8, W8) float32 in [0, 1], edge-padded to multiples of
    8 (bottom/right), as :func:`superpoint_rt.preprocess.to_gray_float` + ``pad_to_multiple``."""
    import torch
    from torch.nn import functional as F

    if frames.dim() == 4 and frames.shape[-1] == 1:
        frames = frames[..., 0]
    if frames.dim() == 4:
        if frames.dtype == torch.uint8:
            gray = gray_uint8_torch(frames).to(torch.float32) / 255.0
        else:
            wb, wg, wr = GRAY_WEIGHTS_BGR_FLOAT
            gray = (frames[..., 0] * wb + frames[..., 1] * wg + frames[..., 2] * wr).clamp_(0.0, 1.0)
    elif frames.dtype == torch.uint8:
        gray = frames.to(torch.float32) / 255.0
    else:
        gray = frames.to(torch.float32).clamp(0.0, 1.0)
    h, w = int(gray.shape[1]), int(gray.shape[2])
    ph, pw = (-h) % 8, (-w) % 8
    x = gray[:, None]
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    return x.contiguous()


def _check_frames(items: Sequence[np.ndarray]) -> None:
    """The CPU API's checks (dtype, dims, size, finite float in [0, 1]), without converting anything."""
    for im in items:
        check_image(im)


@dataclass
class _PostBuffers:
    key: tuple[Any, ...]
    k_out: int
    workspace: Any
    keypoints: Any
    scores: Any
    counts: Any
    error: Any
    descriptors: Any  # mapped pinned host (GPU) or host (CPU twin)
    keypoints_host: Any
    scores_host: Any
    counts_host: Any
    error_host: Any


class CudaPostprocess:
    """The fused CUDA post-processing on torch tensors (``_C.postprocess_cuda``), buffers allocated once per shape.

    Args:
        options: the detection options (:class:`~superpoint_rt.options.SuperPointOptions`; ``convention`` None =
            "center"); keyword ``overrides`` (``conf_threshold=...``) are applied on top, validated there.
        device: "cuda[:N]"; "cpu" runs the kernels' CPU twin (tests).
        grid_sweeps: NMS sweeps over every pixel before the per-image finish kernel (a tuning knob; any value
            gives the same result).
    """

    def __init__(
        self,
        options: SuperPointOptions | None = None,
        device: str = "cuda",
        grid_sweeps: int = 2,
        **overrides: Any,
    ) -> None:
        import torch

        if isinstance(grid_sweeps, bool) or int(grid_sweeps) != grid_sweeps or grid_sweeps < 0:
            raise ValueError(f"grid_sweeps must be an integer >= 0, got {grid_sweeps}")
        self._torch = torch
        self._C = load_ext()
        self.device = torch.device(device)
        if self.device.type == "cuda":
            if not hasattr(self._C, "postprocess_cuda"):
                raise BackendUnavailableError(
                    "superpoint_rt._C was built without CUDA: rebuild where nvcc is found (SUPERPOINT_RT_CUDA=1)"
                )
            if not torch.cuda.is_available():
                raise BackendUnavailableError("CudaPostprocess needs a CUDA GPU; torch sees none")
        elif not hasattr(self._C, "postprocess_grid_cpu"):
            raise BackendUnavailableError("superpoint_rt._C lacks the CPU twins of the CUDA kernels")
        self.grid_sweeps = int(grid_sweeps)
        self._buffers: dict[tuple[Any, ...], _PostBuffers] = {}
        self.configure((options or SuperPointOptions()).replace(**overrides))

    def configure(self, options: SuperPointOptions) -> None:
        """Take new detection options (buffers sized by max_keypoints / nms_radius / border are re-made lazily)."""
        if options.scales != (1.0,):
            raise ValueError("multi-scale detection (scales) runs on the CPU path only (not yet on the GPU)")
        self.options = options if options.convention is not None else options.replace(convention="center")
        self._buffers.clear()

    @property
    def conf_threshold(self) -> float:
        return self.options.conf_threshold

    @property
    def nms_radius(self) -> int:
        return self.options.nms_radius

    @property
    def border(self) -> int:
        return self.options.border

    @property
    def max_keypoints(self) -> int | None:
        return self.options.max_keypoints

    @property
    def interpolation(self) -> str:
        return self.options.interpolation

    @property
    def convention(self) -> str:
        return str(self.options.convention)

    def _k_out(self, b: int, hc: int, wc: int, valid: tuple[int, int]) -> int:
        mk = -1 if self.max_keypoints is None else int(self.max_keypoints)
        return int(self._C.postprocess_k_out(b, hc, wc, self.nms_radius, self.border, mk, valid[0], valid[1]))

    def _get_buffers(self, b: int, c: int, hc: int, wc: int, valid: tuple[int, int]) -> _PostBuffers:
        key = (b, c, hc, wc, valid)
        if key in self._buffers:
            return self._buffers[key]
        torch = self._torch
        k = self._k_out(b, hc, wc, valid)
        dev = self.device
        pin = dev.type == "cuda"
        if dev.type == "cuda":
            mk = -1 if self.max_keypoints is None else int(self.max_keypoints)
            nbytes = int(
                self._C.postprocess_workspace_bytes(b, hc, wc, c, self.nms_radius, self.border, mk, valid[0], valid[1])
            )
            workspace = torch.empty(max(nbytes, 1), dtype=torch.uint8, device=dev)
        else:
            workspace = None
        bufs = _PostBuffers(
            key=key,
            k_out=k,
            workspace=workspace,
            keypoints=torch.empty((b, k, 2), dtype=torch.float32, device=dev),
            scores=torch.empty((b, k), dtype=torch.float32, device=dev),
            counts=torch.empty((b,), dtype=torch.int32, device=dev),
            error=torch.zeros((1,), dtype=torch.int32, device=dev),
            # write-only for the kernels: mapped pinned host memory (UVA), so only valid rows cross the bus
            descriptors=torch.empty((b, k, c), dtype=torch.float32, pin_memory=pin),
            keypoints_host=torch.empty((b, k, 2), dtype=torch.float32, pin_memory=pin),
            scores_host=torch.empty((b, k), dtype=torch.float32, pin_memory=pin),
            counts_host=torch.empty((b,), dtype=torch.int32, pin_memory=pin),
            error_host=torch.zeros((1,), dtype=torch.int32, pin_memory=pin),
        )
        if len(self._buffers) >= 8:
            self._buffers.pop(next(iter(self._buffers)))
        self._buffers[key] = bufs
        return bufs

    @property
    def needs_image(self) -> bool:
        """Whether the post-processing reads the network input (``subpixel_method="forstner"``)."""
        return bool(self.options.subpixel) and self.options.subpixel_method in IMAGE_SUBPIXEL_METHODS

    def enqueue(
        self, logits: Any, coarse: Any, valid_size: tuple[int, int], stream: Any = None, image: Any = None
    ) -> _PostBuffers:
        """Enqueue on ``stream`` (GPU) or run now (CPU twin). logits (B, 65, Hc, Wc), coarse (B, C, Hc, Wc), float32 or
        float16 tensors on this device; ``valid_size`` (h, w) the unpadded image size; ``image`` the network input
        (B, 1, 8 Hc, 8 Wc) float32 on this device, which ``subpixel_method="forstner"`` reads (else ignored). Returns
        the result buffers."""
        torch = self._torch
        if logits.dim() != 4 or logits.shape[1] != 65 or coarse.dim() != 4 or coarse.shape[0] != logits.shape[0]:
            raise ValueError(f"expected logits (B,65,Hc,Wc) and coarse (B,C,Hc,Wc), got {logits.shape}, {coarse.shape}")
        if tuple(coarse.shape[2:]) != tuple(logits.shape[2:]):
            raise ValueError(f"logits and coarse spatial sizes differ: {logits.shape}, {coarse.shape}")
        for t in (logits, coarse):
            if t.dtype not in (torch.float32, torch.float16):
                raise TypeError(f"expected float32 or float16 tensors, got {t.dtype}")
        b, _, hc, wc = (int(v) for v in logits.shape)
        c = int(coarse.shape[1])
        vh, vw = int(valid_size[0]), int(valid_size[1])
        bufs = self._get_buffers(b, c, hc, wc, (vh, vw))
        logits = logits.contiguous()
        coarse = coarse.contiguous()
        if self.needs_image:
            if image is None:
                raise ValueError(
                    f"subpixel_method={self.options.subpixel_method!r} needs the network input (image=...)"
                )
            if tuple(image.shape) != (b, 1, 8 * hc, 8 * wc) or image.dtype != torch.float32:
                raise ValueError(
                    f"image must be float32 (B, 1, 8 Hc, 8 Wc) = {(b, 1, 8 * hc, 8 * wc)}, got {image.dtype} "
                    f"{tuple(image.shape)}"
                )
            if image.device != logits.device:
                raise ValueError(f"image is on {image.device}, the logits on {logits.device}")
            image = image.contiguous()
        else:
            image = None
        if self.device.type != "cuda":
            self._run_cpu_twin(logits, coarse, (vh, vw), bufs, image)
            return bufs
        s = stream or torch.cuda.current_stream(self.device)
        mk = -1 if self.max_keypoints is None else int(self.max_keypoints)
        self._C.postprocess_cuda(
            logits.data_ptr(),
            logits.dtype == torch.float16,
            coarse.data_ptr(),
            coarse.dtype == torch.float16,
            b,
            hc,
            wc,
            c,
            self.conf_threshold,
            self.nms_radius,
            self.border,
            mk,
            vh,
            vw,
            self.interpolation,
            self.convention,
            bufs.workspace.data_ptr(),
            int(bufs.workspace.numel()),
            bufs.keypoints.data_ptr(),
            bufs.scores.data_ptr(),
            bufs.descriptors.data_ptr(),
            bufs.counts.data_ptr(),
            bufs.error.data_ptr(),
            int(s.cuda_stream),
            self.grid_sweeps,
            self.options.subpixel,
            self.options.subpixel_method,
            0 if image is None else image.data_ptr(),
        )
        with torch.cuda.stream(s):
            bufs.keypoints_host.copy_(bufs.keypoints, non_blocking=True)
            bufs.scores_host.copy_(bufs.scores, non_blocking=True)
            bufs.counts_host.copy_(bufs.counts, non_blocking=True)
            bufs.error_host.copy_(bufs.error, non_blocking=True)
        return bufs

    def _run_cpu_twin(
        self, logits: Any, coarse: Any, valid: tuple[int, int], bufs: _PostBuffers, image: Any = None
    ) -> None:
        mk = -1 if self.max_keypoints is None else int(self.max_keypoints)
        d = self._C.postprocess_grid_cpu(
            logits.numpy(),
            coarse.numpy(),
            self.conf_threshold,
            self.nms_radius,
            self.border,
            mk,
            valid[0],
            valid[1],
            self.interpolation,
            self.convention,
            subpixel=self.options.subpixel,
            subpixel_method=self.options.subpixel_method,
            image=None if image is None else image.numpy(),
        )
        torch = self._torch
        bufs.keypoints_host.copy_(torch.from_numpy(d["keypoints"]))
        bufs.scores_host.copy_(torch.from_numpy(d["scores"]))
        bufs.counts_host.copy_(torch.from_numpy(d["counts"]))
        bufs.descriptors.copy_(torch.from_numpy(d["descriptors"]))
        bufs.error_host.zero_()

    def collect(self, bufs: _PostBuffers, image_size: tuple[int, int]) -> list[Features]:
        """After the stream is synchronised: one Features per image (copies of the valid rows)."""
        err = int(bufs.error_host[0])
        if err & 1:
            raise ValueError("the network produced NaN or inf logits")
        if err & 2:
            raise ValueError("a sampled descriptor is not finite (NaN/inf in the coarse descriptor map)")
        kp = bufs.keypoints_host.numpy()
        sc = bufs.scores_host.numpy()
        de = bufs.descriptors.numpy()
        out = []
        for i, n in enumerate(bufs.counts_host.numpy().tolist()):
            out.append(Features(kp[i, :n].copy(), sc[i, :n].copy(), de[i, :n].copy(), image_size))
        return out

    def run(
        self, logits: Any, coarse: Any, valid_size: tuple[int, int], stream: Any = None, image: Any = None
    ) -> list[Features]:
        """enqueue + synchronise + collect."""
        bufs = self.enqueue(logits, coarse, valid_size, stream, image)
        if self.device.type == "cuda":
            (stream or self._torch.cuda.current_stream(self.device)).synchronize()
        return self.collect(bufs, (int(valid_size[0]), int(valid_size[1])))


class _CpuForward:
    """PyTorch CPU forward with the CUDA engine's interface (``run_device``), for ``device="cpu"`` tests."""

    name = "torch"
    precision = "fp32"
    device = "cpu"

    def __init__(self, weights: Weights) -> None:
        import torch

        from ..backends.torch_cuda import build_net, make_forward

        self._forward = make_forward(
            build_net(weights, "cpu", torch.float32, channels_last=False), torch.float32, False
        )

    def run_device(self, image: Any, stream: Any = None) -> tuple[Any, Any]:
        import torch

        with torch.no_grad():
            return self._forward(image)

    def info(self) -> dict[str, Any]:
        return {"backend": "torch", "precision": "fp32", "device": "cpu"}


class GpuPipeline:
    """SuperPoint end to end on a GPU: frames in, :class:`Features` out, one synchronisation per call.

    Args:
        weights: as :class:`SuperPoint` (None = the package default; "random" for tests); overrides
            ``options.weights``.
        options: :class:`~superpoint_rt.options.SuperPointOptions` (backend "tensorrt", "torch" (CUDA graphs) or
            "auto" = TensorRT when installed; precision None = "fp16"; device None = "cuda"; ``device="cpu"`` runs
            the same code path on the CPU: PyTorch FP32 + the kernels' CPU twin, for tests).
        **kwargs: option names (``conf_threshold=...``, ``backend=...``) override ``options``; any other keyword
            goes to the engine (TensorRT: profile, cache_dir, allow_build; torch: cuda_graphs, ...).
    """

    def __init__(
        self,
        weights: str | os.PathLike[str] | Weights | None = None,
        options: SuperPointOptions | None = None,
        **kwargs: Any,
    ) -> None:
        import torch

        changes = {k: v for k, v in kwargs.items() if k in option_names()}
        engine_options = {k: v for k, v in kwargs.items() if k not in changes}
        if weights is not None:
            changes["weights"] = weights
        opts = (options or SuperPointOptions(device="cuda")).replace(**changes)
        self._torch = torch
        self.weights = load_weights(opts.weights)
        if opts.convention is None:
            opts = opts.replace(convention=self.weights.convention or "center")
        self.device = torch.device(opts.device or "cuda")
        self.engine: Any
        if self.device.type == "cpu":
            self.engine = _CpuForward(self.weights)
            self._stream: Any = None
        else:
            backend = opts.backend if opts.backend in ("tensorrt", "torch") else "auto"
            precision = opts.precision or "fp16"
            self.engine = _create_gpu_engine(self.weights, backend, precision, str(self.device), engine_options)
            self._stream = torch.cuda.Stream(device=self.device)
        self.post = CudaPostprocess(opts, device=str(self.device))
        self._staging: dict[tuple[Any, ...], Any] = {}

    @property
    def options(self) -> SuperPointOptions:
        return self.post.options

    def configure(self, options: SuperPointOptions) -> None:
        """Take new detection options for the following calls."""
        self.post.configure(options)

    @property
    def backend(self) -> str:
        return str(self.engine.name)

    @property
    def precision(self) -> str:
        return str(self.engine.precision)

    def info(self) -> dict[str, Any]:
        d = dict(self.engine.info())
        d.update(pipeline="gpu", **{k: v for k, v in self.options.detection().items() if k != "scales"})
        return d

    def _upload(self, group: list[np.ndarray]) -> Any:
        torch = self._torch
        arr = np.stack(group)
        if self.device.type == "cpu":
            return torch.from_numpy(arr)
        key = (arr.shape, arr.dtype.str)
        if key not in self._staging:
            if len(self._staging) >= 8:
                self._staging.pop(next(iter(self._staging)))
            self._staging[key] = torch.empty(arr.shape, dtype=torch.from_numpy(arr[:0]).dtype, pin_memory=True)
        host = self._staging[key]
        host.numpy()[...] = arr
        with torch.cuda.stream(self._stream):
            return host.to(self.device, non_blocking=True)

    def __call__(self, images: np.ndarray | Sequence[np.ndarray]) -> Features | list[Features]:
        """Like ``SuperPoint.__call__``: one image -> Features; a list / batch -> list (equal sizes run batched)."""
        torch = self._torch
        items, is_batch = split_images(images)
        _check_frames(items)
        results: list[Features | None] = [None] * len(items)
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, im in enumerate(items):
            groups.setdefault((im.shape, im.dtype.str), []).append(i)
        for idx in groups.values():
            t0 = time.perf_counter()
            h, w = items[idx[0]].shape[:2]
            frames = self._upload([items[i] for i in idx])
            if self.device.type == "cpu":
                x = to_network_input_torch(frames)
                logits, coarse = self.engine.run_device(x)
                feats = self.post.run(logits, coarse, (h, w), image=x)
            else:
                with torch.cuda.stream(self._stream):
                    x = to_network_input_torch(frames)
                logits, coarse = self.engine.run_device(x, self._stream)
                bufs = self.post.enqueue(logits, coarse, (h, w), self._stream, image=x)
                self._stream.synchronize()  # the one synchronisation of the call
                feats = self.post.collect(bufs, (h, w))
            dt = (time.perf_counter() - t0) / len(idx)
            for j, i in enumerate(idx):
                feats[j].timings = {"e2e": dt}
                results[i] = feats[j]
        out = [r for r in results if r is not None]
        return out if is_batch else out[0]

    def batch(self, images: np.ndarray | Sequence[np.ndarray]) -> BatchFeatures:
        """Images of one size (a list or a (B, H, W[, C]) array) -> padded :class:`BatchFeatures`, straight from the
        kernels' output layout (K = max_keypoints, or the NMS capacity bound when None)."""
        torch = self._torch
        items, _ = split_images(images)
        _check_frames(items)
        if len({(im.shape, im.dtype.str) for im in items}) != 1:
            raise ValueError("GpuPipeline.batch needs images of one shape and dtype; call the pipeline for mixed sizes")
        t0 = time.perf_counter()
        h, w = items[0].shape[:2]
        frames = self._upload(items)
        if self.device.type == "cpu":
            x = to_network_input_torch(frames)
            logits, coarse = self.engine.run_device(x)
            bufs = self.post.enqueue(logits, coarse, (h, w), image=x)
        else:
            with torch.cuda.stream(self._stream):
                x = to_network_input_torch(frames)
            logits, coarse = self.engine.run_device(x, self._stream)
            bufs = self.post.enqueue(logits, coarse, (h, w), self._stream, image=x)
            self._stream.synchronize()
        self.post.collect(bufs, (h, w))  # raises on the kernels' error bits
        out = _batch_from_buffers(bufs, (h, w))
        out.timings = {"e2e": time.perf_counter() - t0}
        return out


def _batch_from_buffers(bufs: _PostBuffers, image_size: tuple[int, int]) -> BatchFeatures:
    """Padded host outputs -> BatchFeatures (rows past each count zeroed)."""
    counts = bufs.counts_host.numpy().astype(np.int64)
    kp = bufs.keypoints_host.numpy().copy()
    sc = bufs.scores_host.numpy().copy()
    de = bufs.descriptors.numpy().copy()
    k = kp.shape[1]
    pad = np.arange(k)[None, :] >= counts[:, None]
    kp[pad] = 0.0
    sc[pad] = 0.0
    de[pad] = 0.0
    return BatchFeatures(kp, sc, de, counts, image_size)


def _create_gpu_engine(weights: Weights, backend: str, precision: str, device: str, options: dict[str, Any]) -> Any:
    if backend == "auto":
        from ..backends.tensorrt import tensorrt_available

        backend = "tensorrt" if tensorrt_available() else "torch"
    if backend == "tensorrt":
        from ..backends.tensorrt import TensorRTEngine

        return TensorRTEngine(weights, precision, device, **options)
    if backend == "torch":
        from ..backends.torch_cuda import TorchCUDAEngine

        return TorchCUDAEngine(weights, precision, device, **options)
    raise ValueError(f"GPU backend must be 'tensorrt', 'torch' or 'auto', got {backend!r}")
