"""ONNX export of SuperPoint weights, built straight from the state dict (no torch needed).

The graph: input ``image`` float32 (B, 1, H, W) with dynamic B, H, W (H, W multiples of 8); outputs ``logits``
(B, 65, H/8, W/8) and ``descriptors`` (B, 256, H/8, W/8), L2-normalised over channels (x / max(||x||, 1e-12), as
``torch.nn.functional.normalize``). Node names follow the original layer names. The weights' metadata goes into
the model's ``metadata_props["superpoint_rt"]`` as JSON. ``tests/test_export.py`` checks the graph against PyTorch.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .network_spec import CONV_LAYERS, LINEAR_OUTPUT_LAYERS
from .weights import Weights, WeightsError

OPSET = 17


def build_onnx(weights: Weights, dtype: str = "float32"):  # -> onnx.ModelProto
    """Build the ONNX model for ``weights`` (``dtype`` "float32", or "float16" for strongly typed FP16 engines).

    In the float16 graph the input and the convolutions are FP16; the descriptor normalisation is computed in
    FP32 (a Cast before it) and both outputs are FP32, so the softmax downstream is never fed FP16 overflow.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if weights.state_dict is None:
        if weights.onnx_path is None:
            raise WeightsError("weights have neither a state dict nor an ONNX file")
        return onnx.load(str(weights.onnx_path))
    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype must be 'float32' or 'float16', got {dtype!r}")
    np_dtype = np.float16 if dtype == "float16" else np.float32
    elem = TensorProto.FLOAT16 if dtype == "float16" else TensorProto.FLOAT
    sd = weights.state_dict
    inits = []
    nodes = []

    def conv(name: str, x: str, k: int) -> str:
        inits.append(numpy_helper.from_array(sd[f"{name}.weight"].astype(np_dtype), f"{name}.weight"))
        inits.append(numpy_helper.from_array(sd[f"{name}.bias"].astype(np_dtype), f"{name}.bias"))
        out = f"{name}_out"
        nodes.append(
            helper.make_node(
                "Conv",
                [x, f"{name}.weight", f"{name}.bias"],
                [out],
                name=name,
                kernel_shape=[k, k],
                pads=[k // 2] * 4,
                strides=[1, 1],
            )
        )
        if name in LINEAR_OUTPUT_LAYERS:
            return out
        nodes.append(helper.make_node("Relu", [out], [f"{name}_relu"], name=f"{name}_relu"))
        return f"{name}_relu"

    kernels = {name: k for name, _ci, _co, k in CONV_LAYERS}
    x = "image"
    for i, (a, b) in enumerate([("conv1a", "conv1b"), ("conv2a", "conv2b"), ("conv3a", "conv3b")]):
        x = conv(b, conv(a, x, kernels[a]), kernels[b])
        pool = f"pool{i + 1}"
        nodes.append(helper.make_node("MaxPool", [x], [pool], name=pool, kernel_shape=[2, 2], strides=[2, 2]))
        x = f"pool{i + 1}"
    feat = conv("conv4b", conv("conv4a", x, 3), 3)
    logits = conv("convPb", conv("convPa", feat, 3), 1)
    desc = conv("convDb", conv("convDa", feat, 3), 1)
    if dtype == "float16":
        nodes.append(helper.make_node("Cast", [logits], ["logits"], name="logits_fp32", to=TensorProto.FLOAT))
        nodes.append(helper.make_node("Cast", [desc], ["desc_fp32"], name="desc_fp32", to=TensorProto.FLOAT))
        desc = "desc_fp32"
    else:
        nodes.append(helper.make_node("Identity", [logits], ["logits"], name="logits"))
    inits.append(numpy_helper.from_array(np.array(1e-12, np.float32), "norm_eps"))
    nodes.append(helper.make_node("ReduceL2", [desc], ["desc_norm"], name="desc_norm", axes=[1], keepdims=1))
    nodes.append(helper.make_node("Max", ["desc_norm", "norm_eps"], ["desc_norm_clamped"], name="desc_norm_clamp"))
    nodes.append(helper.make_node("Div", [desc, "desc_norm_clamped"], ["descriptors"], name="desc_normalize"))

    graph = helper.make_graph(
        nodes,
        "superpoint",
        [helper.make_tensor_value_info("image", elem, ["batch", 1, "height", "width"])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 65, "height_8", "width_8"]),
            helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, ["batch", 256, "height_8", "width_8"]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="superpoint_rt")
    model.ir_version = 8
    meta = dict(weights.meta)
    meta["source"] = weights.source
    meta["dtype"] = dtype
    model.metadata_props.append(onnx.StringStringEntryProto(key="superpoint_rt", value=json.dumps(meta)))
    onnx.checker.check_model(model)
    return model


def onnx_bytes(weights: Weights, dtype: str = "float32") -> bytes:
    """Serialized ONNX model (see :func:`build_onnx`); ONNX weights are returned as stored."""
    if weights.state_dict is None and weights.onnx_path is not None:
        return weights.onnx_path.read_bytes()
    return build_onnx(weights, dtype).SerializeToString()


def export_onnx(weights: Weights, path: str | os.PathLike[str], dtype: str = "float32") -> Path:
    """Write the ONNX export to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = onnx_bytes(weights, dtype)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def onnx_hash(data: bytes) -> str:
    """Short SHA-256 of serialized ONNX bytes (engine cache keys)."""
    return hashlib.sha256(data).hexdigest()[:16]
