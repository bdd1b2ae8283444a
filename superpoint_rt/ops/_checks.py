"""Input validation shared by the ops wrappers and the NumPy references (clear ValueError/TypeError)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

INTERPOLATIONS: tuple[str, ...] = ("bilinear", "bicubic")
CONVENTIONS: tuple[str, ...] = ("center", "magicleap", "superglue")


def as_float_array(x: object, op: str, name: str, ndims: Sequence[int], allow_float16: bool = False) -> np.ndarray:
    """Checks type, dtype and ndim; returns a C-contiguous, aligned, native-byte-order array.

    Copies only when the layout requires it (non-contiguous, unaligned or byte-swapped input); the
    dtype is never converted: float64 input raises TypeError.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(x).__name__}")
    allowed = (np.float32, np.float16) if allow_float16 else (np.float32,)
    if x.dtype.type not in allowed:
        names = " or ".join(np.dtype(t).name for t in allowed)
        raise TypeError(f"{op}: {name} must have dtype {names}, got {x.dtype}")
    if x.ndim not in ndims:
        dims = " or ".join(str(d) for d in ndims)
        raise ValueError(f"{op}: {name} must have {dims} dimensions, got shape {x.shape}")
    if not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
    return np.require(x, requirements=["C_CONTIGUOUS", "ALIGNED"])


def check_threshold(conf_threshold: object, op: str) -> float:
    """A real number, not NaN; returned as the float32 value the comparison heat >= threshold uses."""
    if isinstance(conf_threshold, bool) or not isinstance(conf_threshold, numbers.Real):
        raise TypeError(f"{op}: conf_threshold must be a real number, got {type(conf_threshold).__name__}")
    value = float(conf_threshold)
    if math.isnan(value):
        raise ValueError(f"{op}: conf_threshold is NaN")
    with np.errstate(over="ignore"):
        return float(np.float32(value))


def check_nonneg_int(value: object, op: str, name: str) -> int:
    """A non-negative integer (Python or NumPy int; bool rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int, got {type(value).__name__}")
    v = int(value)
    if v < 0:
        raise ValueError(f"{op}: {name} must be >= 0, got {v}")
    return v


def check_spatial(h: int, w: int, op: str, name: str) -> None:
    if h <= 0 or w <= 0:
        raise ValueError(f"{op}: {name} must have non-zero height and width, got {h}x{w}")


def check_choice(value: object, options: Sequence[str], op: str, name: str) -> str:
    if not isinstance(value, str) or value not in options:
        valid = ", ".join(repr(o) for o in options)
        raise ValueError(f"{op}: unknown {name} {value!r}, expected one of {valid}")
    return value


def check_valid_size(valid_size: object, h: int, w: int, op: str) -> tuple[int, int]:
    """(h, w) with 1 <= h <= H and 1 <= w <= W; None -> (H, W)."""
    if valid_size is None:
        return h, w
    if not isinstance(valid_size, (tuple, list)) or len(valid_size) != 2:
        raise TypeError(f"{op}: valid_size must be a (height, width) pair, got {valid_size!r}")
    vh = check_nonneg_int(valid_size[0], op, "valid_size[0]")
    vw = check_nonneg_int(valid_size[1], op, "valid_size[1]")
    if not (1 <= vh <= h and 1 <= vw <= w):
        raise ValueError(f"{op}: valid_size {(vh, vw)} must satisfy 1 <= h <= {h} and 1 <= w <= {w} (the heatmap size)")
    return vh, vw


def check_finite(x: np.ndarray, op: str, name: str) -> None:
    if not np.isfinite(x).all():
        raise ValueError(f"{op}: {name} contains NaN or inf")
