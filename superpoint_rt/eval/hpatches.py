"""Read and write sequences in the HPatches layout.

A dataset folder holds one folder per sequence: ``i_*`` (illumination changes, identity geometry) and
``v_*`` (viewpoint changes). Each has images ``1..6`` (``.ppm``, ``.png``, ``.jpg`` or ``.jpeg``) and
``H_1_2 .. H_1_6``: 3x3 homographies as whitespace-separated text mapping image-1 pixels to image-k
pixels.

Coordinates: (x, y) = (column, row), pixel centres at integer coordinates. When an image of width ``W``
is resized to ``W'`` (``cv2.resize``, which samples source pixel ``(x' + 0.5) W / W' - 0.5``), a pixel
``x`` moves to ``x' = s (x + 0.5) - 0.5`` with ``s = W' / W`` (same for y), i.e. by the matrix

    S = [[sx, 0, (sx - 1) / 2], [0, sy, (sy - 1) / 2], [0, 0, 1]]

and a homography between the originals becomes ``H' = S_k H S_1^-1`` between the resized images.
(Other implementations scale by ``diag(sx, sy, 1)``, the pixel-corner convention; the two differ by
under half a pixel.) Images are resized to exactly the target size, not preserving the aspect ratio,
as in the paper's protocol.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

IMAGE_EXTS = (".ppm", ".png", ".jpg", ".jpeg")
NUM_IMAGES = 6


@dataclass
class Sequence:
    """One HPatches-style sequence, possibly resized.

    Attributes:
        name: folder name, e.g. ``"v_graffiti"``.
        kind: ``"i"`` (illumination) or ``"v"`` (viewpoint).
        images: 6 grayscale uint8 images (H, W) (color (H, W, 3) BGR when loaded with ``gray=False``).
        homographies: 5 float64 3x3 arrays, ``homographies[k - 2]`` maps image 1 pixels to image k pixels.
        original_sizes: the (height, width) of each image as stored on disk.
    """

    name: str
    kind: str
    images: list[np.ndarray]
    homographies: list[np.ndarray]
    original_sizes: list[tuple[int, int]] = field(default_factory=list)

    def pairs(self) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """Yields ``(k, image_1, image_k, H_1_k)`` for k = 2..6."""
        for k in range(2, NUM_IMAGES + 1):
            yield k, self.images[0], self.images[k - 1], self.homographies[k - 2]


def scaling_matrix(src_size: tuple[int, int], dst_size: tuple[int, int]) -> np.ndarray:
    """3x3 float64 matrix mapping pixels of a ``src_size=(h, w)`` image to the resized ``dst_size`` one."""
    sy = dst_size[0] / src_size[0]
    sx = dst_size[1] / src_size[1]
    return np.array([[sx, 0.0, (sx - 1.0) / 2.0], [0.0, sy, (sy - 1.0) / 2.0], [0.0, 0.0, 1.0]])


def resize_homography(
    homography: np.ndarray, size_1: tuple[int, int], size_k: tuple[int, int], target: tuple[int, int]
) -> np.ndarray:
    """``S_k H S_1^-1``: the homography between the two images after both are resized to ``target``."""
    s1 = scaling_matrix(size_1, target)
    sk = scaling_matrix(size_k, target)
    h = sk @ np.asarray(homography, dtype=np.float64) @ np.linalg.inv(s1)
    return h / h[2, 2]


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to ``size = (height, width)``: area averaging when shrinking, bilinear when enlarging."""
    h, w = image.shape[:2]
    if (h, w) == tuple(size):
        return image
    interp = cv2.INTER_AREA if size[0] * size[1] < h * w else cv2.INTER_LINEAR
    return cv2.resize(image, (size[1], size[0]), interpolation=interp)


def _find_image(folder: Path, index: int) -> Path:
    for ext in IMAGE_EXTS:
        p = folder / f"{index}{ext}"
        if p.is_file():
            return p
    raise FileNotFoundError(f"{folder}: no image {index} (looked for {index}{{{','.join(IMAGE_EXTS)}}})")


def read_homography(path: Path) -> np.ndarray:
    """A 3x3 float64 homography from a whitespace-separated text file."""
    try:
        h = np.loadtxt(path, dtype=np.float64)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read a 3x3 homography ({e})") from e
    if h.shape != (3, 3):
        raise ValueError(f"{path}: expected a 3x3 homography, got shape {h.shape}")
    return h


def is_sequence_dir(path: Path) -> bool:
    return path.is_dir() and path.name[:2] in ("i_", "v_")


def load_sequence(folder: str | Path, size: tuple[int, int] | None = None, gray: bool = True) -> Sequence:
    """Load one sequence, optionally resized to ``size = (height, width)`` with corrected homographies."""
    folder = Path(folder)
    if not is_sequence_dir(folder):
        raise ValueError(f"{folder}: not an HPatches sequence folder (name must start with 'i_' or 'v_')")
    flag = cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR
    images, sizes = [], []
    for i in range(1, NUM_IMAGES + 1):
        p = _find_image(folder, i)
        img = cv2.imread(str(p), flag)
        if img is None:
            raise ValueError(f"{p}: cannot decode image")
        images.append(img)
        sizes.append((int(img.shape[0]), int(img.shape[1])))
    homs = [read_homography(folder / f"H_1_{k}") for k in range(2, NUM_IMAGES + 1)]
    if size is not None:
        size = (int(size[0]), int(size[1]))
        homs = [resize_homography(h, sizes[0], sizes[k - 1], size) for k, h in zip(range(2, 7), homs)]
        images = [resize_image(img, size) for img in images]
    return Sequence(folder.name, folder.name[0], images, homs, sizes)


def list_sequences(data_dir: str | Path, kinds: str = "iv") -> list[Path]:
    """Sorted sequence folders of a dataset (``kinds``: any of ``"i"``, ``"v"``)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {root}")
    seqs = sorted(p for p in root.iterdir() if is_sequence_dir(p) and p.name[0] in kinds)
    if not seqs:
        raise ValueError(f"{root}: no 'i_*' or 'v_*' sequence folders found")
    return seqs


def write_sequence(
    folder: str | Path,
    images: list[np.ndarray],
    homographies: list[np.ndarray],
    ext: str = ".jpg",
    jpeg_quality: int = 92,
) -> Path:
    """Write 6 images as ``1{ext}..6{ext}`` and 5 homographies as ``H_1_2..H_1_6`` into ``folder``."""
    folder = Path(folder)
    if len(images) != NUM_IMAGES or len(homographies) != NUM_IMAGES - 1:
        raise ValueError(f"need {NUM_IMAGES} images and {NUM_IMAGES - 1} homographies")
    if ext not in IMAGE_EXTS:
        raise ValueError(f"ext must be one of {IMAGE_EXTS}, got {ext!r}")
    folder.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if ext in (".jpg", ".jpeg") else []
    for i, img in enumerate(images, start=1):
        if ext == ".ppm" and img.ndim == 2:  # PPM is a colour format (PGM would be gray)
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        if not cv2.imwrite(str(folder / f"{i}{ext}"), img, params):
            raise OSError(f"cannot write {folder / f'{i}{ext}'}")
    for k, h in enumerate(homographies, start=2):
        np.savetxt(folder / f"H_1_{k}", np.asarray(h, dtype=np.float64), fmt="%.12e")
    return folder
