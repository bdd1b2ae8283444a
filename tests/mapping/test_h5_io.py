"""Features and matches files in hloc's layout: hand-checked datasets, resume, round trip, pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py", reason="h5py is an optional extra: pip install '.[mapping]'")

from superpoint_rt.apps.cli import main  # noqa: E402
from superpoint_rt.mapping import (  # noqa: E402
    extract_features,
    match_features,
    pairs_exhaustive,
    pairs_from_file,
    pairs_from_spec,
    pairs_sequential,
    read_features,
    read_matches,
    write_pairs,
)
from superpoint_rt.mapping.features_io import feature_names, matches_from_pairs, names_to_pair  # noqa: E402
from superpoint_rt.types import Features  # noqa: E402

NAMES = ["a/f00.png", "a/f04.png", "a/f08.png", "b/f12.png", "b/f16.png", "b/f20.png"]


def test_layout_by_hand(tmp_path: Path, scene_images: Path, stub_sp: type) -> None:
    import cv2

    sp = stub_sp(n=5, dim=4)
    rec = extract_features([scene_images], tmp_path / "f.h5", sp, progress=False)
    assert rec["names"] == NAMES and rec["extracted"] == 6 and rec["skipped"] == 0
    img = cv2.imread(str(scene_images / "a/f04.png"), cv2.IMREAD_COLOR)
    want = stub_sp(n=5, dim=4)(img)
    with h5py.File(tmp_path / "f.h5", "r") as f:
        assert sorted(f.keys()) == ["a", "b"]  # "a/f04.png" nests as group a, group f04.png
        g = f["a"]["f04.png"]
        assert sorted(g.keys()) == ["descriptors", "image_size", "keypoints", "scores"]
        assert g["keypoints"].dtype == np.float32 and g["keypoints"].shape == (5, 2)
        assert g["descriptors"].shape == (4, 5)  # (D, N), hloc's layout
        np.testing.assert_array_equal(g["descriptors"][()], want.descriptors.T)
        np.testing.assert_array_equal(g["keypoints"][()], want.keypoints)
        np.testing.assert_array_equal(g["scores"][()], want.scores)
        assert g["image_size"][()].tolist() == [160, 120]  # (width, height)
        assert "pixel centres at integer" in f.attrs["pixel_convention"]
        assert feature_names(f) == NAMES
    back = read_features(tmp_path / "f.h5", "a/f04.png")
    assert back.image_size == (120, 160) and back.descriptors.shape == (5, 4)
    np.testing.assert_array_equal(back.descriptors, want.descriptors)


def test_resume_skips_and_redoes_partial(tmp_path: Path, scene_images: Path, stub_sp: type) -> None:
    out = tmp_path / "f.h5"
    extract_features([scene_images / "a"], out, stub_sp(), root=scene_images, progress=False)
    with h5py.File(out, "a") as f:  # an interrupted write: a group without all its datasets
        del f["a/f08.png/scores"]
    sp = stub_sp()
    rec = extract_features([scene_images], out, sp, progress=False)
    assert rec["skipped"] == 2 and rec["extracted"] == 4 and sp.calls == 4  # a/f08.png redone, b/* new
    assert feature_names(out) == NAMES
    sp = stub_sp()
    assert extract_features([scene_images], out, sp, progress=False)["extracted"] == 0 and sp.calls == 0
    sp = stub_sp()
    assert extract_features([scene_images], out, sp, resume=False, progress=False)["extracted"] == 6


def test_resume_refuses_other_options(tmp_path: Path, scene_images: Path, stub_sp: type) -> None:
    out = tmp_path / "f.h5"
    extract_features([scene_images / "a"], out, stub_sp(), progress=False)
    other = stub_sp()
    other.options.detection = lambda: {"stub": False, "scales": (1.0,)}  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="other detection options"):
        extract_features([scene_images / "a"], out, other, progress=False)


def test_round_trip_with_superpoint(tmp_path: Path, scene_images: Path) -> None:
    import cv2

    from superpoint_rt import SuperPoint
    from superpoint_rt.matching import match

    sp = SuperPoint(backend="onnxruntime", max_keypoints=200)
    out = tmp_path / "f.h5"
    extract_features([scene_images / "a"], out, sp, progress=False)
    imgs = {n: cv2.imread(str(scene_images / "a" / n), cv2.IMREAD_COLOR) for n in ("f00.png", "f04.png", "f08.png")}
    direct = {n: sp(im) for n, im in imgs.items()}
    for n, f in direct.items():
        back = read_features(out, n)
        np.testing.assert_array_equal(back.keypoints, f.keypoints)
        np.testing.assert_array_equal(back.descriptors, f.descriptors)
        np.testing.assert_array_equal(back.scores, f.scores)
        assert back.image_size == f.image_size
    rec = match_features(out, "exhaustive", tmp_path / "m.h5", progress=False)
    assert rec["pairs"] == rec["matched"] == 3
    ij, dist = match(direct["f00.png"].descriptors, direct["f04.png"].descriptors, return_distances=True)
    got, scores = read_matches(tmp_path / "m.h5", "f00.png", "f04.png")
    np.testing.assert_array_equal(got, ij)
    np.testing.assert_allclose(scores, 1 - dist.astype(np.float64) ** 2 / 2, rtol=1e-6)
    flipped, _ = read_matches(tmp_path / "m.h5", "f04.png", "f00.png")  # the other order is flipped
    assert sorted(map(tuple, flipped[:, ::-1].tolist())) == sorted(map(tuple, ij.tolist()))
    with h5py.File(tmp_path / "m.h5", "r") as f:
        g = f[names_to_pair("f00.png", "f04.png")]
        assert g["matches0"].shape == (len(direct["f00.png"]),) and g["matches0"].dtype == np.int32
        assert g["matching_scores0"].dtype == np.float32


def test_matches_layout_and_resume(tmp_path: Path, scene_images: Path, stub_sp: type) -> None:
    feats = tmp_path / "f.h5"
    extract_features([scene_images], feats, stub_sp(n=6, dim=8), progress=False)
    out = tmp_path / "m.h5"
    rec = match_features(feats, "sequential:2", out, max_distance=None, progress=False)
    assert rec["pairs"] == 9 and rec["matched"] == 9 and rec["skipped"] == 0
    assert match_features(feats, "exhaustive", out, max_distance=None, progress=False)["skipped"] == 9
    with h5py.File(out, "r") as f:
        assert "a-f00.png" in f and "b-f12.png" in f["a-f08.png"]  # hloc's names_to_pair: '/' -> '-'
    assert names_to_pair("a/x.png", "b/y.png") == "a-x.png/b-y.png"


def test_matches_from_pairs_by_hand() -> None:
    m0, s0 = matches_from_pairs(np.array([[0, 2], [3, 1]]), np.array([0.0, 1.0], np.float32), 4)
    assert m0.tolist() == [2, -1, -1, 1] and s0.tolist() == [1.0, 0.0, 0.0, 0.5]


def test_pairs(tmp_path: Path) -> None:
    names = ["a", "b", "c", "d"]
    assert pairs_exhaustive(names) == [("a", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("b", "d"), ("c", "d")]
    assert pairs_sequential(names, 2) == [("a", "b"), ("a", "c"), ("b", "c"), ("b", "d"), ("c", "d")]
    assert pairs_from_spec("sequential:1", names) == [("a", "b"), ("b", "c"), ("c", "d")]
    p = write_pairs([("a", "c"), ("d", "b")], tmp_path / "pairs.txt")
    p.write_text(p.read_text() + "# a comment\n\n")
    assert pairs_from_file(p, names) == pairs_from_spec(str(p), names) == [("a", "c"), ("d", "b")]
    with pytest.raises(ValueError, match="not in the features file"):
        pairs_from_file(p, ["a", "b"])
    with pytest.raises(ValueError, match="exhaustive, sequential"):
        pairs_from_spec("nonsense", names)
    with pytest.raises(ValueError, match=">= 1"):
        pairs_from_spec("sequential:0", names)


def test_cli_extract_and_match_features(tmp_path: Path, scene_images: Path, capsys: pytest.CaptureFixture) -> None:
    import json

    feats, matches = tmp_path / "f.h5", tmp_path / "m.h5"
    args = ["--backend", "onnxruntime", "--max-keypoints", "100", "--no-progress"]
    root = ["--root", str(scene_images)]
    assert main(["extract", str(scene_images / "a"), "--out", str(feats), *root, *args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["extracted"] == 3
    assert main(["extract", str(scene_images), "--out", str(feats), *args, "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["extracted"] == 3 and rec["skipped"] == 3  # resumed: a/* were there
    assert main(["match-features", str(feats), "--pairs", "sequential:2", "--out", str(matches), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["pairs"] == 9 and rec["mean_matches"] > 10
    assert main(["match-features", str(feats), "--pairs", "bogus", "--out", str(matches)]) == 2


def test_empty_features_matches(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "f.h5", "w") as f:
        from superpoint_rt.mapping import write_features

        write_features(f, "x.png", Features.empty((20, 30), dim=4))
        write_features(f, "y.png", Features.empty((20, 30), dim=4))
    match_features(tmp_path / "f.h5", [("x.png", "y.png")], tmp_path / "m.h5", progress=False)
    ij, s = read_matches(tmp_path / "m.h5", "x.png", "y.png")
    assert ij.shape == (0, 2) and s.shape == (0,)
