"""Every knob of :class:`superpoint_rt.SuperPoint` in one frozen, validated object: :class:`SuperPointOptions`.

The CPU and GPU pipelines read their settings from it, the command line's flags are generated from it
(:func:`add_option_arguments` / :func:`options_from_args`), and the README's options table is printed from it
(``python -m superpoint_rt.options``; a test keeps the README in step). Defaults for detection are the original
authors' demo except three, each measured (README: Options): ``subpixel=True``, ``subpixel_method="centroid5"`` and
``interpolation="bicubic"``.

Two kinds of options:

* engine options (``weights``, ``backend``, ``precision``, ``device``, ``num_threads``, ``int8_model``) choose and
  build the network engine: fixed for the life of a ``SuperPoint``;
* detection options (``conf_threshold`` ... ``scales``) drive the post-processing: ``sp.configure(...)`` (or
  assigning ``sp.conf_threshold = ...``) changes them between calls on both the CPU and the GPU path.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .multiscale import MAX_SCALE_WEIGHT, check_scales
from .ops._checks import CONVENTIONS, INTERPOLATIONS
from .subpixel import SUBPIXEL_METHODS

#: engine backends; "auto" = the best installed (see :mod:`superpoint_rt.backends`)
BACKENDS: tuple[str, ...] = ("auto", "openvino", "onnxruntime", "torch", "tensorrt")
#: network precisions (which engine offers which: :mod:`superpoint_rt.backends`)
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16", "int8")

ENGINE = "engine"
DETECTION = "detection"


def _opt(default: Any, help: str, group: str, *, flag: str | None = None, choices: Sequence[str] | None = None,
         metavar: str | None = None, default_text: str | None = None) -> Any:  # fmt: skip
    """A dataclass field with its documentation and command-line flag (``flag`` None: ``--<name with dashes>``)."""
    meta = {"help": help, "group": group, "flag": flag, "choices": choices, "metavar": metavar}
    meta["default_text"] = default_text
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class SuperPointOptions:
    """All options of :class:`superpoint_rt.SuperPoint` (see the module docstring); validated on construction.

    Raises:
        ValueError / TypeError: a value out of range or of the wrong type (the message names the option).
    """

    weights: str | os.PathLike[str] | Any | None = _opt(  # noqa: RUF009 (_opt returns a dataclasses.field)
        None,
        "our default weights (None), a packaged name (e.g. `superpoint-rt`), the original "
        "`superpoint_v1.pth`, our `.npz`/`.pth`, an ONNX export, or loaded `Weights`",
        ENGINE,
    )
    backend: str = _opt(
        "auto",
        "`openvino`, `onnxruntime` (portable FP32), `torch` (CPU/CUDA), `tensorrt` (CUDA); `auto` = the measured "
        "rule of `superpoint_rt.backends.auto` (`superpoint-rt info` says what it picks here and why)",
        ENGINE,
        choices=BACKENDS,
    )
    precision: str | None = _opt(
        None,
        "`fp32`, `bf16`, `fp16` or `int8`; None = the fastest accurate one for the backend and machine",
        ENGINE,
        choices=PRECISIONS,
    )
    device: str | None = _opt(None, "`cpu` or `cuda[:N]`; None = the CPU", ENGINE, metavar="DEVICE")
    num_threads: int | None = _opt(
        None, "CPU threads for the engine (None: the engine's default)", ENGINE, flag="--threads"
    )
    int8_model: str | None = _opt(
        None,
        'OpenVINO IR of a quantised model for `precision="int8"` (None: the IR shipped beside packaged weights); '
        "checked against the weights' fingerprint",
        ENGINE,
        metavar="XML",
    )
    conf_threshold: float = _opt(0.015, "keep heatmap values >= this (in [0, 1])", DETECTION)
    nms_radius: int = _opt(4, "greedy NMS: a kept point suppresses the (2r+1)^2 square around it", DETECTION)
    border: int = _opt(4, "drop points closer than this to the image border (after NMS)", DETECTION)
    max_keypoints: int | None = _opt(None, "keep the top-k by score (None: all)", DETECTION)
    interpolation: str = _opt(
        "bicubic", "descriptor sampling (the demo's: `bilinear`)", DETECTION, choices=INTERPOLATIONS
    )
    subpixel: bool = _opt(True, "refine keypoints off the pixel grid by the heatmap's local shape", DETECTION)
    subpixel_method: str = _opt(
        "centroid5",
        "with `subpixel`: `centroid` (3x3 heat-weighted mean), `centroid5` (5x5 mean), `parabola` (vertex of the "
        "local quadratic fits) or `forstner` (centroid5, then a Förstner corner step on the image's gradients)",
        DETECTION,
        choices=SUBPIXEL_METHODS,
    )
    convention: str | None = _opt(
        None,
        "where pixel x reads the coarse descriptors; None = what the weights record",
        DETECTION,
        choices=CONVENTIONS,
    )
    scales: tuple[float, ...] = _opt(
        (1.0,),
        "image pyramid for multi-scale detection, e.g. (1.0, 0.71, 0.5); keypoints merge in input pixels (CPU path)",
        DETECTION,
        metavar="S",
    )
    scale_weight: float = _opt(
        0.0,
        "with several `scales`: a level-s point's score is multiplied by s**scale_weight (over its largest value "
        "among the levels, so scores stay in [0, 1]) before the merged top-k; > 0 prefers the finer levels, which "
        "localise better in input pixels; 0 = raw scores",
        DETECTION,
    )

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose one of {list(BACKENDS)}")
        if self.precision is not None and self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of {list(PRECISIONS)}")
        if self.device is not None and not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {self.device!r}")
        if self.num_threads is not None:
            put("num_threads", _integer("num_threads", self.num_threads, minimum=1))
        try:
            ok = 0.0 <= float(self.conf_threshold) <= 1.0
        except (TypeError, ValueError):
            ok = False
        if not ok or not math.isfinite(float(self.conf_threshold)):
            raise ValueError(f"conf_threshold must be in [0, 1], got {self.conf_threshold}")
        put("conf_threshold", float(self.conf_threshold))
        put("nms_radius", _integer("nms_radius", self.nms_radius))
        put("border", _integer("border", self.border))
        if self.max_keypoints is not None:
            put("max_keypoints", _integer("max_keypoints", self.max_keypoints, none_ok=True))
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {self.interpolation!r}")
        if self.convention is not None and self.convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {CONVENTIONS}, got {self.convention!r}")
        put("subpixel", bool(self.subpixel))
        if self.subpixel_method not in SUBPIXEL_METHODS:
            raise ValueError(f"subpixel_method must be one of {SUBPIXEL_METHODS}, got {self.subpixel_method!r}")
        put("scales", tuple(float(s) for s in check_scales(self.scales)))
        sw = float(self.scale_weight) if isinstance(self.scale_weight, (int, float)) else math.nan
        if isinstance(self.scale_weight, bool) or not (math.isfinite(sw) and abs(sw) <= MAX_SCALE_WEIGHT):
            raise ValueError(
                f"scale_weight must be a number in [-{MAX_SCALE_WEIGHT:g}, {MAX_SCALE_WEIGHT:g}], "
                f"got {self.scale_weight!r}"
            )
        put("scale_weight", sw)
        on_gpu = self.backend == "tensorrt" or (self.device is not None and self.device.startswith("cuda"))
        if on_gpu and self.scales != (1.0,):
            raise ValueError("multi-scale detection (scales) runs on the CPU path only (not yet on the GPU)")

    @property
    def on_gpu(self) -> bool:
        """True when these options select the device-resident GPU pipeline (TensorRT, or a CUDA device)."""
        return self.backend == "tensorrt" or (self.device is not None and self.device.startswith("cuda"))

    def replace(self, **changes: Any) -> SuperPointOptions:
        """A copy with ``changes`` applied (validated); unknown names raise TypeError listing the valid ones."""
        unknown = sorted(set(changes) - set(option_names()))
        if unknown:
            raise TypeError(f"unknown SuperPoint option(s) {unknown}; valid: {option_names()}")
        return dataclasses.replace(self, **changes)

    def detection(self) -> dict[str, Any]:
        """The detection options as a dict (for logs and benchmark records)."""
        return {n: getattr(self, n) for n in option_names(DETECTION)}


def _integer(name: str, value: Any, minimum: int = 0, none_ok: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value < minimum:
        what = "None or an integer" if none_ok else "an integer"
        raise ValueError(f"{name} must be {what} >= {minimum}, got {value!r}")
    return int(value)


def option_names(group: str | None = None) -> list[str]:
    """Field names of :class:`SuperPointOptions` (of one group: ``"engine"`` or ``"detection"``), in order."""
    return [f.name for f in dataclasses.fields(SuperPointOptions) if group is None or f.metadata["group"] == group]


DEFAULTS = SuperPointOptions()


# ---------------------------------------------------------------------------------------------------------------------
# Command line and documentation, generated from the fields
# ---------------------------------------------------------------------------------------------------------------------


def _flag(f: dataclasses.Field[Any]) -> str:
    return f.metadata["flag"] or "--" + f.name.replace("_", "-")


def add_option_arguments(parser: argparse.ArgumentParser | Any, names: Sequence[str] | None = None) -> None:
    """Add one flag per option (``--conf-threshold``, ``--threads`` for num_threads, ...) to ``parser`` (a parser or
    an argument group); every flag defaults to None, i.e. "the option's default" (see :func:`options_from_args`)."""
    for f in dataclasses.fields(SuperPointOptions):
        if names is not None and f.name not in names:
            continue
        kw: dict[str, Any] = {"dest": f.name, "default": None}
        text = f.metadata["help"].replace("`", "")
        if f.default is not None and f.default != ():
            text += f" (default {_cli_default(f.default)})"
        if isinstance(f.default, bool):
            kw.update(action=argparse.BooleanOptionalAction, default=None)
        elif f.name == "scales":
            kw.update(type=float, nargs="+", metavar=f.metadata["metavar"])
        else:
            if isinstance(f.default, float):
                kw["type"] = float
            elif isinstance(f.default, int) or f.name in ("num_threads", "max_keypoints"):
                kw["type"] = int
            if f.metadata["choices"]:
                kw["choices"] = list(f.metadata["choices"])
            if f.metadata["metavar"]:
                kw["metavar"] = f.metadata["metavar"]
        parser.add_argument(_flag(f), help=text.replace("%", "%%"), **kw)


def _cli_default(value: Any) -> str:
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def options_from_args(args: argparse.Namespace, **overrides: Any) -> SuperPointOptions:
    """The options given on a command line built with :func:`add_option_arguments` (absent flags keep defaults)."""
    given = {n: getattr(args, n) for n in option_names() if getattr(args, n, None) is not None}
    if "scales" in given:
        given["scales"] = tuple(given["scales"])
    given.update(overrides)
    return SuperPointOptions(**given)


def options_table() -> str:
    """The options as a Markdown table (what the README shows between its ``options-table`` markers)."""
    rows = ["| option | default | CLI flag | meaning |", "|---|---|---|---|"]
    for f in dataclasses.fields(SuperPointOptions):
        default = "`None`" if f.default is None else f"`{f.default!r}`"
        flag = f"`{_flag(f)}`"
        if isinstance(f.default, bool):  # argparse.BooleanOptionalAction: both spellings
            flag += f" / `--no-{_flag(f)[2:]}`"
        rows.append(f"| `{f.name}` | {default} | {flag} | {f.metadata['help']} |")
    return "\n".join(rows)


def options_docstring() -> str:
    """The options as an indented list for docstrings."""
    lines = []
    for f in dataclasses.fields(SuperPointOptions):
        default = "None" if f.default is None else repr(f.default)
        lines.append(f"    {f.name} = {default}: {f.metadata['help'].replace('`', '')}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(options_table())
