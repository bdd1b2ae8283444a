"""Real photographs available offline, split into a training set and a held-out evaluation set.

The sources are Debian wallpaper packages and the sample images shipped inside the scikit-image and
matplotlib wheels; ``data/PHOTOS.md`` lists every file with its licence and why it is (or is not) used.
Only natural photographs are listed: rendered or abstract wallpapers are left out unless
``include_rendered=True`` (training only).

The split (never mix them):

* ``"heldout"`` -- evaluation only: the scikit-image photographs, matplotlib's ``grace_hopper.jpg`` and
  the one photograph of ``lomiri-wallpapers-20.04`` (``Kleiber_by_Lukas_Baubkus.jpg``).
* ``"train"`` -- training / Homographic Adaptation: the photographs of ``plasma-workspace-wallpapers``,
  the ``nature`` set of ``mate-backgrounds`` and the photographs of ``lomiri-wallpapers-16.04``.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

_T = TypeVar("_T")

WALLPAPERS = Path("/usr/share/wallpapers")
BACKGROUNDS = Path("/usr/share/backgrounds")

# plasma-workspace-wallpapers: natural photographs (one folder per wallpaper, several resolutions each).
PLASMA_PHOTOS = (
    "BytheWater",
    "ColdRipple",
    "ColorfulCups",
    "DarkestHour",
    "EveningGlow",
    "FallenLeaf",
    "Grey",
    "Kite",
    "OneStandsOut",
    "Path",
    "summer_1am",
)
# plasma-workspace-wallpapers: rendered / painted art (useful only as extra texture, never held out).
PLASMA_RENDERED = (
    "Altai",
    "Autumn",
    "Canopee",
    "Cascade",
    "Cluster",
    "Elarun",
    "Flow",
    "FlyingKonqui",
    "Honeywave",
    "IceCold",
    "Kay",
    "Kokkini",
    "MilkyWay",
    "Opal",
    "PastelHills",
    "Patak",
    "SafeLanding",
    "Shell",
    "Volna",
)
MATE_NATURE = (
    "Aqua.jpg",
    "Blinds.jpg",
    "Dune.jpg",
    "FreshFlower.jpg",
    "Garden.jpg",
    "GreenMeadow.jpg",
    "LadyBird.jpg",
    "RainDrops.jpg",
    "Storm.jpg",
    "TwoWings.jpg",
    "Wood.jpg",
    "YellowFlower.jpg",
)
UKUI_RENDERED = (
    "2004default.jpg",
    "calla.png",
    "city.png",
    "desert.png",
    "firstgeneration.jpg",
    "fluent-color.png",
    "focal-ubuntukylin.png",
    "goldfish.png",
    "rhythm.jpg",
    "rollpaper.png",
    "string.jpg",
    "the-mouse.jpg",
)
GNOME_RENDERED = ("adwaita", "grid", "licorice", "pixels", "truchet")  # -d / -l .webp variants
# scikit-image data shipped in the wheel (CC0 / public domain, see data/PHOTOS.md).
SKIMAGE_PHOTOS = (
    "astronaut.png",
    "brick.png",
    "camera.png",
    "chelsea.png",
    "coffee.png",
    "grass.png",
    "gravel.png",
    "rocket.jpg",
)
MATPLOTLIB_PHOTOS = ("grace_hopper.jpg",)
LOMIRI_PHOTOS = ("Kleiber_by_Lukas_Baubkus.jpg",)
# lomiri-wallpapers-16.04 (Ubuntu community photos, CC-BY-4.0 / CC-BY-SA-4.0 / CC0; train split).
# Not used: umang_by_Abhishek_Mudgal.jpg (a rendered gradient).
LOMIRI_1604_PHOTOS = (
    "Bridge_by_Sander_Klootwijk.jpg",
    "Dragonfly_by_Bolly.jpg",
    "Picture_0B_by_freespace.jpg",
    "Picture_1A_by_freespace.jpg",
    "Wine_by_Jakkub_Mede.jpg",
    "aitzgorri_by_Aitzol_Berasategi.jpg",
    "analogpattern_by_Peter_Nerlich.jpg",
    "free_by_Peter_Nerlich.jpg",
    "friends_by_Aitzol_Berasategi.jpg",
    "greentock_by_Peter_Nerlich.jpg",
    "life_by_Aitzol_Berasategi.jpg",
    "picosdeeuropa_by_Aitzol_Berasategi.jpg",
    "seeding_by_Clements_Engelhardt.jpg",
    "sunset_by_Aitzol_Berasategi.jpg",
)

SPLITS = ("train", "heldout")


@dataclass(frozen=True)
class PhotoSource:
    """One installable source of photographs."""

    name: str
    install: str  # the command that provides it
    split: str  # "train" | "heldout"
    rendered: bool = False  # abstract / rendered art rather than photographs


SOURCES = (
    PhotoSource("plasma-workspace-wallpapers", "apt-get install plasma-workspace-wallpapers", "train"),
    PhotoSource("mate-backgrounds", "apt-get install mate-backgrounds", "train"),
    PhotoSource("lomiri-wallpapers-16.04", "apt-get install lomiri-wallpapers-16.04", "train"),
    PhotoSource("scikit-image", "pip install scikit-image", "heldout"),
    PhotoSource("matplotlib", "pip install matplotlib", "heldout"),
    PhotoSource("lomiri-wallpapers-20.04", "apt-get install lomiri-wallpapers-20.04", "heldout"),
    PhotoSource("plasma-workspace-wallpapers (rendered)", "apt-get install plasma-workspace-wallpapers", "train", True),
    PhotoSource("ukui-wallpapers", "apt-get install ukui-wallpapers", "train", True),
    PhotoSource("gnome-backgrounds", "apt-get install gnome-backgrounds", "train", True),
)


class MissingPhotoSource(FileNotFoundError):
    """A photo source is not installed; the message names the command that installs it."""


def _missing(source: str, install: str, detail: str) -> MissingPhotoSource:
    return MissingPhotoSource(f"photo source '{source}' not found ({detail}); install it with: {install}")


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _largest_plasma_image(name: str) -> Path | None:
    """The highest-resolution landscape image of a plasma wallpaper (file names are ``WxH.ext``)."""
    best: tuple[int, Path] | None = None
    folder = WALLPAPERS / name / "contents" / "images"
    if not folder.is_dir():
        return None
    for p in folder.iterdir():
        m = re.fullmatch(r"(\d+)x(\d+)\.(jpe?g|png)", p.name, flags=re.IGNORECASE)
        if m is None:
            continue
        w, h = int(m.group(1)), int(m.group(2))
        if w < h:
            continue
        if best is None or w * h > best[0]:
            best = (w * h, p)
    return None if best is None else best[1]


def _plasma(names: tuple[str, ...], label: str) -> list[Path]:
    out = [p for p in (_largest_plasma_image(n) for n in names) if p is not None]
    if not out:
        raise _missing(label, "apt-get install plasma-workspace-wallpapers", f"nothing under {WALLPAPERS}")
    return out


def _files(folder: Path, names: tuple[str, ...], source: str, install: str) -> list[Path]:
    paths = [folder / n for n in names]
    missing = [p for p in paths if not p.is_file()]
    if len(missing) == len(paths):
        raise _missing(source, install, f"no file of it under {folder}")
    return [p for p in paths if p.is_file()]


def _skimage() -> list[Path]:
    root = _package_dir("skimage")
    if root is None:
        raise _missing("scikit-image", "pip install scikit-image", "the skimage package is not importable")
    return _files(root / "data", SKIMAGE_PHOTOS, "scikit-image", "pip install scikit-image")


def _matplotlib() -> list[Path]:
    root = _package_dir("matplotlib")
    if root is None:
        raise _missing("matplotlib", "pip install matplotlib", "the matplotlib package is not importable")
    return _files(root / "mpl-data" / "sample_data", MATPLOTLIB_PHOTOS, "matplotlib", "pip install matplotlib")


def _rendered() -> list[Path]:
    out = _plasma(PLASMA_RENDERED, "plasma-workspace-wallpapers")
    out += _files(BACKGROUNDS, UKUI_RENDERED, "ukui-wallpapers", "apt-get install ukui-wallpapers")
    gnome = tuple(f"{n}-{v}.webp" for n in GNOME_RENDERED for v in ("l", "d"))
    out += _files(BACKGROUNDS / "gnome", gnome, "gnome-backgrounds", "apt-get install gnome-backgrounds")
    return out


def list_photos(split: str, include_rendered: bool = False) -> list[Path]:
    """Paths of the photographs of one split, in a fixed order.

    Args:
        split: ``"train"`` (training / adaptation) or ``"heldout"`` (evaluation only).
        include_rendered: for ``"train"`` only, also return rendered / abstract wallpapers
            (plasma art, ukui, gnome); they carry corners and texture but are not photographs.

    Raises:
        ValueError: unknown split, or ``include_rendered`` with the held-out split.
        MissingPhotoSource: a source of the split is not installed (the message names the apt / pip
            command). Individual files missing from an installed source are skipped silently.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split == "heldout":
        if include_rendered:
            raise ValueError("include_rendered applies to the 'train' split only")
        out = _skimage()  # sources checked in the order listed, so the first missing one is named
        out += _matplotlib()
        out += _files(BACKGROUNDS, LOMIRI_PHOTOS, "lomiri-wallpapers-20.04", "apt-get install lomiri-wallpapers-20.04")
        return out
    out = _plasma(PLASMA_PHOTOS, "plasma-workspace-wallpapers")
    out += _files(BACKGROUNDS / "mate" / "nature", MATE_NATURE, "mate-backgrounds", "apt-get install mate-backgrounds")
    out += _files(BACKGROUNDS, LOMIRI_1604_PHOTOS, "lomiri-wallpapers-16.04", "apt-get install lomiri-wallpapers-16.04")
    if include_rendered:
        out += _rendered()
    return out


def evenly_spaced(items: Sequence[_T], k: int) -> list[_T]:
    """``k`` items evenly spaced over ``items``, first and last included (all of them when there are no more than
    ``k``): index ``round(i * (len - 1) / (k - 1))``. Over a list that runs source by source (a photo tree, a
    manifest) it samples every source rather than the first one."""
    if k >= len(items):
        return list(items)
    return [items[round(i * (len(items) - 1) / max(k - 1, 1))] for i in range(k)]


MANIFEST = "manifest.tsv"


def list_manifest_photos(root: str | Path, split: str, sets: tuple[str, ...] | None = None) -> list[Path]:
    """Photographs of one split of a folder tree described by a manifest (``<root>/manifest.tsv``).

    The manifest is tab-separated with a header naming at least the columns ``set``, ``split`` and ``file``
    (``file`` relative to ``root``), as ``../shared/photos/manifest.tsv``. Rows are returned in manifest order.

    Args:
        root: the folder that holds ``manifest.tsv`` and the files it names.
        split: the value of the ``split`` column to keep (e.g. ``"train"`` or ``"val"``).
        sets: keep only these values of the ``set`` column (None: all).

    Raises:
        MissingPhotoSource: no manifest under ``root``, or a listed file is missing.
        ValueError: a malformed manifest, or no row of that split (and sets).
    """
    folder = Path(root)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise MissingPhotoSource(f"no {MANIFEST} in {folder}: pass the folder that holds the photos and their manifest")
    lines = [ln for ln in manifest.read_text().splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"{manifest} is empty")
    header = lines[0].split("\t")
    missing_cols = [c for c in ("set", "split", "file") if c not in header]
    if missing_cols:
        raise ValueError(f"{manifest}: header lacks column(s) {missing_cols} (has {header})")
    col = {c: header.index(c) for c in ("set", "split", "file")}
    out = []
    for n, line in enumerate(lines[1:], start=2):
        row = line.split("\t")
        if len(row) < len(header):
            raise ValueError(f"{manifest}:{n}: {len(row)} fields, the header has {len(header)}")
        if row[col["split"]] != split or (sets is not None and row[col["set"]] not in sets):
            continue
        out.append(folder / row[col["file"]])
    if not out:
        which = f"split {split!r}" + ("" if sets is None else f" and sets {list(sets)}")
        raise ValueError(f"{manifest} lists no photo of {which}")
    absent = [p for p in out if not p.is_file()]
    if absent:
        raise MissingPhotoSource(f"{len(absent)} file(s) listed in {manifest} are missing, e.g. {absent[0]}")
    return out
