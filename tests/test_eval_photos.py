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
    monkeypatch.setattr(photos, "WALLPAPERS", tmp_path / "none")
    with pytest.raises(photos.MissingPhotoSource, match="apt-get install plasma-workspace-wallpapers"):
        photos.list_photos("train")
    monkeypatch.setattr(photos, "_package_dir", lambda name: None)
    with pytest.raises(photos.MissingPhotoSource, match="pip install scikit-image"):
        photos.list_photos("heldout")


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
