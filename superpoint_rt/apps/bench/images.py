"""The benchmark's images: real photos, resized to the resolution being measured.

Paths are explicit (``--images``); the default is the first, unwarped image of each viewpoint sequence of the
benchmark bundled with the package (``superpoint_rt/data/benchmark/v_*/1.jpg``: 8 distinct held-out photos at
480x640), so the default works from an installed package as well as from a checkout.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: the HPatches-format benchmark that ships in the package (superpoint_rt/data/benchmark)
BUNDLED_BENCHMARK = Path(__file__).resolve().parents[2] / "data" / "benchmark"


def default_image_paths() -> list[Path]:
    """The bundled benchmark's reference photos (``v_*/1.jpg``), sorted; empty if the data was stripped."""
    return sorted(BUNDLED_BENCHMARK.glob("v_*/1.jpg"))


def load_images(paths: Sequence[str | os.PathLike[str]] | None, height: int, width: int) -> list[np.ndarray]:
    """Photos as BGR uint8 (height, width, 3), resized with area (shrinking) or cubic (enlarging) interpolation.

    ``paths``: image files and/or folders (a folder contributes every file in it OpenCV can read, sorted);
    None or empty: :func:`default_image_paths`.

    Raises:
        ValueError: a file given explicitly is not an image.
        FileNotFoundError: no image at all.
    """
    import cv2

    files = [Path(p) for p in paths] if paths else default_image_paths()
    frames: list[np.ndarray] = []
    for p in files:
        if p.is_dir():
            frames += [im for q in sorted(p.iterdir()) if (im := cv2.imread(str(q), cv2.IMREAD_COLOR)) is not None]
            continue
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot read {p} as an image")
        frames.append(img)
    if not frames:
        raise FileNotFoundError(
            f"no benchmark images (looked in {[str(p) for p in files] or BUNDLED_BENCHMARK}): pass --images FILES/DIR"
        )
    out = []
    for img in frames:
        interp = cv2.INTER_AREA if img.shape[0] * img.shape[1] > height * width else cv2.INTER_CUBIC
        out.append(cv2.resize(img, (width, height), interpolation=interp))
    return out
