"""scripts/make_training_crops.py: crop sizes under --max-upscale (hand-worked bounds), the earlier releases' random
stream kept without it, and crops cut from a manifest tree (names from the manifest's paths)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from script_loader import SCRIPTS, load_script

SCRIPT = SCRIPTS / "make_training_crops.py"


def _load():  # type: ignore[no-untyped-def]
    return load_script("make_training_crops")


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)


def test_crops_without_max_upscale_follow_the_earlier_stream() -> None:
    """The 15% floor of the earlier releases: the first crop's window is int(min(ih, iw*h/w) * u), u the first
    uniform(0.15, 1) of the stream, and the crop comes from exactly that window."""
    mod = _load()
    img = _texture(300, 500)
    crops = mod.crops_of(img, 1, (24, 32), np.random.default_rng(7))
    rng = np.random.default_rng(7)
    ch = int(min(300, 500 * 24 / 32) * rng.uniform(0.15, 1.0))
    cw = int(ch * 32 / 24)
    y, x = int(rng.integers(0, 300 - ch + 1)), int(rng.integers(0, 500 - cw + 1))
    expect = cv2.resize(img[y : y + ch, x : x + cw], (32, 24), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(crops[0], expect)


def test_max_upscale_bounds_the_smallest_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 360x480 photo, 240x320 crops, max_upscale 1.5: windows of height 160..360 (240 / 1.5 = 160); a photo
    smaller than the output is used whole (frac 1)."""
    mod = _load()
    seen: list[tuple[float, float]] = []
    real_uniform = np.random.Generator.uniform

    class Spy:
        def __init__(self, seed: int) -> None:
            self.rng = np.random.default_rng(seed)

        def uniform(self, lo: float, hi: float) -> float:
            seen.append((lo, hi))
            return float(real_uniform(self.rng, lo, hi))

        def integers(self, lo: int, hi: int) -> int:
            return int(self.rng.integers(lo, hi))

    mod.crops_of(_texture(360, 480), 3, (240, 320), Spy(0), max_upscale=1.5)  # type: ignore[arg-type]
    assert seen and all(abs(lo - 160 / 360) < 1e-12 and hi == 1.0 for lo, hi in seen)
    seen.clear()
    out = mod.crops_of(_texture(120, 160), 2, (240, 320), Spy(0), max_upscale=1.5)  # type: ignore[arg-type]
    assert all(lo == 1.0 for lo, _ in seen)
    assert all(c.shape == (240, 320) for c in out)


def test_crops_from_a_manifest_tree(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    rows = [("s1", "train", "s1/train/a.jpg"), ("s1", "val", "s1/val/b.jpg"), ("s2", "train", "s2/train/c.png")]
    for i, (_, _, f) in enumerate(rows):
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / f), _texture(120, 160, i))
    lines = ["set\tsplit\tfile"] + ["\t".join(r) for r in rows]
    (root / "manifest.tsv").write_text("\n".join(lines) + "\n")
    if not SCRIPT.is_file():
        pytest.skip("scripts/ is not next to the tests (installed package)")
    out = tmp_path / "crops"
    cmd = [sys.executable, str(SCRIPT), "--photos", str(root), "--out", str(out), "--per-photo", "2"]
    cmd += ["--size", "48", "64", "--max-upscale", "1.5", "--seed", "1"]
    subprocess.run(cmd, check=True, capture_output=True)
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg"))
    assert names == ["s1/train/a_000.jpg", "s1/train/a_001.jpg", "s2/train/c_000.jpg", "s2/train/c_001.jpg"]
    assert cv2.imread(str(out / names[0]), cv2.IMREAD_GRAYSCALE).shape == (48, 64)
    bad = subprocess.run([*cmd, "--include-rendered"], capture_output=True, text=True)
    assert bad.returncode != 0 and "--include-rendered" in bad.stderr
