"""Fixtures of the command-line tests."""

from __future__ import annotations

import pytest

from superpoint_rt.weights import random_weights, save_npz


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A random-weights .npz file (the engine path without the packaged weights)."""
    return str(save_npz(random_weights(0), tmp_path_factory.mktemp("w") / "random.npz"))
