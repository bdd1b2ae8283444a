"""Choosing the training tensors' memory format by measurement.

On the CPU the better layout depends on the machine and precision: with BF16 on AMX / AVX512-BF16 the NHWC
(channels-last) kernels are the fast ones, while on an AMD EPYC Zen 2 in FP32 oneDNN's channels-last
convolution *backward* ran 2.5x slower than NCHW (64->64 3x3 at 240x320: 5.9 s vs 2.2 s for 8 images),
which made whole 2-process training steps 1.13x slower (bench/results/train_speed_zen2.json ``layout_ab``).
``channels_last: auto`` times the real network both ways.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import torch

from superpoint_rt.network import SuperPointNet


def time_train_pass(
    channels_last: bool, height: int, width: int, precision: str = "fp32", batch: int = 1, repeats: int = 2
) -> float:
    """Seconds of the best of ``repeats`` forward+backward passes of a fresh BN SuperPointNet on a
    (batch, 1, height, width) CPU input in the given layout (one untimed warm-up pass first)."""
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = SuperPointNet(batch_norm=True).to(memory_format=fmt)  # type: ignore[call-overload]
    net.train()
    x = torch.rand(batch, 1, height, width).contiguous(memory_format=fmt)
    amp: Any = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
    best = float("inf")
    for i in range(repeats + 1):
        net.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        with amp:
            semi, desc = net(x)
        (semi.float().square().mean() + desc.float().square().mean()).backward()
        if i:
            best = min(best, time.perf_counter() - t0)
    return best


def probe_channels_last(height: int, width: int, precision: str = "fp32") -> tuple[bool, dict[str, float]]:
    """Whether channels-last trains faster here, and the two timings (seconds per 1-image pass)."""
    t_cl = time_train_pass(True, height, width, precision)
    t_nchw = time_train_pass(False, height, width, precision)
    return t_cl < t_nchw, {"channels_last_s": round(t_cl, 4), "contiguous_s": round(t_nchw, 4)}
