"""The network's arithmetic at a given input size, from its layer table (``network_spec.CONV_LAYERS``).

FLOPs are counted as 2 x multiply-accumulates of the convolutions (stride 1, "same" padding): 2 * Cin * Cout * k * k
per output pixel. Bias, ReLU, max-pooling and the descriptor normalisation are left out (together < 0.5% of the
total); that is the usual convention and the one a GEMM peak is measured in. The encoder halves the resolution after
``conv1b``, ``conv2b`` and ``conv3b`` (2x2 max-pool, as :class:`superpoint_rt.network.SuperPointNet` and the ONNX
export build it), so conv1* run at H x W, conv2* at H/2, conv3* at H/4, conv4* and both heads at H/8.
"""

from __future__ import annotations

from ...network_spec import CELL, CONV_LAYERS

#: the convolutions after which the encoder max-pools 2x2 (three pools: H/8 = H / CELL)
POOLED_AFTER = ("conv1b", "conv2b", "conv3b")


def layer_flops(height: int, width: int, batch: int = 1) -> list[tuple[str, int]]:
    """``[(layer name, FLOPs)]`` in network order for ``batch`` images of ``height`` x ``width`` (multiples of 8,
    as the pipeline pads them)."""
    if height % CELL or width % CELL or height < CELL or width < CELL:
        raise ValueError(f"height and width must be positive multiples of {CELL}, got {height}x{width}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    h, w = height, width
    out = []
    for name, cin, cout, k in CONV_LAYERS:
        out.append((name, 2 * cin * cout * k * k * h * w * batch))
        if name in POOLED_AFTER:
            h, w = h // 2, w // 2
    return out


def network_flops(height: int, width: int, batch: int = 1) -> int:
    """FLOPs of one network pass over ``batch`` images of ``height`` x ``width`` (see the module docstring)."""
    return sum(f for _, f in layer_flops(height, width, batch))


def padded(height: int, width: int) -> tuple[int, int]:
    """The size the pipeline runs the network at: each side rounded up to a multiple of 8."""
    return -(-height // CELL) * CELL, -(-width // CELL) * CELL
