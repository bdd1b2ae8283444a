"""The engine interface every backend implements.

An engine runs the network only: ``run(image)`` takes float32 ``(B, 1, H, W)`` in [0, 1], H and W multiples
of 8, and returns ``(logits (B, 65, H/8, W/8), descriptors (B, 256, H/8, W/8))`` as float32 NumPy arrays.
The arrays may be views into buffers the engine reuses: they are valid until the next ``run`` call.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np


class BackendUnavailableError(RuntimeError):
    """The requested backend or precision cannot run on this machine (package or hardware missing)."""


class Engine(abc.ABC):
    """A SuperPoint network engine (one backend x precision x device)."""

    #: backend name: "openvino" | "onnxruntime" | "torch" | "tensorrt"
    name: str = ""
    #: "fp32" | "bf16" | "fp16" | "int8"
    precision: str = "fp32"
    #: "cpu" or "cuda:N"
    device: str = "cpu"
    #: how the engine was chosen when the caller left the precision to the rule
    #: (:meth:`superpoint_rt.backends.auto.AutoChoice.as_dict`), else None
    chosen_by: dict[str, Any] | None = None

    def __init__(self) -> None:
        #: seconds spent compiling per input shape (B, H, W): the first-frame cost
        self.compile_seconds: dict[tuple[int, int, int], float] = {}

    @abc.abstractmethod
    def run(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B,1,H,W) float32 -> (logits (B,65,H/8,W/8), descriptors (B,256,H/8,W/8)) float32."""

    def info(self) -> dict[str, Any]:
        """What runs: backend, precision, device and engine-specific details."""
        d: dict[str, Any] = {"backend": self.name, "precision": self.precision, "device": self.device}
        if self.chosen_by is not None:
            d["chosen_by"] = self.chosen_by
        return d

    def __repr__(self) -> str:
        return f"{type(self).__name__}(precision={self.precision!r}, device={self.device!r})"


def check_network_input(image: np.ndarray) -> None:
    """Validate an engine input: float32 (B,1,H,W), H and W positive multiples of 8."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"engine input must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.float32:
        raise TypeError(f"engine input must be float32, got {image.dtype}")
    if image.ndim != 4 or image.shape[1] != 1:
        raise ValueError(f"engine input must have shape (B,1,H,W), got {image.shape}")
    b, _, h, w = image.shape
    if b < 1 or h < 8 or w < 8 or h % 8 or w % 8:
        raise ValueError(f"engine input needs B >= 1 and H, W positive multiples of 8, got {image.shape}")
