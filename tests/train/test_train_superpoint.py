"""SuperPoint stage: pair geometry is consistent, and a tiny run trains, resumes and exports."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("yaml")

from superpoint_rt.geometry import HomographyConfig, warp_points  # noqa: E402
from superpoint_rt.train.augment import PhotometricConfig  # noqa: E402
from superpoint_rt.train.config import DataConfig, TrainConfig  # noqa: E402
from superpoint_rt.train.pairs import PairBatches, make_pair  # noqa: E402
from superpoint_rt.train.trainer import Trainer  # noqa: E402


def test_pair_labels_follow_the_homography() -> None:
    d = DataConfig(height=48, width=64, photometric=PhotometricConfig(enable=False), homography=HomographyConfig())
    img = np.zeros((48, 64), np.float32)
    pts = np.array([[20.0, 20.0], [40.0, 30.0]])
    for x, y in pts.astype(int):
        img[y - 1 : y + 2, x - 1 : x + 2] = 255.0
    s = make_pair(img, pts, np.random.default_rng(4), d)
    wp = warp_points(pts, s["homography"])
    ys, xs = np.nonzero(s["warped_keypoint_map"])
    got = np.stack([xs, ys], axis=1)
    for p in got:  # every warped label is a warped source point (rounded)
        assert np.min(np.abs(wp - p).max(axis=1)) <= 0.5 + 1e-9
    # and the warped image has its bright blobs there
    for x, y in got:
        assert s["warped_image"][0, y, x] > 0.3
    assert s["labels"].shape == (6, 8) and s["warped_cell_valid"].shape == (6, 8)


def test_soft_pair_targets_sum_to_one_and_agree_with_hard_ones() -> None:
    kw = dict(height=48, width=64, photometric=PhotometricConfig(enable=False), homography=HomographyConfig())
    img = np.random.default_rng(0).uniform(0, 255, (48, 64)).astype(np.float32)
    pts = np.array([[20.0, 20.0], [40.0, 30.0], [10.0, 40.0]])
    hard = make_pair(img, pts, np.random.default_rng(4), DataConfig(**kw))
    soft = make_pair(img, pts, np.random.default_rng(4), DataConfig(**kw, detector_targets="soft"))
    assert soft["labels"].shape == (65, 6, 8) and soft["warped_labels"].dtype == np.float32
    np.testing.assert_allclose(soft["warped_labels"].sum(axis=0), 1.0, atol=1e-6)
    np.testing.assert_array_equal(soft["labels"].argmax(axis=0), hard["labels"])  # integer source points: one-hot
    assert (soft["warped_labels"][64] < 1).sum() >= (hard["warped_labels"] < 64).sum()  # same cells (+ spill)
    np.testing.assert_array_equal(soft["warped_image"], hard["warped_image"])  # same random stream otherwise
    with pytest.raises(ValueError, match="detector_targets"):
        DataConfig(detector_targets="fuzzy")


def test_superpoint_stage_smoke(tmp_path: Path, labelled_images: Callable[..., DataConfig]) -> None:
    data = labelled_images(tmp_path, 3, seed=0)
    b = PairBatches(data, 2, seed=0).batch(0)
    assert b["image"].shape == (2, 1, 32, 40) and b["homography"].shape == (2, 3, 3)
    cfg = TrainConfig(
        stage="superpoint", batch_size=2, max_steps=2, lr=1e-4, checkpoint_every=1, keep_every=0, log_every=1,
        val_every=2, val_size=2, torch_threads=1, precision="fp32", channels_last=False, data=data,
    )  # fmt: skip
    losses: list[float] = []
    Trainer(cfg, tmp_path / "run", progress=False).run(on_step=lambda s, v: losses.append(v))
    assert len(losses) == 2 and all(np.isfinite(losses))
    soft = dataclasses.replace(cfg, data=dataclasses.replace(data, detector_targets="soft"))
    Trainer(soft, tmp_path / "soft", progress=False).run(on_step=lambda s, v: losses.append(v))
    assert len(losses) == 4 and all(np.isfinite(losses))
    assert (tmp_path / "run" / "export" / "weights.pth").is_file()
    assert "desc" in (tmp_path / "run" / "train_log.csv").read_text().splitlines()[0]


def test_softmax_descriptor_loss_is_the_one_trained(tmp_path: Path, labelled_images: Callable[..., DataConfig]) -> None:
    """``descriptor_loss: softmax`` puts losses.descriptor_softmax_loss (at the config's temperature) in the loss."""
    from superpoint_rt.train.losses import descriptor_loss, descriptor_softmax_loss

    data = labelled_images(tmp_path, 2, seed=1, size=(40, 48))
    batch = PairBatches(data, 2, seed=0).batch(0)
    parts = {}
    for kind in ("hinge", "softmax"):
        cfg = TrainConfig(
            stage="superpoint", batch_size=2, max_steps=1, torch_threads=1, precision="fp32", channels_last=False,
            data=data, descriptor_loss=kind, softmax_temperature=0.2, lambda_loss=3.0, val_every=0,
        )  # fmt: skip
        tr = Trainer(cfg, tmp_path / kind, progress=False)
        tr.model.eval()
        with torch.no_grad():
            loss, parts[kind] = tr.compute_loss(batch)
            _, desc = tr.model(torch.cat([batch["image"], batch["warped_image"]]))
        args = (desc[:2], desc[2:], batch["homography"], batch["warped_cell_valid"])
        want = descriptor_softmax_loss(*args, temperature=0.2) if kind == "softmax" else descriptor_loss(*args)
        np.testing.assert_allclose(parts[kind]["desc"], float(want), rtol=1e-5)
        total = parts[kind]["det"] + parts[kind]["wdet"] + 3.0 * parts[kind]["desc"]
        np.testing.assert_allclose(float(loss), total, rtol=1e-5)
    assert parts["hinge"]["desc"] != parts["softmax"]["desc"]
    with pytest.raises(ValueError, match="descriptor_loss"):
        TrainConfig(stage="superpoint", descriptor_loss="triplet")
    with pytest.raises(ValueError, match="softmax_temperature"):
        TrainConfig(stage="superpoint", softmax_temperature=0.0)


def _write_labels(folder: Path, names: list[str], points: list[np.ndarray], size: tuple[int, int]) -> None:
    """One shard in ``train adapt``'s format, written by hand (points known exactly)."""
    folder.mkdir(parents=True)
    offsets = np.cumsum([0] + [len(p) for p in points]).astype(np.int64)
    pts = np.concatenate([np.concatenate([p, np.ones((len(p), 1))], axis=1) for p in points]).astype(np.float32)
    np.savez(folder / "shard_00000.npz", names=np.array(names), points=pts, offsets=offsets, size=np.array(size))


def test_pair_source_reads_several_labelled_folders(tmp_path: Path) -> None:
    from superpoint_rt.train.config import from_dict
    from superpoint_rt.train.pairs import PairSource

    # the same file names in two folders, told apart by their brightness and their labels
    for k, grey in ((0, 40), (1, 200)):
        (tmp_path / f"img{k}").mkdir()
        for name in ("a.png", "b.png"):
            cv2.imwrite(str(tmp_path / f"img{k}" / name), np.full((32, 40), grey, np.uint8))
    _write_labels(tmp_path / "lab0", ["b.png", "a.png"], [np.array([[5.0, 6.0]]), np.array([[1.0, 2.0]])], (32, 40))
    _write_labels(tmp_path / "lab1", ["a.png"], [np.array([[30.0, 20.0], [9.0, 9.0]])], (32, 40))
    data = from_dict(
        DataConfig,
        {"height": 32, "width": 40, "num_workers": 0, "image_dir": [str(tmp_path / "img0"), str(tmp_path / "img1")],
         "label_dir": [str(tmp_path / "lab0"), str(tmp_path / "lab1")]},
    )  # fmt: skip
    assert isinstance(data.image_dir, tuple) and isinstance(data.label_dir, tuple)  # YAML lists -> tuples
    src = PairSource(data)
    # source order, then sorted names; img1/b.png has no labels and is not used
    assert src.paths == [tmp_path / "img0" / "a.png", tmp_path / "img0" / "b.png", tmp_path / "img1" / "a.png"]
    np.testing.assert_array_equal(src.points[0], [[1.0, 2.0]])
    np.testing.assert_array_equal(src.points[1], [[5.0, 6.0]])
    np.testing.assert_array_equal(src.points[2], [[30.0, 20.0], [9.0, 9.0]])
    seen = {}
    for i in range(3):  # one epoch visits every image once; each image comes from its own folder
        k = src.image_index(0, i)
        seen[k] = float(src.sample(0, i)["image"].mean())
    assert sorted(seen) == [0, 1, 2]
    assert seen[0] < 0.5 and seen[1] < 0.5 and seen[2] > 0.5  # photometric augmentation keeps dark vs bright apart


def test_pair_source_errors_name_the_problem(tmp_path: Path) -> None:
    from superpoint_rt.train.pairs import PairSource

    (tmp_path / "img").mkdir()
    cv2.imwrite(str(tmp_path / "img" / "a.png"), np.zeros((32, 40), np.uint8))
    _write_labels(tmp_path / "lab", ["a.png", "gone.png"], [np.zeros((1, 2)), np.zeros((1, 2))], (32, 40))
    with pytest.raises(ValueError, match="pair up"):
        PairSource(DataConfig(image_dir=(str(tmp_path / "img"),), label_dir=(str(tmp_path / "lab"), str(tmp_path))))
    with pytest.raises(ValueError, match=r"gone\.png"):
        PairSource(DataConfig(image_dir=str(tmp_path / "img"), label_dir=str(tmp_path / "lab")))
    with pytest.raises(ValueError, match=r"needs data\.image_dir"):
        PairSource(DataConfig(label_dir=str(tmp_path / "lab")))
