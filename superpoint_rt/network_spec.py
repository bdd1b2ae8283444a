"""The network's layer table, free of torch (the inference core imports it without torch)."""

from __future__ import annotations

#: (name, in_channels, out_channels, kernel) of every convolution, in order.
CONV_LAYERS: tuple[tuple[str, int, int, int], ...] = (
    ("conv1a", 1, 64, 3),
    ("conv1b", 64, 64, 3),
    ("conv2a", 64, 64, 3),
    ("conv2b", 64, 64, 3),
    ("conv3a", 64, 128, 3),
    ("conv3b", 128, 128, 3),
    ("conv4a", 128, 128, 3),
    ("conv4b", 128, 128, 3),
    ("convPa", 128, 256, 3),
    ("convPb", 256, 65, 1),
    ("convDa", 128, 256, 3),
    ("convDb", 256, 256, 1),
)
#: Layers followed by no ReLU (the heads' last 1x1 convolutions).
LINEAR_OUTPUT_LAYERS = ("convPb", "convDb")
DESCRIPTOR_DIM = 256
#: the detector's cell: one output position per 8x8 pixels
CELL = 8
#: detector classes per cell: the CELL * CELL pixel positions + the "no point" dustbin
DETECTOR_CHANNELS = CELL * CELL + 1


def batch_norm_name(conv: str) -> str:
    """The batch norm that follows a convolution in a batch-norm network: ``convPa`` -> ``bnPa``."""
    if not conv.startswith("conv"):
        raise ValueError(f"{conv!r} is not a convolution name (conv1a ... convDb)")
    return "bn" + conv[4:]


def conv_name(module: str) -> str:
    """The convolution a module belongs to: ``bnPa`` -> ``convPa``; a convolution's own name is returned as is."""
    return "conv" + module[2:] if module.startswith("bn") else module


def expected_state_dict_shapes() -> dict[str, tuple[int, ...]]:
    """Keys and shapes of a plain (original-release format) state dict."""
    shapes: dict[str, tuple[int, ...]] = {}
    for name, cin, cout, k in CONV_LAYERS:
        shapes[f"{name}.weight"] = (cout, cin, k, k)
        shapes[f"{name}.bias"] = (cout,)
    return shapes
