"""The TensorRT optimisation profile over (batch, height, width), without TensorRT (tested on any machine).

* :func:`parse_shape` / :func:`format_shape`: "BxHxW" <-> (B, H, W), H and W multiples of the network's cell (8).
* :class:`ShapeProfile`: min/opt/max, and the check that raises :class:`ShapeOutOfProfileError` for a frame the
  engine cannot run (never a silent rebuild); :data:`DEFAULT_PROFILE` 1x240x320 / 1x480x640 / 8x720x1280.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...network_spec import CELL


class ShapeOutOfProfileError(ValueError):
    """A frame's (batch, height, width) is outside the TensorRT engine's optimisation profile."""


Shape = tuple[int, int, int]  # (batch, height, width)


def parse_shape(text: str | Shape | list[int]) -> Shape:
    """Parse "BxHxW" (also "B,H,W" or a 3-sequence) -> (B, H, W); B >= 1, H and W positive multiples of 8.

    Raises:
        ValueError: wrong format or values.
    """
    if isinstance(text, str):
        parts = re.split(r"[x,\s]+", text.strip().lower())
        try:
            vals = tuple(int(p) for p in parts if p != "")
        except ValueError as e:
            raise ValueError(f"shape must be BxHxW with integers (e.g. 1x480x640), got {text!r}") from e
    else:
        try:
            vals = tuple(int(v) for v in text)
        except (TypeError, ValueError) as e:
            raise ValueError(f"shape must be (B, H, W) integers, got {text!r}") from e
    if len(vals) != 3:
        raise ValueError(f"shape must have 3 values BxHxW (batch x height x width), got {text!r}")
    b, h, w = vals
    if b < 1:
        raise ValueError(f"batch must be >= 1, got {b} in {text!r}")
    if h < CELL or w < CELL or h % CELL or w % CELL:
        raise ValueError(f"height and width must be positive multiples of {CELL}, got {h}x{w} in {text!r}")
    return b, h, w


def format_shape(shape: Shape) -> str:
    return "x".join(str(int(v)) for v in shape)


@dataclass(frozen=True)
class ShapeProfile:
    """A TensorRT optimisation profile over the network input (B, 1, H, W), given as (B, H, W) triples.

    Each of B, H, W must satisfy min <= opt <= max.
    """

    min: Shape
    opt: Shape
    max: Shape

    def __post_init__(self) -> None:
        for name in ("min", "opt", "max"):
            object.__setattr__(self, name, parse_shape(getattr(self, name)))
        for i, axis in enumerate(("batch", "height", "width")):
            if not (self.min[i] <= self.opt[i] <= self.max[i]):
                raise ValueError(
                    f"profile {axis}: need min <= opt <= max, got {self.min[i]} / {self.opt[i]} / {self.max[i]}"
                )

    @classmethod
    def from_strings(cls, min_shape: str, opt_shape: str, max_shape: str) -> ShapeProfile:
        return cls(parse_shape(min_shape), parse_shape(opt_shape), parse_shape(max_shape))

    @classmethod
    def coerce(cls, value: ShapeProfile | str | tuple[Any, Any, Any] | None) -> ShapeProfile:
        """None -> the default; "MIN:OPT:MAX" or "MIN,OPT,MAX" strings (each BxHxW); a (min, opt, max) triple."""
        if value is None:
            return DEFAULT_PROFILE
        if isinstance(value, ShapeProfile):
            return value
        if isinstance(value, str):
            parts = [p for p in re.split(r"[:;]|\s+", value.strip()) if p]
            if len(parts) != 3:
                raise ValueError(f"profile string must be 'MIN:OPT:MAX' with each BxHxW, got {value!r}")
            return cls.from_strings(*parts)
        if len(value) != 3:
            raise ValueError(f"profile must be (min, opt, max), got {value!r}")
        return cls(*value)

    def contains(self, shape: Shape) -> bool:
        return all(lo <= v <= hi for lo, v, hi in zip(self.min, shape, self.max))

    def check(self, shape: Shape) -> None:
        """Raise :class:`ShapeOutOfProfileError` (with the fix) when ``shape`` cannot run on this profile."""
        if not self.contains(shape):
            raise ShapeOutOfProfileError(
                f"input {format_shape(shape)} (BxHxW, after padding to multiples of 8) is outside the TensorRT "
                f"engine's profile min {format_shape(self.min)} .. max {format_shape(self.max)}. The engine is never "
                "rebuilt in the middle of a stream: create the SuperPoint with a wider profile "
                "(profile='MIN:OPT:MAX') or build one ahead of time with `superpoint-rt export --tensorrt "
                "--min-shape BxHxW --opt-shape BxHxW --max-shape BxHxW`"
            )

    def input_shapes(self) -> tuple[tuple[int, int, int, int], ...]:
        """(min, opt, max) as the network input shapes (B, 1, H, W)."""
        return tuple((b, 1, h, w) for b, h, w in (self.min, self.opt, self.max))  # type: ignore[return-value]

    def max_elements(self) -> int:
        """Elements of the largest input (B * H * W): the size the input buffer is allocated once for."""
        b, h, w = self.max
        return b * h * w

    def __str__(self) -> str:
        return f"{format_shape(self.min)}:{format_shape(self.opt)}:{format_shape(self.max)}"

    def to_dict(self) -> dict[str, list[int]]:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}


#: the profile used when none is given (same as `superpoint-rt export --tensorrt`'s defaults)
DEFAULT_PROFILE = ShapeProfile((1, 240, 320), (1, 480, 640), (8, 720, 1280))
