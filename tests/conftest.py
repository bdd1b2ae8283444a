"""Shared fixtures: real photos from tests/data, seeded random weights."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    img = cv2.imread(str(DATA / "astronaut.jpg"), cv2.IMREAD_COLOR)
    assert img is not None
    return img


@pytest.fixture(scope="session")
def rand_weights():
    from superpoint_rt.weights import random_weights

    return random_weights(0)


@pytest.fixture(scope="session")
def random_sp():
    """A SuperPoint with seeded random weights on the portable FP32 engine (tests only)."""
    from superpoint_rt import SuperPoint

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SuperPoint(weights="random", backend="onnxruntime", conf_threshold=0.001)


def _labelled_images(root: Path, count: int, seed: int, size: tuple[int, int] = (40, 50)) -> Any:
    """``count`` blurred-noise images under ``root/imgs`` labelled by a two-warp Homographic Adaptation with
    brightness as the 'detector' (labels in ``root/labels``); returns the SuperPoint stage's ``DataConfig`` for them
    at 32x40."""
    from superpoint_rt.train.adaptation import AdaptationConfig, run_adaptation
    from superpoint_rt.train.config import DataConfig

    imgs = root / "imgs"
    imgs.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        im = cv2.GaussianBlur(rng.uniform(0, 255, size).astype(np.float32), (0, 0), 1.5)
        cv2.imwrite(str(imgs / f"{i}.png"), im.astype(np.uint8))

    def heat(b: np.ndarray) -> np.ndarray:
        return b[:, 0] * 0.05  # brightness as a 'detector'

    cfg = AdaptationConfig(num_homographies=2)
    run_adaptation(imgs, root / "labels", heat, cfg, size=(32, 40), progress=False)
    return DataConfig(height=32, width=40, image_dir=str(imgs), label_dir=str(root / "labels"), num_workers=0)


@pytest.fixture
def labelled_images() -> Callable[..., Any]:
    """``labelled_images(root, count, seed, size=(40, 50)) -> DataConfig``: a tiny labelled set for the SuperPoint
    stage (needs torch: use it from tests that skip without it)."""
    return _labelled_images
