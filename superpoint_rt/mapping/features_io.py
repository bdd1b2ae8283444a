"""Features and matches files in hloc's HDF5 layout, and single-process extraction into them (resumable).

Features file: one group per image, named by the image's path relative to the image root (``a/b.jpg`` is the group
``a`` holding the group ``b.jpg``, as h5py nests them), holding

* ``keypoints`` (N, 2) float32: x, y in pixels, **pixel centres at integers** (ours and hloc's convention; COLMAP's
  is +0.5, see :func:`superpoint_rt.mapping.colmap.to_colmap_keypoints`);
* ``descriptors`` (D, N) float32 (hloc's transposed layout), unit L2 norm;
* ``scores`` (N,) float32;
* ``image_size`` (2,) int64: **(width, height)**, as hloc stores it.

The file's attributes record what made it (``superpoint_rt_version``, ``detection`` as JSON, ``pixel_convention``).

Matches file: one group per pair, ``name0/name1`` (hloc's ``names_to_pair``: a ``/`` inside a name becomes ``-``),
holding ``matches0`` (N0,) int32 (the index into image 1's keypoints of each keypoint of image 0, -1 for none) and
``matching_scores0`` (N0,) float32 (cosine similarity of the matched descriptors, 0 for none).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..types import Features

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
FEATURE_KEYS = ("keypoints", "descriptors", "scores", "image_size")
PIXEL_CONVENTION = "pixel centres at integer coordinates (hloc); COLMAP = these + 0.5"


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("features/matches files need h5py: pip install 'superpoint_rt[mapping]'") from e
    return h5py


# ----- images --------------------------------------------------------------------------------------------------------


def list_images(inputs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Image files from files, folders (searched recursively for image extensions) and glob patterns, in the given
    order (each folder's and pattern's files sorted); duplicates dropped."""
    import glob

    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in IMAGE_EXTENSIONS)
        elif p.is_file():
            found = [p]
        else:
            found = sorted(Path(g) for g in glob.glob(str(item), recursive=True) if Path(g).is_file())
            if not found:
                raise FileNotFoundError(f"no image at {item}")
        out.extend(found)
    seen: set[Path] = set()
    unique = []
    for q in out:
        r = q.resolve()
        if r not in seen:
            seen.add(r)
            unique.append(q)
    if not unique:
        raise FileNotFoundError(f"no images in {[str(i) for i in inputs]}")
    return unique


def image_names(paths: Sequence[Path], root: str | os.PathLike[str] | None = None) -> tuple[Path, list[str]]:
    """(root, names): each image's name is its POSIX path relative to ``root`` (default: the images' common
    folder), as hloc names them."""
    resolved = [p.resolve() for p in paths]
    base = Path(root).resolve() if root is not None else Path(os.path.commonpath([str(p.parent) for p in resolved]))
    names = []
    for p in resolved:
        try:
            names.append(p.relative_to(base).as_posix())
        except ValueError:
            raise ValueError(f"{p} is not under the image root {base}") from None
    if len(set(names)) != len(names):
        raise ValueError("two images have the same name")
    if any(" " in n for n in names):
        raise ValueError("image names with spaces cannot go into a pairs file; rename them")
    return base, names


# ----- features ------------------------------------------------------------------------------------------------------


def _complete(group: Any) -> bool:
    return all(k in group for k in FEATURE_KEYS)


def feature_names(h5: Any) -> list[str]:
    """Names of the complete feature groups in an open file (or a path), in the file's (sorted) order."""
    if isinstance(h5, (str, os.PathLike)):
        if not Path(h5).exists():
            return []
        with _h5py().File(str(h5), "r") as f:
            return feature_names(f)
    names: list[str] = []

    def visit(name: str, obj: Any) -> None:
        if hasattr(obj, "keys") and "keypoints" in obj and _complete(obj):
            names.append(name)

    h5.visititems(visit)
    return names


def write_features(h5: Any, name: str, f: Features) -> None:
    """Write one image's features into an open file (replacing a group of that name)."""
    if name in h5:
        del h5[name]
    g = h5.create_group(name)
    g.create_dataset("keypoints", data=np.asarray(f.keypoints, np.float32).reshape(-1, 2))
    g.create_dataset("descriptors", data=np.ascontiguousarray(np.asarray(f.descriptors, np.float32).T))
    g.create_dataset("scores", data=np.asarray(f.scores, np.float32).reshape(-1))
    h, w = f.image_size
    g.create_dataset("image_size", data=np.array([w, h], np.int64))


def read_features(h5: Any, name: str) -> Features:
    """One image's features (descriptors back to (N, D), image_size back to (height, width))."""
    if isinstance(h5, (str, os.PathLike)):
        with _h5py().File(str(h5), "r") as f:
            return read_features(f, name)
    if name not in h5:
        raise KeyError(f"no features for {name!r}")
    g = h5[name]
    w, h = (int(v) for v in g["image_size"][()])
    return Features(
        keypoints=g["keypoints"][()].astype(np.float32),
        scores=g["scores"][()].astype(np.float32),
        descriptors=np.ascontiguousarray(g["descriptors"][()].T.astype(np.float32)),
        image_size=(h, w),
    )


def _check_attrs(h5: Any, detection: dict[str, Any], resume: bool) -> None:
    from .. import __version__

    want = json.dumps(detection, sort_keys=True)
    have = h5.attrs.get("detection")
    if have is not None and resume and str(have) != want and feature_names(h5):
        raise ValueError(
            f"the features file was made with other detection options ({have}), not ({want}): "
            "give the same options, another --out, or --overwrite"
        )
    h5.attrs["detection"] = want
    h5.attrs["superpoint_rt_version"] = __version__
    h5.attrs["pixel_convention"] = PIXEL_CONVENTION


def detection_record(sp: Any) -> dict[str, Any]:
    """The options that decide a features file's content, for its ``detection`` attribute."""
    det = dict(sp.options.detection())
    det["scales"] = list(det["scales"])
    det["weights"] = str(sp.weights.source)
    return det


def extract_features(
    images: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    sp: Any = None,
    *,
    root: str | os.PathLike[str] | None = None,
    resume: bool = True,
    progress: bool = True,
    reader: Callable[[str], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Detect and describe every image into ``out`` (hloc layout, see the module docstring), one image at a time.

    Resumable: with ``resume`` (the default) images whose complete group is already in the file are skipped; an
    interrupted group is redone. ``resume=False`` starts a new file.

    Returns:
        {"root", "names" (all, in input order), "extracted", "skipped", "seconds"}.
    """
    import time

    from tqdm import tqdm

    from ..preprocess import read_image

    h5py = _h5py()
    paths = list_images(images)
    base, names = image_names(paths, root)
    if sp is None:
        from ..api import SuperPoint

        sp = SuperPoint()
    read = reader or read_image
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    done = 0
    with h5py.File(str(out), "a" if resume else "w") as h5:
        _check_attrs(h5, detection_record(sp), resume)
        have = set(feature_names(h5))
        todo = [(p, n) for p, n in zip(paths, names) if n not in have]
        for p, n in tqdm(todo, desc="extract", unit="img", disable=not progress):
            write_features(h5, n, sp(read(str(p))))
            h5.flush()
            done += 1
    return {
        "root": str(base),
        "names": names,
        "extracted": done,
        "skipped": len(names) - done,
        "seconds": time.perf_counter() - t0,
    }


# ----- matches -------------------------------------------------------------------------------------------------------


def names_to_pair(name0: str, name1: str, separator: str = "/") -> str:
    """hloc's pair key: ``name0/name1`` with any ``/`` inside a name replaced by ``-``."""
    return separator.join((name0.replace("/", "-"), name1.replace("/", "-")))


def matches_from_pairs(pairs: np.ndarray, distances: np.ndarray, n0: int) -> tuple[np.ndarray, np.ndarray]:
    """(K, 2) index pairs and their L2 distances -> hloc's ``matches0`` (n0,) int32 and ``matching_scores0``
    (n0,) float32 (cosine similarity 1 - d^2 / 2 of unit descriptors; 0 where unmatched)."""
    m0 = np.full(n0, -1, np.int32)
    s0 = np.zeros(n0, np.float32)
    if len(pairs):
        m0[pairs[:, 0]] = pairs[:, 1]
        s0[pairs[:, 0]] = 1.0 - 0.5 * np.asarray(distances, np.float64) ** 2
    return m0, s0


def write_matches(h5: Any, name0: str, name1: str, matches0: np.ndarray, scores0: np.ndarray) -> None:
    key = names_to_pair(name0, name1)
    if key in h5:
        del h5[key]
    g = h5.create_group(key)
    g.create_dataset("matches0", data=np.asarray(matches0, np.int32))
    g.create_dataset("matching_scores0", data=np.asarray(scores0, np.float32))


def has_matches(h5: Any, name0: str, name1: str) -> bool:
    for key in (names_to_pair(name0, name1), names_to_pair(name1, name0)):
        if key in h5 and "matches0" in h5[key] and "matching_scores0" in h5[key]:
            return True
    return False


def read_matches(h5: Any, name0: str, name1: str) -> tuple[np.ndarray, np.ndarray]:
    """(K, 2) int64 index pairs (into name0's, name1's keypoints) and (K,) float32 scores; a pair stored the other
    way round is flipped."""
    if isinstance(h5, (str, os.PathLike)):
        with _h5py().File(str(h5), "r") as f:
            return read_matches(f, name0, name1)
    for key, flip in ((names_to_pair(name0, name1), False), (names_to_pair(name1, name0), True)):
        if key in h5 and "matches0" in h5[key]:
            m0 = h5[key]["matches0"][()]
            s0 = h5[key]["matching_scores0"][()]
            i = np.flatnonzero(m0 >= 0)
            pairs = np.stack([i, m0[i]], axis=1).astype(np.int64)
            if flip:
                pairs = pairs[:, ::-1]
                order = np.argsort(pairs[:, 0], kind="stable")
                return np.ascontiguousarray(pairs[order]), s0[i][order].astype(np.float32)
            return pairs, s0[i].astype(np.float32)
    raise KeyError(f"no matches for the pair {name0!r} {name1!r}")


def pairs_in(h5: Any, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [p for p in pairs if has_matches(h5, *p)]
