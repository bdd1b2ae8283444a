"""Mapping at scale: features and matches in hloc's HDF5 layout, image pairs, a COLMAP database, incremental SfM
with pycolmap, and extraction as a Ray Data pipeline.

Optional dependencies (``pip install '.[mapping]'``): ``h5py`` (features / matches files), ``pycolmap``
(:mod:`.colmap`, :mod:`.sfm`), ``ray`` (:mod:`.ray_pipeline`). The inference core imports none of them, and this
package imports each only where it is used.

Pixel convention: the files hold our keypoints as they are, (x, y) with pixel centres at integer coordinates, which
is hloc's convention too. COLMAP puts the top-left corner of the top-left pixel at (0, 0), so pixel centres sit at
+0.5: :func:`superpoint_rt.mapping.colmap.to_colmap_keypoints` adds 0.5 when keypoints go into a COLMAP database.
"""

from __future__ import annotations

from .features_io import (
    extract_features,
    image_names,
    list_images,
    read_features,
    read_matches,
    write_features,
    write_matches,
)
from .matching_io import match_features
from .pairs import pairs_exhaustive, pairs_from_file, pairs_from_spec, pairs_sequential, write_pairs

__all__ = [
    "extract_features",
    "image_names",
    "list_images",
    "match_features",
    "pairs_exhaustive",
    "pairs_from_file",
    "pairs_from_spec",
    "pairs_sequential",
    "read_features",
    "read_matches",
    "write_features",
    "write_matches",
    "write_pairs",
]
