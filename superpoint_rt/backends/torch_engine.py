"""PyTorch engine: CPU (FP32, or BF16 autocast + channels_last) and CUDA (FP32/FP16).

torch is optional for inference: this module imports it only when the engine is created.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..weights import Weights
from .base import BackendUnavailableError, Engine, check_network_input


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


class TorchEngine(Engine):
    """The network in PyTorch eager mode.

    Args:
        weights: state-dict weights (ONNX weights cannot run here).
        precision: "fp32"; "bf16" (CPU autocast, channels_last); "fp16" (CUDA only).
        device: "cpu", "cuda" or "cuda:N".
        num_threads: torch intra-op threads on the CPU (None: leave torch's setting).
    """

    name = "torch"

    def __init__(
        self, weights: Weights, precision: str = "fp32", device: str = "cpu", num_threads: int | None = None
    ) -> None:
        super().__init__()
        try:
            import torch
        except ImportError as e:
            raise BackendUnavailableError("backend 'torch' needs torch (pip install torch==2.13.0)") from e
        from ..network import SuperPointNet

        if weights.state_dict is None:
            raise BackendUnavailableError("backend 'torch' needs state-dict weights, not an ONNX file")
        if precision not in ("fp32", "bf16", "fp16"):
            raise ValueError(f"torch precision must be fp32, bf16 or fp16, got {precision!r}")
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailableError("device='cuda' requested but torch sees no CUDA GPU")
        if precision == "fp16" and dev.type != "cuda":
            raise BackendUnavailableError("precision='fp16' with backend 'torch' needs a CUDA device")
        if num_threads is not None:
            if num_threads < 1:
                raise ValueError(f"num_threads must be >= 1, got {num_threads}")
            torch.set_num_threads(int(num_threads))
        self._torch = torch
        self.precision = precision
        self.device = str(dev)
        net = SuperPointNet()
        net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.state_dict.items()}, strict=True)
        net.eval().to(dev)
        self._channels_last = precision in ("bf16", "fp16")
        if self._channels_last:
            net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if precision == "fp16":
            net = net.half()
        self.net = net

    def run(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_network_input(image)
        torch = self._torch
        x = torch.from_numpy(image).to(self.device)
        if self._channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            if self.precision == "bf16":
                with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16):
                    logits, desc = self.net(x)
            elif self.precision == "fp16":
                logits, desc = self.net(x.half())
            else:
                logits, desc = self.net(x)
        return (
            logits.float().contiguous().cpu().numpy(),
            desc.float().contiguous().cpu().numpy(),
        )

    def info(self) -> dict[str, Any]:
        d = super().info()
        d.update(torch=self._torch.__version__, threads=self._torch.get_num_threads())
        return d
