"""BatchFeatures: the padded batch layout the GPU path returns, against hand-built features."""

from __future__ import annotations

import numpy as np
import pytest

from superpoint_rt.batch import BatchFeatures
from superpoint_rt.types import Features


def _feats(n, seed, size=(48, 64), dim=4):
    rng = np.random.default_rng(seed)
    kp = rng.integers(0, 40, (n, 2)).astype(np.float32)
    sc = np.sort(rng.random(n).astype(np.float32))[::-1].copy()
    de = rng.normal(size=(n, dim)).astype(np.float32)
    de /= np.linalg.norm(de, axis=1, keepdims=True)
    return Features(kp, sc, de, size)


def test_round_trip_and_padding():
    fs = [_feats(3, 0), _feats(0, 1), _feats(5, 2)]
    b = BatchFeatures.from_list(fs)
    assert len(b) == 3 and b.max_keypoints == 5 and b.counts.tolist() == [3, 0, 5]
    assert b.keypoints.shape == (3, 5, 2) and b.descriptors.shape == (3, 5, 4) and b.scores.shape == (3, 5)
    # padding is zeros, valid rows are the inputs
    assert not b.keypoints[0, 3:].any() and not b.descriptors[1].any() and not b.scores[0, 3:].any()
    np.testing.assert_array_equal(b.mask(), [[1, 1, 1, 0, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]])
    back = b.to_list()
    for f, g in zip(fs, back):
        np.testing.assert_array_equal(f.keypoints, g.keypoints)
        np.testing.assert_array_equal(f.scores, g.scores)
        np.testing.assert_array_equal(f.descriptors, g.descriptors)
        assert g.image_size == (48, 64) and g.keypoints.flags.c_contiguous
    assert len(b[1]) == 0 and b[1].descriptors.shape == (0, 4)


def test_fixed_k():
    b = BatchFeatures.from_list([_feats(2, 0)], max_keypoints=6)
    assert b.keypoints.shape == (1, 6, 2) and b.counts.tolist() == [2]
    with pytest.raises(ValueError, match="more than max_keypoints"):
        BatchFeatures.from_list([_feats(7, 0)], max_keypoints=6)


def test_validation():
    with pytest.raises(ValueError, match="at least one"):
        BatchFeatures.from_list([])
    with pytest.raises(ValueError, match="same size"):
        BatchFeatures.from_list([_feats(1, 0), _feats(1, 1, size=(8, 8))])
    with pytest.raises(ValueError, match="dims"):
        BatchFeatures.from_list([_feats(1, 0), _feats(1, 1, dim=8)])
    kp, sc, de = np.zeros((2, 3, 2), np.float32), np.zeros((2, 3), np.float32), np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"counts must be in \[0, K=3\]"):
        BatchFeatures(kp, sc, de, np.array([1, 4]), (8, 8))
    with pytest.raises(ValueError, match="scores"):
        BatchFeatures(kp, sc[:, :2], de, np.array([1, 1]), (8, 8))
    with pytest.raises(ValueError, match="counts must be an integer"):
        BatchFeatures(kp, sc, de, np.array([1.0, 1.0]), (8, 8))
    with pytest.raises(TypeError):
        BatchFeatures(kp.tolist(), sc, de, np.array([1, 1]), (8, 8))  # type: ignore[arg-type]
