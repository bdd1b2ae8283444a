"""Cut many crops at several scales from the training photos (data/PHOTOS.md, split "train") for Homographic
Adaptation and the SuperPoint stage. Deterministic by seed; the crops are derived data (not committed):

    apt-get install gnome-backgrounds mate-backgrounds plasma-workspace-wallpapers ukui-wallpapers
    apt-get install lomiri-wallpapers-16.04
    python scripts/make_training_crops.py --out train_data/crops --per-photo 60 [--include-rendered [--per-rendered 20]]

or from any folder tree with a ``manifest.tsv`` (columns set, split, file), e.g. the shared research photos:

    python scripts/make_training_crops.py --photos ../shared/photos --split train --out train_data/crops_photos \
        --per-photo 1 --max-upscale 1.5

Crops from a manifest are named ``<photo path in the manifest, no suffix>_<k>.jpg``; the Debian sources keep
the ``<i>_<k>.jpg`` names of the earlier releases (their crops regenerate byte-identically).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from superpoint_rt.eval.photos import LOMIRI_1604_PHOTOS, list_manifest_photos, list_photos


def crops_of(
    image: np.ndarray, n: int, size: tuple[int, int], rng: np.random.Generator, max_upscale: float | None = None
) -> list[np.ndarray]:
    """``n`` random crops with the aspect of ``size`` (H, W), covering 15%..100% of the largest such window, resized
    to ``size``; low-texture crops (gradient energy below a floor) are redrawn a few times, then kept anyway.

    ``max_upscale``: the smallest crop is ``size / max_upscale`` (so no crop is enlarged more than that; a photo
    smaller than that is used whole); None keeps the 15% floor of the earlier releases (same random stream).
    """
    h, w = size
    ih, iw = image.shape[:2]
    full = min(ih, iw * h / w)  # the largest window height with the aspect of size
    lo = 0.15 if max_upscale is None else min(1.0, h / max_upscale / full)
    out = []
    for _ in range(n):
        for _attempt in range(5):
            frac = rng.uniform(lo, 1.0)
            ch = int(full * frac)
            cw = int(ch * w / h)
            ch, cw = max(ch, 16), max(cw, 16)
            y = int(rng.integers(0, ih - ch + 1))
            x = int(rng.integers(0, iw - cw + 1))
            crop = cv2.resize(image[y : y + ch, x : x + cw], (w, h), interpolation=cv2.INTER_AREA)
            gx = cv2.Sobel(crop, cv2.CV_32F, 1, 0)
            gy = cv2.Sobel(crop, cv2.CV_32F, 0, 1)
            if float(np.mean(gx * gx + gy * gy)) > 200.0:
                break
        out.append(crop)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-photo", type=int, default=60)
    ap.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"))
    ap.add_argument("--include-rendered", action="store_true", help="also the rendered wallpapers")
    ap.add_argument(
        "--per-rendered", type=int, default=None, help="crops per rendered wallpaper (default: --per-photo)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--v1-sources",
        action="store_true",
        help="the training photos of the first release (before lomiri-wallpapers-16.04 joined the split)",
    )
    ap.add_argument(
        "--photos",
        default=None,
        metavar="DIR",
        help="a folder with manifest.tsv (set, split, file) instead of the Debian sources, e.g. ../shared/photos",
    )
    ap.add_argument("--split", default="train", help="manifest split to cut from (with --photos; default train)")
    ap.add_argument("--sets", nargs="+", default=None, help="manifest sets to use (with --photos; default all)")
    ap.add_argument(
        "--max-upscale",
        type=float,
        default=None,
        help="no crop is enlarged more than this (default: the 15%% floor of the earlier releases)",
    )
    args = ap.parse_args()
    per_rendered = args.per_photo if args.per_rendered is None else args.per_rendered
    if args.per_photo < 1 or per_rendered < 0:
        raise ValueError("--per-photo must be >= 1 and --per-rendered >= 0")
    if args.max_upscale is not None and args.max_upscale < 1.0:
        raise ValueError(f"--max-upscale must be >= 1, got {args.max_upscale}")
    if args.photos is not None and (args.include_rendered or args.v1_sources):
        raise ValueError("--photos reads a manifest; --include-rendered and --v1-sources apply to the Debian sources")
    if args.photos is not None and args.split != "train":
        print(f"note: cutting training crops from split {args.split!r}", file=sys.stderr)
    size = tuple(args.size)
    if args.photos is not None:
        photos = list_manifest_photos(args.photos, args.split, tuple(args.sets) if args.sets else None)
        real = set(photos)
        names = [p.relative_to(args.photos).with_suffix("").as_posix() for p in photos]  # unique: manifest paths
    else:
        photos = list_photos("train", include_rendered=args.include_rendered)
        if args.v1_sources:
            photos = [p for p in photos if p.name not in LOMIRI_1604_PHOTOS]
        real = set(list_photos("train"))  # the photographs; the rest of `photos` is rendered art
        names = [f"{i:03d}" for i in range(len(photos))]
    if len(set(names)) != len(names):
        raise ValueError("two photos would give crops of the same name")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    n = 0
    for p, name in zip(tqdm(photos, desc="photos"), names):
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise ValueError(f"cannot read {p}")
        count = args.per_photo if p in real else per_rendered
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        for j, c in enumerate(crops_of(img, count, size, rng, args.max_upscale)):
            cv2.imwrite(str(out / f"{name}_{j:03d}.jpg"), c, [cv2.IMWRITE_JPEG_QUALITY, 95])
            n += 1
    (out / "SOURCES.txt").write_text("\n".join(str(p) for p in photos) + "\n")
    print(f"wrote {n} crops from {len(photos)} photos to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
