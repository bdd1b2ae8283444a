"""The SuperPoint network (DeTone et al. 2018): a VGG-style encoder, a detector head, a descriptor head.

Layer names follow the original release (conv1a ... conv4b, convPa, convPb, convDa, convDb), so the
original ``superpoint_v1.pth`` state dict loads unchanged.

Shapes: input ``(B, 1, H, W)`` float in [0, 1], H and W multiples of 8. Outputs
``logits (B, 65, H/8, W/8)`` (64 cell positions + 1 "no point" dustbin, before the softmax) and
``descriptors (B, 256, H/8, W/8)``, L2-normalised over the 256 channels (as the original forward).

Training may add batch normalisation after every convolution (``batch_norm=True``, layer names
``bn1a`` ... ``bnDb``); :func:`fold_batch_norm` folds it into the convolutions, giving a plain
original-format state dict for inference.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .network_spec import (
    CELL,
    CONV_LAYERS,
    DESCRIPTOR_DIM,
    LINEAR_OUTPUT_LAYERS,
    batch_norm_name,
    expected_state_dict_shapes,
)

__all__ = [
    "CELL",
    "CONV_LAYERS",
    "DESCRIPTOR_DIM",
    "LINEAR_OUTPUT_LAYERS",
    "SuperPointNet",
    "expected_state_dict_shapes",
    "fold_batch_norm",
]


class SuperPointNet(nn.Module):
    """SuperPoint encoder + detector head + descriptor head.

    Args:
        batch_norm: add a BatchNorm2d after every convolution (training only; fold before export).
        normalize_descriptors: L2-normalise the coarse descriptors in ``forward`` (the original
            release does; the descriptor loss expects it).
    """

    def __init__(self, batch_norm: bool = False, normalize_descriptors: bool = True) -> None:
        super().__init__()
        self.batch_norm = batch_norm
        self.normalize_descriptors = normalize_descriptors
        for name, cin, cout, k in CONV_LAYERS:
            setattr(self, name, nn.Conv2d(cin, cout, kernel_size=k, stride=1, padding=k // 2))
            if batch_norm:
                setattr(self, batch_norm_name(name), nn.BatchNorm2d(cout))
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)  # type: ignore[arg-type]

    def _conv(self, name: str, x: torch.Tensor) -> torch.Tensor:
        x = getattr(self, name)(x)
        if self.batch_norm:
            x = getattr(self, batch_norm_name(name))(x)
        return x if name in LINEAR_OUTPUT_LAYERS else F.relu(x)

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        """(B,1,H,W) -> shared features (B,128,H/8,W/8)."""
        x = self._conv("conv1b", self._conv("conv1a", image))
        x = self.pool(x)
        x = self._conv("conv2b", self._conv("conv2a", x))
        x = self.pool(x)
        x = self._conv("conv3b", self._conv("conv3a", x))
        x = self.pool(x)
        return self._conv("conv4b", self._conv("conv4a", x))

    def detector_head(self, features: torch.Tensor) -> torch.Tensor:
        """(B,128,Hc,Wc) -> logits (B,65,Hc,Wc)."""
        return self._conv("convPb", self._conv("convPa", features))

    def descriptor_head(self, features: torch.Tensor) -> torch.Tensor:
        """(B,128,Hc,Wc) -> coarse descriptors (B,256,Hc,Wc), L2-normalised if configured."""
        desc = self._conv("convDb", self._conv("convDa", features))
        if self.normalize_descriptors:
            desc = F.normalize(desc, p=2.0, dim=1, eps=1e-12)
        return desc

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,1,H,W) float in [0,1] -> (logits (B,65,H/8,W/8), descriptors (B,256,H/8,W/8))."""
        features = self.encode(image)
        return self.detector_head(features), self.descriptor_head(features)


def fold_batch_norm(state_dict: dict[str, torch.Tensor], eps: float = 1e-5) -> dict[str, torch.Tensor]:
    """Fold ``bnXX`` layers of a batch-norm state dict into the convolutions (eval-mode statistics).

    Returns a plain original-format state dict (keys of :func:`expected_state_dict_shapes`). A state
    dict with no batch-norm keys is returned with only its conv keys, unchanged.
    """
    out: dict[str, torch.Tensor] = {}
    for name, _cin, _cout, _k in CONV_LAYERS:
        w = state_dict[f"{name}.weight"].detach().double()
        b = state_dict[f"{name}.bias"].detach().double()
        bn = batch_norm_name(name)
        if f"{bn}.running_mean" in state_dict:
            gamma = state_dict[f"{bn}.weight"].double()
            beta = state_dict[f"{bn}.bias"].double()
            mean = state_dict[f"{bn}.running_mean"].double()
            var = state_dict[f"{bn}.running_var"].double()
            scale = gamma / torch.sqrt(var + eps)
            w = w * scale[:, None, None, None]
            b = (b - mean) * scale + beta
        out[f"{name}.weight"] = w.float().contiguous()
        out[f"{name}.bias"] = b.float().contiguous()
    return out
