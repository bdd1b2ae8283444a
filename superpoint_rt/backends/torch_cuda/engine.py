"""PyTorch CUDA engine: FP16 (default), channels_last, cudnn.benchmark, one CUDA graph per input shape.

The forward runs the encoder and both heads in the compute dtype (FP16/BF16/FP32) and returns FP32 outputs; the
descriptor L2 normalisation is done in FP32 (in FP16 the sum of 256 squares overflows for descriptors above ~16),
and so is the softmax downstream. A graph is captured per (batch, height, width) on first use, after a warm-up on the
engine's stream (cudnn.benchmark chooses its algorithms there, outside the capture); later frames of that shape copy
into the graph's static input and replay it: one launch for the whole network. Shapes that cannot be captured run
eagerly (recorded in ``info()["graph_failures"]``).

``run`` (host float32 in, host float32 out, one synchronisation) satisfies the :class:`Engine` interface;
``run_device`` keeps input and outputs on the GPU for the fused post-processing.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from ...network_spec import CELL, DETECTOR_CHANNELS
from ...weights import Weights
from ..base import BackendUnavailableError, Engine, check_network_input
from .graphs import GraphCache

CUDA_PRECISIONS = ("fp16", "bf16", "fp32")


def make_forward(net: Any, compute_dtype: Any, channels_last: bool = True) -> Callable[[Any], tuple[Any, Any]]:
    """The graph body: x (B, 1, H, W) float32 -> (logits (B, 65, H/8, W/8), descriptors (B, 256, H/8, W/8)) float32.

    ``net`` is a :class:`~superpoint_rt.network.SuperPointNet` built with ``normalize_descriptors=False`` and cast to
    ``compute_dtype``; the normalisation x / max(||x||, 1e-12) runs here in FP32. Device-agnostic (tested on the CPU).
    """
    import torch
    from torch.nn import functional as F

    if getattr(net, "normalize_descriptors", False):
        raise ValueError("make_forward needs a SuperPointNet(normalize_descriptors=False): it normalises in FP32")

    def forward(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.to(compute_dtype)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        feats = net.encode(x)
        logits = net.detector_head(feats).float()
        desc = F.normalize(net.descriptor_head(feats).float(), p=2.0, dim=1, eps=1e-12)
        return logits.contiguous(), desc.contiguous()

    return forward


def build_net(weights: Weights, device: Any, compute_dtype: Any, channels_last: bool = True) -> Any:
    """SuperPointNet with ``weights`` on ``device`` in ``compute_dtype``, unnormalised descriptor head, eval mode."""
    import torch

    from ...network import SuperPointNet

    if weights.state_dict is None:
        raise BackendUnavailableError("the PyTorch engines need state-dict weights, not an ONNX file")
    net = SuperPointNet(normalize_descriptors=False)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.state_dict.items()}, strict=True)
    net = net.eval().to(device=device, dtype=compute_dtype)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    for p in net.parameters():
        p.requires_grad_(False)
    return net


@dataclass
class _Graph:
    graph: Any
    static_input: Any  # (B, 1, H, W) float32 on the GPU
    logits: Any  # outputs written by every replay
    descriptors: Any


class TorchCUDAEngine(Engine):
    """SuperPoint in PyTorch on a CUDA GPU.

    Args:
        weights: state-dict weights.
        precision: "fp16" (default), "bf16" (compute capability >= 8.0) or "fp32" (TF32 convolutions allowed).
        device: "cuda" or "cuda:N".
        cuda_graphs: capture one CUDA graph per input shape (False: eager every call).
        max_graphs: captured graphs kept (LRU).
        warmup: eager iterations before a capture (cudnn.benchmark's algorithm search happens there).
    """

    name = "torch"

    def __init__(
        self,
        weights: Weights,
        precision: str = "fp16",
        device: str = "cuda",
        *,
        cuda_graphs: bool = True,
        max_graphs: int = 8,
        warmup: int = 2,
    ) -> None:
        super().__init__()
        try:
            import torch
        except ImportError as e:
            raise BackendUnavailableError("the CUDA engine needs torch with CUDA (pip install torch==2.13.0)") from e
        if precision not in CUDA_PRECISIONS:
            raise BackendUnavailableError(f"CUDA precision must be one of {CUDA_PRECISIONS}, got {precision!r}")
        dev = torch.device(device)
        if dev.type != "cuda":
            raise BackendUnavailableError(f"TorchCUDAEngine runs on a CUDA device, got device={device!r}")
        if not torch.cuda.is_available():
            raise BackendUnavailableError("device='cuda' requested but torch sees no CUDA GPU")
        if precision == "bf16" and not torch.cuda.is_bf16_supported():
            raise BackendUnavailableError("precision='bf16' needs a GPU with compute capability >= 8.0")
        if int(warmup) != warmup or warmup < 1:
            raise ValueError(f"warmup must be an integer >= 1, got {warmup}")
        self._torch = torch
        self._device = torch.device("cuda", dev.index if dev.index is not None else torch.cuda.current_device())
        self.device = str(self._device)
        self.precision = precision
        self.cuda_graphs = bool(cuda_graphs)
        self.warmup = int(warmup)
        torch.backends.cudnn.benchmark = True
        if precision == "fp32":
            torch.backends.cudnn.allow_tf32 = True
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[precision]
        self.net = build_net(weights, self._device, dtype)
        self._forward = make_forward(self.net, dtype)
        self._stream = torch.cuda.Stream(device=self._device)
        self._graphs: GraphCache[_Graph] = GraphCache(self._capture, max_graphs=max_graphs)
        self._host: dict[tuple[int, int, int], tuple[Any, Any, Any]] = {}

    # ---- capture / replay ---------------------------------------------------------------------------------------

    def _capture(self, shape: Hashable) -> _Graph:
        torch = self._torch
        b, h, w = cast(tuple[int, int, int], shape)
        static_input = torch.zeros((b, 1, h, w), dtype=torch.float32, device=self._device)
        s = self._stream
        s.wait_stream(torch.cuda.current_stream(self._device))
        with torch.no_grad(), torch.cuda.stream(s):
            for _ in range(self.warmup):  # cudnn.benchmark autotunes here, outside the capture
                self._forward(static_input)
        s.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.no_grad(), torch.cuda.graph(graph, stream=s):  # a private memory pool per graph
            logits, desc = self._forward(static_input)
        return _Graph(graph, static_input, logits, desc)

    def _execute(self, src: Any, shape: tuple[int, int, int], stream: Any) -> tuple[Any, Any]:
        """Enqueue the network on ``stream`` for ``src`` (a CUDA tensor, or a pinned host tensor copied in)."""
        torch = self._torch
        entry = self._graphs.get(shape) if self.cuda_graphs else None
        with torch.no_grad(), torch.cuda.stream(stream):
            if entry is None:
                return self._forward(src.to(self._device, non_blocking=True))
            entry.static_input.copy_(src, non_blocking=True)
            entry.graph.replay()
            return entry.logits, entry.descriptors

    def run_device(self, image: Any, stream: Any = None) -> tuple[Any, Any]:
        """Device in, device out: ``image`` a CUDA float32 tensor (B, 1, H, W), H and W multiples of 8 ->
        (logits, descriptors) CUDA float32 tensors, enqueued on ``stream`` (default the engine's). With graphs the
        outputs are the graph's static buffers: valid until the next call with the same shape."""
        if image.dim() != 4 or image.shape[1] != 1 or image.shape[2] % CELL or image.shape[3] % CELL:
            raise ValueError(
                f"run_device: image must be (B, 1, H, W) with H, W multiples of 8, got {tuple(image.shape)}"
            )
        shape = (int(image.shape[0]), int(image.shape[2]), int(image.shape[3]))
        return self._execute(image, shape, stream or self._stream)

    def _host_buffers(self, shape: tuple[int, int, int]) -> tuple[Any, Any, Any]:
        if shape not in self._host:
            torch = self._torch
            b, h, w = shape
            hc, wc = h // CELL, w // CELL
            if len(self._host) >= self._graphs.max_graphs:
                self._host.pop(next(iter(self._host)))
            self._host[shape] = (
                torch.empty((b, 1, h, w), dtype=torch.float32, pin_memory=True),
                torch.empty((b, DETECTOR_CHANNELS, hc, wc), dtype=torch.float32, pin_memory=True),
                torch.empty((b, 256, hc, wc), dtype=torch.float32, pin_memory=True),
            )
        return self._host[shape]

    def run(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_network_input(image)
        torch = self._torch
        b, _, h, w = image.shape
        shape = (b, h, w)
        host_in, host_logits, host_desc = self._host_buffers(shape)
        host_in.numpy()[:] = image
        s = self._stream
        logits, desc = self._execute(host_in, shape, s)
        with torch.cuda.stream(s):
            host_logits.copy_(logits, non_blocking=True)
            host_desc.copy_(desc, non_blocking=True)
        s.synchronize()  # the one synchronisation per call
        return host_logits.numpy(), host_desc.numpy()

    def info(self) -> dict[str, Any]:
        torch = self._torch
        d = super().info()
        d.update(
            torch=torch.__version__,
            gpu=torch.cuda.get_device_name(self._device),
            cuda_graphs=self.cuda_graphs,
            graphs=["x".join(map(str, cast(tuple[int, int, int], s))) for s in self._graphs.shapes()],
            graph_failures={str(k): v for k, v in self._graphs.stats.failures.items()},
            cudnn_benchmark=bool(torch.backends.cudnn.benchmark),
        )
        return d
