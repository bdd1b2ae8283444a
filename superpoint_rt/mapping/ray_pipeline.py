"""Extraction as a Ray Data pipeline: read -> batch -> one engine per actor -> write shards -> merge.

``ray.data.from_items`` of the images still to do; a ``map`` decodes each image (Ray tasks); ``map_batches`` hands
batches to ``actors`` actors, each holding one SuperPoint engine, which write every batch's features into a shard
file of their own (``OUT.shards/``); the driver then merges the shards into ``OUT`` (hloc layout) and deletes them.
Ray schedules everything; there is no scheduler of ours. Every image goes through the same engine call as in
:func:`~superpoint_rt.mapping.features_io.extract_features` (one image per call), so the output is identical.

Resumable: images already in ``OUT`` are skipped, and shards left by an interrupted run are merged first.
The sharding and merging (:class:`ExtractBatch`, :func:`merge_shards`) need no Ray.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .features_io import _check_attrs, _h5py, detection_record, feature_names, image_names, list_images, write_features


def shard_dir_for(out: str | os.PathLike[str]) -> Path:
    return Path(str(out) + ".shards")


def read_row(row: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's read stage: decode ``row["path"]`` (BGR uint8, as the single-process run reads it)."""
    from ..preprocess import read_image

    return {"name": row["name"], "image": read_image(row["path"])}


class ExtractBatch:
    """One engine (a SuperPoint) and one shard file per instance; called on a batch {"name": [...], "image":
    [...]}, it writes each image's features into its shard and returns {"name", "shard", "keypoints"}."""

    def __init__(self, options: Any, shard_dir: str) -> None:
        from ..api import SuperPoint

        self.sp = SuperPoint(options=options)
        Path(shard_dir).mkdir(parents=True, exist_ok=True)
        self.shard = str(Path(shard_dir) / f"shard-{os.getpid()}-{uuid.uuid4().hex[:8]}.h5")

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        h5py = _h5py()
        names = [str(n) for n in batch["name"]]
        counts = []
        with h5py.File(self.shard, "a") as h5:
            for name, image in zip(names, batch["image"]):
                f = self.sp(np.asarray(image))
                assert not isinstance(f, list)  # one image in, one Features out
                write_features(h5, name, f)
                counts.append(len(f))
        return {"name": np.array(names), "shard": np.array([self.shard] * len(names)), "keypoints": np.array(counts)}


def merge_shards(shard_dir: str | os.PathLike[str], out: str | os.PathLike[str], detection: dict[str, Any]) -> int:
    """Copy every complete group of the shards into ``out`` (groups already there are kept), then delete the
    shards. Returns the number of groups added."""
    h5py = _h5py()
    shard_dir = Path(shard_dir)
    shards = sorted(shard_dir.glob("shard-*.h5")) if shard_dir.is_dir() else []
    added = 0
    with h5py.File(str(out), "a") as dst:
        _check_attrs(dst, detection, resume=True)
        have = set(feature_names(dst))
        for shard in shards:
            try:
                src = h5py.File(str(shard), "r")
            except OSError:  # a shard cut off mid-write: its images are redone
                shard.unlink()
                continue
            with src:
                for name in feature_names(src):
                    if name in have:
                        continue
                    parent = name.rsplit("/", 1)[0] if "/" in name else None
                    if parent is not None:
                        dst.require_group(parent)
                    src.copy(src[name], dst, name=name)
                    have.add(name)
                    added += 1
            shard.unlink()
    if shard_dir.is_dir() and not any(shard_dir.iterdir()):
        shard_dir.rmdir()
    return added


def extract_features_ray(
    images: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    options: Any = None,
    root: str | os.PathLike[str] | None = None,
    resume: bool = True,
    address: str | None = None,
    actors: int = 2,
    batch_size: int = 8,
) -> dict[str, Any]:
    """:func:`~superpoint_rt.mapping.features_io.extract_features` as a Ray Data pipeline (module docstring).

    Args:
        options: SuperPointOptions for every actor's engine; ``num_threads`` None: the CPUs Ray gives each actor.
        address: a running cluster's address (``ray://host:10001`` or ``host:6379``); None: ``ray.init()``'s
            default (a running local cluster, else a new local one).
        actors: engines, one per actor; each asks Ray for ``cpus / actors`` CPUs (at least 1).
    """
    try:
        import ray
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("--ray needs Ray: pip install 'superpoint_rt[mapping]'") from e
    from ..api import SuperPoint
    from ..options import SuperPointOptions

    if actors < 1 or batch_size < 1:
        raise ValueError("actors and batch_size must be >= 1")
    t0 = time.perf_counter()
    paths = list_images(images)
    base, names = image_names(paths, root)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not resume and out.exists():
        out.unlink()
    opts = options or SuperPointOptions()
    probe = SuperPoint(options=opts)  # fails early on bad options; records what decides the file's content
    detection = detection_record(probe)
    del probe
    shards = shard_dir_for(out)
    if not resume and shards.exists():
        for s in shards.glob("shard-*.h5"):
            s.unlink()
    merge_shards(shards, out, detection)  # a previous run's leftovers
    have = set(feature_names(out))
    todo = [{"path": str(p), "name": n} for p, n in zip(paths, names) if n not in have]
    if todo:
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        per_actor = max(1, cpus // actors)
        if opts.num_threads is None:
            opts = opts.replace(num_threads=per_actor)
        ds: Any = ray.data.from_items(todo, override_num_blocks=max(1, min(len(todo), actors * 4)))
        # decoding asks for no CPU: the actors hold all of them (num_cpus each), and a read stage that waited for a
        # free CPU would never run (a deadlock seen with 1 actor x 2 CPUs on 2 CPUs)
        ds = ds.map(read_row, num_cpus=0)
        ds = ds.map_batches(
            ExtractBatch, fn_constructor_kwargs={"options": opts, "shard_dir": str(shards)},
            batch_size=batch_size, concurrency=actors, num_cpus=per_actor, batch_format="numpy",
        )  # fmt: skip
        done = ds.take_all()
        if len(done) != len(todo):
            raise RuntimeError(f"the pipeline returned {len(done)} of {len(todo)} images")
    added = merge_shards(shards, out, detection)
    return {
        "root": str(base),
        "names": names,
        "extracted": added,
        "skipped": len(names) - len(todo),
        "seconds": time.perf_counter() - t0,
        "actors": actors,
    }
