"""What the command-line apps share: the SuperPoint flags (generated from
:class:`~superpoint_rt.options.SuperPointOptions`), building a SuperPoint from them, reading and writing images."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..preprocess import read_image  # noqa: F401 (re-exported for the apps)


def engine_options() -> argparse.ArgumentParser:
    """The options every command that runs SuperPoint shares: one flag per field of
    :class:`~superpoint_rt.options.SuperPointOptions` (generated from it)."""
    from ..options import add_option_arguments

    p = argparse.ArgumentParser(add_help=False)
    add_option_arguments(p.add_argument_group("SuperPoint"))
    return p


def build_superpoint(args: argparse.Namespace) -> Any:
    """A SuperPoint from the shared engine options."""
    from ..api import SuperPoint
    from ..options import options_from_args

    return SuperPoint(options=options_from_args(args))


def write_image(path: str, image: np.ndarray) -> None:
    import cv2

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(path, image):
        raise ValueError(f"cannot write {path} (unsupported extension?)")
