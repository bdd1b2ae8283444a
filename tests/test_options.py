"""superpoint_rt.options: one validated options object; the CLI flags and the README table come from it; options
changed after construction reach both pipelines (the CPU one and the GPU pipeline's CPU twin)."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from superpoint_rt.options import (
    DEFAULTS,
    SuperPointOptions,
    add_option_arguments,
    option_names,
    options_from_args,
    options_table,
)

README = Path(__file__).resolve().parents[1] / "README.md"


def test_defaults_are_the_original_demo_plus_refinement_and_bicubic() -> None:
    o = SuperPointOptions()
    assert (o.conf_threshold, o.nms_radius, o.border, o.max_keypoints) == (0.015, 4, 4, None)
    assert (o.convention, o.scales) == (None, (1.0,))
    # the three measured departures from the demo (README: Options): its integer points and bilinear sampling
    assert (o.subpixel, o.subpixel_method, o.interpolation) == (True, "centroid5", "bicubic")
    assert (o.weights, o.backend, o.precision, o.device) == (None, "auto", None, None)
    assert o == DEFAULTS and not o.on_gpu


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"conf_threshold": 1.5}, "conf_threshold"),
        ({"conf_threshold": float("nan")}, "conf_threshold"),
        ({"conf_threshold": "x"}, "conf_threshold"),
        ({"nms_radius": -1}, "nms_radius"),
        ({"nms_radius": 2.5}, "nms_radius"),
        ({"border": True}, "border"),
        ({"max_keypoints": -3}, "max_keypoints"),
        ({"num_threads": 0}, "num_threads"),
        ({"interpolation": "nearest"}, "interpolation"),
        ({"convention": "opencv"}, "convention"),
        ({"backend": "tflite"}, "backend"),
        ({"precision": "int4"}, "precision"),
        ({"device": "tpu"}, "device"),
        ({"scales": ()}, "scales"),
        ({"scales": (1.0, 3.0)}, "scale"),
        ({"device": "cuda", "scales": (1.0, 0.5)}, "multi-scale"),
    ],
)
def test_invalid_values_name_the_option(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SuperPointOptions(**changes)


def test_frozen_replace_and_unknown_names() -> None:
    o = SuperPointOptions()
    with pytest.raises(AttributeError):
        o.conf_threshold = 0.5  # type: ignore[misc]
    p = o.replace(conf_threshold=0.5, max_keypoints=10.0)
    assert p.conf_threshold == 0.5 and p.max_keypoints == 10 and isinstance(p.max_keypoints, int)
    assert o.conf_threshold == 0.015
    with pytest.raises(TypeError, match="conf_treshold"):
        o.replace(conf_treshold=0.1)
    assert SuperPointOptions(scales=[1, 0.5]).scales == (1.0, 0.5)


def test_every_option_has_a_flag_and_round_trips() -> None:
    parser = argparse.ArgumentParser()
    add_option_arguments(parser)
    flags = {a.dest: a.option_strings[0] for a in parser._actions if a.dest in option_names()}
    assert sorted(flags) == sorted(option_names())
    assert flags["num_threads"] == "--threads" and flags["conf_threshold"] == "--conf-threshold"
    args = parser.parse_args(
        "--weights w.npz --backend onnxruntime --precision fp32 --threads 2 --conf-threshold 0.02 --nms-radius 3 "
        "--border 5 --max-keypoints 100 --interpolation bicubic --no-subpixel --convention superglue --scales 1 0.5 "
        "--int8-model q.xml --device cpu".split()
    )
    assert options_from_args(args) == SuperPointOptions(
        weights="w.npz", backend="onnxruntime", precision="fp32", num_threads=2, conf_threshold=0.02, nms_radius=3,
        border=5, max_keypoints=100, interpolation="bicubic", subpixel=False, convention="superglue",
        scales=(1.0, 0.5), int8_model="q.xml", device="cpu",
    )  # fmt: skip
    assert options_from_args(parser.parse_args([])) == SuperPointOptions()
    assert options_from_args(parser.parse_args(["--subpixel"])).subpixel  # both spellings of the switch
    with pytest.raises(SystemExit):
        parser.parse_args(["--interpolation", "nearest"])


def test_readme_table_is_generated_from_the_options() -> None:
    if not README.is_file():
        pytest.skip("README.md is not next to the tests (installed package)")
    text = README.read_text()
    begin, end = "<!-- options-table:begin -->", "<!-- options-table:end -->"
    assert begin in text and end in text, "README lacks the options-table markers"
    table = text.split(begin, 1)[1].split(end, 1)[0].strip()
    assert table == options_table().strip(), "README options table is stale: python -m superpoint_rt.options"


def test_superpoint_attributes_and_configure_reach_the_cpu_path(astronaut_gray: np.ndarray) -> None:
    from superpoint_rt import SuperPoint

    sp = SuperPoint(backend="onnxruntime")
    fresh = SuperPoint(backend="onnxruntime", conf_threshold=0.05, max_keypoints=40)  # the oracle: built with them
    sp.conf_threshold = 0.05
    sp.configure(max_keypoints=40)
    assert sp.conf_threshold == 0.05 and sp.options.max_keypoints == 40 and sp.info()["max_keypoints"] == 40
    a, b = sp(astronaut_gray), fresh(astronaut_gray)
    assert len(a) == len(b) == 40
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    with pytest.raises(AttributeError, match="new SuperPoint"):
        sp.backend_name = "x"  # an ordinary attribute is fine ...
        sp.precision = "bf16"  # type: ignore[misc] # ... an engine option is not
    with pytest.raises(AttributeError, match="create a new SuperPoint"):
        sp.configure(backend="torch")
    with pytest.raises(ValueError, match="nms_radius"):
        sp.nms_radius = -2
    assert sp.nms_radius == 4  # unchanged after the refused value
    with pytest.raises(TypeError, match="unknown SuperPoint option"):
        SuperPoint(backend="onnxruntime", conf_treshold=0.1)


def test_configure_reaches_the_gpu_pipeline(astronaut_gray: np.ndarray) -> None:
    """The GPU pipeline's CPU twin (PyTorch FP32 forward + the CUDA kernels' CPU twin): options set after
    construction take effect, as on the CPU path (this was the bug: they were ignored on the GPU path)."""
    pytest.importorskip("torch")
    from superpoint_rt._ext import load_ext
    from superpoint_rt.gpu.pipeline import GpuPipeline

    if not hasattr(load_ext(), "postprocess_grid_cpu"):
        pytest.skip("extension without the CUDA kernels' CPU twins")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = GpuPipeline(None, SuperPointOptions(device="cpu"))
        fresh = GpuPipeline(None, SuperPointOptions(device="cpu", conf_threshold=0.05, max_keypoints=30))
    pipe.configure(pipe.options.replace(conf_threshold=0.05, max_keypoints=30))
    a, b = pipe(astronaut_gray), fresh(astronaut_gray)
    assert len(a) == len(b) == 30
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    with pytest.raises(ValueError, match="CPU path only"):
        pipe.configure(pipe.options.replace(scales=(1.0, 0.5)))
    assert pipe.options.subpixel  # the default: sub-pixel refinement runs in the fused post-processing too
    pipe.configure(pipe.options.replace(subpixel=False))
    c = pipe(astronaut_gray)
    assert len(c) == 30 and np.all(np.abs(c.keypoints - a.keypoints) <= 1.0) and np.any(c.keypoints != a.keypoints)


@pytest.fixture
def astronaut_gray() -> np.ndarray:
    img = cv2.imread(str(Path(__file__).parent / "data" / "astronaut.jpg"), cv2.IMREAD_GRAYSCALE)
    return cv2.resize(img, (320, 240), interpolation=cv2.INTER_AREA)
