"""The Ray pipeline: sharding and merging without Ray; the whole pipeline on a local Ray (skipped without Ray)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py", reason="h5py is an optional extra: pip install '.[mapping]'")

from superpoint_rt.mapping import extract_features, read_features  # noqa: E402
from superpoint_rt.mapping.features_io import feature_names, image_names, list_images  # noqa: E402
from superpoint_rt.mapping.ray_pipeline import ExtractBatch, merge_shards, read_row, shard_dir_for  # noqa: E402
from superpoint_rt.options import SuperPointOptions  # noqa: E402

OPTS = SuperPointOptions(backend="onnxruntime", max_keypoints=150, num_threads=1)


def _same_files(a: Path, b: Path) -> None:
    names = feature_names(a)
    assert names and sorted(names) == sorted(feature_names(b))
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        for n in names:
            for k in ("keypoints", "descriptors", "scores", "image_size"):
                np.testing.assert_array_equal(fa[n][k][()], fb[n][k][()], err_msg=f"{n}/{k}")


def test_shards_and_merge_without_ray(tmp_path: Path, scene_images: Path) -> None:
    """Two 'actors' (ExtractBatch instances) each write their batches into a shard; the merge equals the
    single-process file; leftovers of an interrupted run (a broken shard) are dropped and their images redone."""
    from superpoint_rt import SuperPoint
    from superpoint_rt.mapping.features_io import detection_record

    single = tmp_path / "single.h5"
    extract_features([scene_images], single, SuperPoint(options=OPTS), progress=False)
    paths = list_images([scene_images])
    _, names = image_names(paths)
    rows = [read_row({"path": str(p), "name": n}) for p, n in zip(paths, names)]
    out = tmp_path / "ray.h5"
    shards = shard_dir_for(out)
    actors = [ExtractBatch(OPTS, str(shards)), ExtractBatch(OPTS, str(shards))]
    for i in range(0, len(rows), 2):  # batches of 2, alternating actors
        batch = {"name": np.array([r["name"] for r in rows[i : i + 2]]), "image": [r["image"] for r in rows[i : i + 2]]}
        res = actors[(i // 2) % 2](batch)
        assert list(res["name"]) == list(batch["name"]) and len(set(res["shard"])) == 1
    assert len(list(shards.glob("shard-*.h5"))) == 2
    (shards / "shard-broken.h5").write_bytes(b"not hdf5")
    det = detection_record(SuperPoint(options=OPTS))
    assert merge_shards(shards, out, det) == 6
    assert not shards.exists()
    _same_files(single, out)
    assert merge_shards(shards, out, det) == 0


@pytest.mark.slow
def test_ray_pipeline_equals_single_process(tmp_path: Path, scene_images: Path) -> None:
    ray = pytest.importorskip("ray", reason="ray is an optional extra (not in '.[test]': large): pip install ray[data]")
    pytest.importorskip("ray.data", reason="Ray Data missing: pip install 'ray[data]'")
    from superpoint_rt import SuperPoint
    from superpoint_rt.mapping.ray_pipeline import extract_features_ray

    single = tmp_path / "single.h5"
    extract_features([scene_images], single, SuperPoint(options=OPTS), progress=False)
    out = tmp_path / "ray.h5"
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        rec = extract_features_ray([scene_images / "a"], out, options=OPTS, root=scene_images, actors=2, batch_size=2)
        assert rec["extracted"] == 3 and rec["skipped"] == 0
        rec = extract_features_ray([scene_images], out, options=OPTS, actors=2, batch_size=2)  # resumed
        assert rec["extracted"] == 3 and rec["skipped"] == 3
    finally:
        ray.shutdown()
    _same_files(single, out)
    assert read_features(out, "b/f20.png").image_size == (120, 160)
