"""Features and matches files into a COLMAP database (pycolmap), and the pixel-convention conversion.

Ours and hloc's keypoints have pixel centres at integer coordinates; COLMAP's have the top-left corner of the image
at (0, 0), i.e. the centre of pixel (0, 0) at (0.5, 0.5). :func:`to_colmap_keypoints` adds 0.5; a principal point
given to COLMAP is likewise ((W - 1) / 2 + 0.5, ...) = (W / 2, H / 2) for a centred one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .features_io import _h5py, read_matches
from .pairs import write_pairs

#: what COLMAP's coordinates are minus ours (ours: pixel centres at integers; COLMAP: at +0.5)
COLMAP_OFFSET = 0.5


def _pycolmap() -> Any:
    try:
        import pycolmap
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("COLMAP export and SfM need pycolmap: pip install 'superpoint_rt[mapping]'") from e
    return pycolmap


def to_colmap_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """(N, 2) keypoints, pixel centres at integers -> COLMAP's (N, 2) float32 (pixel centres at +0.5)."""
    return (np.asarray(keypoints, np.float64).reshape(-1, 2) + COLMAP_OFFSET).astype(np.float32)


def from_colmap_keypoints(keypoints: np.ndarray) -> np.ndarray:
    return (np.asarray(keypoints, np.float64).reshape(-1, 2) - COLMAP_OFFSET).astype(np.float32)


def write_database(
    database: str | os.PathLike[str],
    image_dir: str | os.PathLike[str],
    names: Sequence[str],
    features: str | os.PathLike[str],
    matches: str | os.PathLike[str],
    pairs: Sequence[tuple[str, str]],
    *,
    camera_model: str = "SIMPLE_RADIAL",
    camera_params: Sequence[float] | None = None,
    verify: bool = True,
) -> dict[str, Any]:
    """A new COLMAP database: one camera shared by all images (``camera_model``; ``camera_params`` in COLMAP's
    order and pixel convention, else COLMAP's guess from the image size and EXIF), the images, their keypoints
    (+0.5, see the module docstring), the raw matches of ``pairs``, then COLMAP's geometric verification of them
    (two-view geometries, which incremental mapping reads).

    Returns:
        {"images", "keypoints", "pairs", "matches"} counts written.
    """
    pycolmap = _pycolmap()
    h5py = _h5py()
    database = Path(database)
    if database.exists():
        database.unlink()
    database.parent.mkdir(parents=True, exist_ok=True)
    opts = pycolmap.ImageReaderOptions()
    opts.camera_model = camera_model
    if camera_params is not None:
        opts.camera_params = ",".join(f"{float(v)!r}" for v in camera_params)
    pycolmap.Database.open(str(database)).close()  # creates the file and its tables
    pycolmap.import_images(str(database), str(image_dir), pycolmap.CameraMode.SINGLE, list(names), opts)
    n_kp = n_match = 0
    with pycolmap.Database.open(str(database)) as db:
        if camera_params is not None:  # a given focal length is a prior (calibrated two-view geometry), not a guess
            for cam in db.read_all_cameras():
                cam.has_prior_focal_length = True
                db.update_camera(cam)
        ids = {im.name: im.image_id for im in db.read_all_images()}
        missing = [n for n in names if n not in ids]
        if missing:
            raise RuntimeError(f"COLMAP did not import {missing[:5]} from {image_dir}")
        with h5py.File(str(features), "r") as fh:
            for n in names:
                kp = to_colmap_keypoints(fh[n]["keypoints"][()])
                db.write_keypoints(ids[n], kp)
                n_kp += len(kp)
        with h5py.File(str(matches), "r") as fm:
            for a, b in pairs:
                ij, _ = read_matches(fm, a, b)
                db.write_matches(ids[a], ids[b], ij.astype(np.uint32))
                n_match += len(ij)
    if verify:
        pairs_file = write_pairs(pairs, database.with_suffix(".pairs.txt"))
        pycolmap.verify_matches(str(database), str(pairs_file), pycolmap.TwoViewGeometryOptions())
    return {"images": len(names), "keypoints": n_kp, "pairs": len(pairs), "matches": n_match}
