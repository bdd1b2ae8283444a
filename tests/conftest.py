"""Shared fixtures: real photos from tests/data, seeded random weights."""

from __future__ import annotations

import warnings
from pathlib import Path

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
