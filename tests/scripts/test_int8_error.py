"""scripts/int8_error.py: the photo pick leaves the calibration photos out; agreement figures on hand-made outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from script_loader import load_script

from superpoint_rt.types import Features


def test_pick_photos_skips_the_calibration_photos(tmp_path: Path) -> None:
    mod = load_script("int8_error")
    files = []
    for i in range(10):
        f = tmp_path / f"{i}.png"
        cv2.imwrite(str(f), np.zeros((8, 8), np.uint8))
        files.append(f)
    # calibration of 4 of 10: indices 0, 3, 6, 9; the rest 1 2 4 5 7 8, of which 3 evenly spaced: positions
    # round(i * 5 / 2) = 0, 2 (round half to even), 5 -> photos 1, 4, 8
    picked = mod.pick_photos(str(tmp_path), 4, 3)
    assert picked == [files[1], files[4], files[8]]
    assert mod.pick_photos(str(tmp_path), 0, 2) == [files[0], files[9]]
    with pytest.raises(ValueError, match="no photo left"):
        mod.pick_photos(str(tmp_path), 10, 3)


class _Fake:
    """Returns fixed Features; ``compute`` returns fixed descriptors for whatever keypoints it is given."""

    def __init__(self, kp: list[tuple[float, float]], desc: np.ndarray, computed: np.ndarray | None = None) -> None:
        self.f = Features(np.array(kp, np.float32).reshape(-1, 2), np.ones(len(kp), np.float32),
                          desc.astype(np.float32), (32, 32))  # fmt: skip
        self.computed = computed

    def __call__(self, image: np.ndarray) -> Features:
        return self.f

    def compute(self, image: np.ndarray, kps: list[Any]) -> tuple[tuple[Any, ...], np.ndarray | None]:
        return tuple(kps), self.computed


def test_compare_one_hand_worked() -> None:
    mod = load_script("int8_error")
    e = np.eye(4)
    ref = _Fake([(10, 10), (20, 20), (5, 25)], e[:3])
    # test keypoints: (10.1, 10) is 0.1 px from the first, (20.5, 20) 0.5 px from the second, none near the third
    # its descriptors at the reference keypoints: the first equal, the second rotated 60 degrees towards e3 (cos 0.5),
    # the third equal to the reference's second -> its nearest reference descriptor is the second, not itself
    c = np.stack([e[0], 0.5 * e[1] + np.sqrt(0.75) * e[3], e[1]])
    test = _Fake([(10.1, 10), (20.5, 20), (30, 1)], e[:3], computed=c)
    out = mod.compare_one(ref, test, np.zeros((32, 32), np.uint8))
    assert out["keypoint_recall_1px"] == pytest.approx(2 / 3)
    assert out["keypoint_recall_0.25px"] == pytest.approx(1 / 3)
    assert out["shift_px_median"] == pytest.approx(0.3)
    assert out["descriptor_cosine"] == pytest.approx((1 + 0.5 + 0) / 3)
    # nearest reference descriptors: 0 -> 0 (cos 1), 1 -> 1 (cos 0.5 vs 0), 2 -> 1 (cos 1): 2 of 3 are themselves
    assert out["descriptor_nn_identity"] == pytest.approx(2 / 3)
