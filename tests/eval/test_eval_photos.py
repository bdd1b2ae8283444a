"""The offline photo inventory and its train / held-out split."""

from __future__ import annotations

from pathlib import Path

import pytest

from superpoint_rt.eval import photos


def test_unknown_split() -> None:
    with pytest.raises(ValueError, match="split must be one of"):
        photos.list_photos("test")
    with pytest.raises(ValueError, match="include_rendered"):
        photos.list_photos("heldout", include_rendered=True)


def test_missing_source_names_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # independent of what this machine has installed: every source folder points into an empty tmp tree
    monkeypatch.setattr(photos, "WALLPAPERS", tmp_path / "none")
    monkeypatch.setattr(photos, "BACKGROUNDS", tmp_path / "none")
    with pytest.raises(photos.MissingPhotoSource, match="apt-get install plasma-workspace-wallpapers"):
        photos.list_photos("train")
    monkeypatch.setattr(photos, "_package_dir", lambda name: None)
    with pytest.raises(photos.MissingPhotoSource, match="pip install scikit-image"):
        photos.list_photos("heldout")


def test_missing_heldout_wallpaper_is_named_after_the_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # scikit-image and matplotlib present (fake package folders with their sample files), the wallpaper absent
    for module, sub, names in (
        ("skimage", Path("data"), photos.SKIMAGE_PHOTOS),
        ("matplotlib", Path("mpl-data") / "sample_data", photos.MATPLOTLIB_PHOTOS),
    ):
        for n in names:
            (tmp_path / module / sub).mkdir(parents=True, exist_ok=True)
            (tmp_path / module / sub / n).write_bytes(b"")
    monkeypatch.setattr(photos, "_package_dir", lambda name: tmp_path / name)
    monkeypatch.setattr(photos, "BACKGROUNDS", tmp_path / "none")
    with pytest.raises(photos.MissingPhotoSource, match=r"apt-get install lomiri-wallpapers-20\.04"):
        photos.list_photos("heldout")


def _manifest(root: Path, rows: list[tuple[str, str, str]], make_files: bool = True) -> None:
    lines = ["set\tsplit\tfile\tsize"] + [f"{a}\t{b}\t{c}\t10x10" for a, b, c in rows]
    (root / photos.MANIFEST).write_text("\n".join(lines) + "\n")
    if make_files:
        for _, _, f in rows:
            (root / f).parent.mkdir(parents=True, exist_ok=True)
            (root / f).write_bytes(b"")


def test_manifest_photos_by_split_and_set(tmp_path: Path) -> None:
    rows = [
        ("a", "train", "a/train/1.jpg"),
        ("a", "val", "a/val/2.jpg"),
        ("b", "train", "b/train/3.jpg"),
        ("b", "train", "b/train/0.jpg"),
    ]
    _manifest(tmp_path, rows)
    assert photos.list_manifest_photos(tmp_path, "train") == [
        tmp_path / "a/train/1.jpg",
        tmp_path / "b/train/3.jpg",
        tmp_path / "b/train/0.jpg",
    ]  # manifest order
    assert photos.list_manifest_photos(tmp_path, "val") == [tmp_path / "a/val/2.jpg"]
    assert photos.list_manifest_photos(tmp_path, "train", sets=("b",)) == [
        tmp_path / "b/train/3.jpg",
        tmp_path / "b/train/0.jpg",
    ]


def test_manifest_photos_errors(tmp_path: Path) -> None:
    with pytest.raises(photos.MissingPhotoSource, match=r"no manifest\.tsv"):
        photos.list_manifest_photos(tmp_path, "train")
    _manifest(tmp_path, [("a", "train", "a/1.jpg")])
    with pytest.raises(ValueError, match="no photo of split 'val'"):
        photos.list_manifest_photos(tmp_path, "val")
    with pytest.raises(ValueError, match="sets"):
        photos.list_manifest_photos(tmp_path, "train", sets=("zzz",))
    _manifest(tmp_path, [("a", "train", "a/missing.jpg")], make_files=False)
    with pytest.raises(photos.MissingPhotoSource, match="missing"):
        photos.list_manifest_photos(tmp_path, "train")
    (tmp_path / photos.MANIFEST).write_text("set\tfile\na\tx.jpg\n")
    with pytest.raises(ValueError, match="lacks column"):
        photos.list_manifest_photos(tmp_path, "train")


def test_largest_plasma_image(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "Foo" / "contents" / "images"
    folder.mkdir(parents=True)
    for name in ("1280x800.jpg", "2560x1600.jpg", "1080x1920.png", "screenshot.jpg"):
        (folder / name).write_bytes(b"")
    monkeypatch.setattr(photos, "WALLPAPERS", tmp_path)
    assert photos._largest_plasma_image("Foo") == folder / "2560x1600.jpg"  # portrait ones are skipped
    assert photos._largest_plasma_image("Bar") is None


def _installed(split: str) -> list[Path]:
    try:
        return photos.list_photos(split)
    except photos.MissingPhotoSource as e:
        pytest.skip(str(e))


def test_splits_are_disjoint_and_exist() -> None:
    train, heldout = _installed("train"), _installed("heldout")
    assert train and heldout
    assert not set(train) & set(heldout)
    assert not {p.name for p in train} & {p.name for p in heldout}
    assert all(p.is_file() for p in train + heldout)
    assert not set(photos.PLASMA_PHOTOS) & set(photos.PLASMA_RENDERED)


def test_name_lists_do_not_overlap() -> None:
    """The file-name lists under /usr/share/backgrounds share a folder: no name may be in two of them."""
    lists = [photos.LOMIRI_1604_PHOTOS, photos.LOMIRI_PHOTOS, photos.UKUI_RENDERED]
    names = [n for lst in lists for n in lst]
    assert len(names) == len(set(names))


def test_evenly_spaced_hand_worked() -> None:
    items = list(range(10))
    assert photos.evenly_spaced(items, 4) == [0, 3, 6, 9]  # round(i * 9 / 3)
    assert photos.evenly_spaced(items, 3) == [0, 4, 9]  # round(4.5) = 4 (banker's rounding, as before)
    assert photos.evenly_spaced(items, 1) == [0]
    assert photos.evenly_spaced(items, 0) == []
    assert photos.evenly_spaced(items, 10) == items and photos.evenly_spaced(items, 50) == items
    assert photos.evenly_spaced([], 3) == []
