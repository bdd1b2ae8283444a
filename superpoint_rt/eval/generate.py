"""Make an HPatches-format benchmark from real photographs.

Each photo gives a reference image (centre crop to the target aspect ratio, resized to ``size``) and

* a viewpoint sequence ``v_<name>``: images 2..6 are the reference warped by random homographies of
  increasing strength (``superpoint_rt.geometry.sample_homography``: a perturbed patch of the
  reference, so every pixel of image k is seen in image 1), plus independent sensor noise;
* an illumination sequence ``i_<name>``: identity geometry, photometric changes of increasing strength
  (colour gains, gamma, contrast / brightness, smooth shading, noise).

Homographies map image-1 pixels to image-k pixels (pixel centres at integer coordinates) and are
exact for the stored images (before JPEG compression).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from superpoint_rt.eval.hpatches import write_sequence
from superpoint_rt.geometry import HomographyConfig, sample_homography, warp_image

NUM_WARPS = 5
# Viewpoint strength s in (0, 1] for images 2..6; the random homography's parameters grow with s.
STRENGTHS = tuple((k + 1) / NUM_WARPS for k in range(NUM_WARPS))


def load_photo(path: str | Path) -> np.ndarray:
    """Read a photo as uint8: (H, W) when it is grayscale, else (H, W, 3) BGR."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot read image {path}")
    if np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2]):
        return np.ascontiguousarray(img[..., 0])
    return img


def prepare_reference(image: np.ndarray, size: tuple[int, int] = (480, 640)) -> np.ndarray:
    """Centre-crop ``image`` to the aspect ratio of ``size = (height, width)`` and resize to it."""
    h, w = image.shape[:2]
    th, tw = size
    if h * tw > w * th:  # too tall: crop rows
        ch, cw = round(w * th / tw), w
    else:
        ch, cw = h, round(h * tw / th)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    crop = image[y0 : y0 + ch, x0 : x0 + cw]
    interp = cv2.INTER_AREA if ch * cw > th * tw else cv2.INTER_CUBIC
    return cv2.resize(crop, (tw, th), interpolation=interp)


def viewpoint_config(strength: float) -> HomographyConfig:
    """Random-homography parameters for a viewpoint change of ``strength`` in (0, 1]."""
    s = float(strength)
    return HomographyConfig(
        patch_ratio=0.9 - 0.2 * s,
        perspective_amplitude_x=0.1 + 0.2 * s,
        perspective_amplitude_y=0.1 + 0.2 * s,
        scaling_amplitude=0.1 + 0.2 * s,
        max_angle=0.1 + 0.5 * s,
        allow_artifacts=False,
    )


def _centre_patch_homography(height: int, width: int, patch_ratio: float) -> np.ndarray:
    """The homography ``sample_homography`` falls back to when it cannot place a patch."""
    return sample_homography(
        height, width, np.random.default_rng(0), HomographyConfig(False, False, False, False, patch_ratio=patch_ratio)
    )


def sample_viewpoint(height: int, width: int, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A random homography (reference -> warped) of the given strength, never the plain centre crop."""
    cfg = viewpoint_config(strength)
    fallback = _centre_patch_homography(height, width, cfg.patch_ratio)
    for attempt in range(20):
        c = cfg if attempt < 10 else replace(cfg, max_angle=cfg.max_angle / 2)
        h = sample_homography(height, width, rng, c)
        if not np.allclose(h, fallback):
            return h / h[2, 2]
    return fallback / fallback[2, 2]


def add_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of std ``sigma`` (grey levels), clipped to uint8."""
    if sigma <= 0:
        return image
    out = image.astype(np.float32) + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def make_viewpoint_sequence(
    reference: np.ndarray, rng: np.random.Generator, noise_sigma: float = 1.5
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(images[6], homographies[5])`` of a viewpoint sequence; ``homographies[k-2]``: image 1 -> k."""
    h, w = reference.shape[:2]
    homs = [sample_viewpoint(h, w, s, rng) for s in STRENGTHS]
    images = [add_noise(reference, noise_sigma, rng)]
    images += [add_noise(warp_image(reference, hk), noise_sigma, rng) for hk in homs]
    return images, homs


def _signed(rng: np.random.Generator, low: float = 0.4) -> float:
    """A random value in [-1, -low] U [low, 1]: a change of random direction but real magnitude."""
    return float(rng.choice([-1.0, 1.0]) * rng.uniform(low, 1.0))


def photometric_change(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A random illumination change of ``strength`` in [0, 1] (uint8 in, uint8 out, same shape).

    In order: white balance (per-channel gains up to +-30 %), gamma (up to 0.37 .. 2.7), contrast
    (x0.4 .. x1.4) and brightness (+-25 % of the range), smooth shading (a linear gradient in a random
    direction and two soft lights / shadows, up to x0.2 .. x2), then sensor noise (sigma 1.5 .. 4.5).
    """
    s = float(strength)
    img = image.astype(np.float32) / 255.0
    h, w = img.shape[:2]
    if img.ndim == 3:
        img = img * (1.0 + 0.3 * s * rng.uniform(-1.0, 1.0, 3)).astype(np.float32)
    else:
        img = img * (1.0 + 0.2 * s * _signed(rng))
    img = np.clip(img, 0.0, 1.0) ** float(np.exp(1.0 * s * _signed(rng)))
    c = _signed(rng)
    contrast = 1.0 + s * (0.6 * c if c < 0 else 0.4 * c)
    mean = float(img.mean())
    img = (img - mean) * contrast + mean + 0.25 * s * _signed(rng, 0.0)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0.0, 2.0 * np.pi)
    shade = 1.0 + 0.5 * s * _signed(rng) * (np.cos(ang) * (xs / w - 0.5) + np.sin(ang) * (ys / h - 0.5)) * 2.0
    for _ in range(2):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.15, 0.4) * max(h, w)
        shade += 0.6 * s * _signed(rng) * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2.0 * r * r))
    shade = np.clip(shade, 0.2, 2.0)
    img = img * (shade[..., None] if img.ndim == 3 else shade)
    out = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    return add_noise(out, 1.5 + 3.0 * s, rng)


def make_illumination_sequence(
    reference: np.ndarray, rng: np.random.Generator, noise_sigma: float = 1.5
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(images[6], identity homographies[5])`` of an illumination sequence."""
    images = [add_noise(reference, noise_sigma, rng)] + [photometric_change(reference, s, rng) for s in STRENGTHS]
    return images, [np.eye(3) for _ in STRENGTHS]


def sequence_name(kind: str, photo: str | Path) -> str:
    """``<kind>_<lowercase stem>`` with anything but letters, digits and '-' replaced by '-'."""
    stem = re.sub(r"[^a-z0-9-]+", "-", Path(photo).stem.lower()).strip("-")
    return f"{kind}_{stem or 'photo'}"


def unique_name(name: str, used: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3``, ... when taken (photos of several packages share file names, e.g.
    2560x1600.jpg); the result is added to ``used``."""
    base, n = name, 2
    while name in used:
        name, n = f"{base}-{n}", n + 1
    used.add(name)
    return name


def sequence_rng(seed: int, name: str) -> np.random.Generator:
    """A generator that depends only on the seed and the sequence name (order-independent)."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


def make_benchmark(
    photos: Iterable[str | Path],
    out_dir: str | Path,
    size: tuple[int, int] = (480, 640),
    kinds: str = "iv",
    seed: int = 0,
    ext: str = ".jpg",
    jpeg_quality: int = 92,
    noise_sigma: float = 1.5,
    viewpoint_photos: Sequence[str | Path] | None = None,
    illumination_photos: Sequence[str | Path] | None = None,
) -> list[Path]:
    """Write one sequence per photo and kind into ``out_dir``; returns the sequence folders.

    ``kinds`` picks ``"i"`` and/or ``"v"`` sequences for every photo of ``photos``;
    ``viewpoint_photos`` / ``illumination_photos`` add photos for one kind only.
    """
    if not set(kinds) <= {"i", "v"}:
        raise ValueError(f"kinds must be made of 'i' and 'v', got {kinds!r}")
    jobs: list[tuple[str, Path]] = []
    for p in photos:
        jobs += [(k, Path(p)) for k in "vi" if k in kinds]
    jobs += [("v", Path(p)) for p in viewpoint_photos or ()]
    jobs += [("i", Path(p)) for p in illumination_photos or ()]
    if not jobs:
        raise ValueError("no photos given")
    out = Path(out_dir)
    written: list[Path] = []
    used: set[str] = set()
    for kind, photo in jobs:
        name = unique_name(sequence_name(kind, photo), used)
        ref = prepare_reference(load_photo(photo), size)
        rng = sequence_rng(seed, name)
        make = make_viewpoint_sequence if kind == "v" else make_illumination_sequence
        images, homs = make(ref, rng, noise_sigma)
        written.append(write_sequence(out / name, images, homs, ext=ext, jpeg_quality=jpeg_quality))
    write_provenance(out, seed=seed, size=list(size), sequences=len(written))
    return written


PROVENANCE = "GENERATED.json"


def write_provenance(out_dir: str | Path, **fields: object) -> Path:
    """``out_dir/GENERATED.json``: the library versions that made a generated benchmark (OpenCV's warps and resizes
    differ between releases: 5.1 changes 200 of the 480 images of the training-photo benchmark by up to 8 grey
    levels against 5.0, enough to move homography accuracy at 3 px by a few pairs) plus ``fields``."""
    path = Path(out_dir) / PROVENANCE
    doc = {"opencv": cv2.__version__, "numpy": np.__version__, **fields}
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path
