"""scripts/make_val_benchmark.py: photos picked evenly and disjointly per set; an HPatches tree from a manifest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from script_loader import SCRIPTS, load_script

SCRIPT = SCRIPTS / "make_val_benchmark.py"


def _load():  # type: ignore[no-untyped-def]
    return load_script("make_val_benchmark")


def test_pick_is_even_and_disjoint() -> None:
    mod = _load()
    photos = [Path(f"{i}.jpg") for i in range(10)]
    v, i = mod.pick(photos, 2)  # 4 evenly spaced: 0, 3, 6, 9 -> v 0, 6; i 3, 9
    assert [p.stem for p in v] == ["0", "6"] and [p.stem for p in i] == ["3", "9"]
    v, i = mod.pick(photos[:3], 4)  # fewer than asked: all of them
    assert [p.stem for p in v] == ["0", "2"] and [p.stem for p in i] == ["1"]
    assert mod.pick([], 3) == ([], [])


def test_writes_sequences_from_the_val_split(tmp_path: Path) -> None:
    if not SCRIPT.is_file():
        pytest.skip("scripts/ is not next to the tests (installed package)")
    root = tmp_path / "photos"
    rows = [("s1", "val", f"s1/val/{k}.jpg") for k in range(3)] + [("s1", "train", "s1/train/t.jpg")]
    rng = np.random.default_rng(0)
    for _, _, f in rows:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        img = cv2.GaussianBlur(rng.integers(0, 256, (240, 320), dtype=np.uint8), (5, 5), 1.5)
        cv2.imwrite(str(root / f), img)
    (root / "manifest.tsv").write_text("set\tsplit\tfile\n" + "".join("\t".join(r) + "\n" for r in rows))
    out = tmp_path / "bench"
    cmd = [sys.executable, str(SCRIPT), "--photos", str(root), "--out", str(out), "--per-set", "1"]
    subprocess.run(cmd, check=True, capture_output=True)
    seqs = sorted(p.name for p in out.iterdir() if p.is_dir())
    # even spacing over 3 photos: 0 (viewpoint), 2 (illumination); no train photo
    assert seqs == ["i_2", "v_0"] and (out / "GENERATED.json").is_file()
    assert (out / "v_0" / "H_1_6").is_file() and (out / "i_2" / "6.jpg").is_file()
