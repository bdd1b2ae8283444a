"""``superpoint-rt sfm``: features, matches, a COLMAP database, incremental mapping with pycolmap, a summary, the
model and a PNG of cameras and points; and the tools to compare a reconstruction with known poses."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .colmap import _pycolmap, write_database
from .features_io import extract_features
from .matching_io import match_features
from .pairs import pairs_from_spec


def reconstruction_stats(rec: Any) -> dict[str, Any]:
    return {
        "registered_images": int(rec.num_reg_images()),
        "points3D": int(rec.num_points3D()),
        "mean_track_length": round(float(rec.compute_mean_track_length()), 3),
        "mean_reprojection_error_px": round(float(rec.compute_mean_reprojection_error()), 4),
        "observations": int(rec.compute_num_observations()),
    }


def camera_poses(rec: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{image name: (R, t)} of the registered images, ``X_cam = R X_world + t``."""
    out = {}
    for image_id in rec.reg_image_ids():
        im = rec.image(image_id)
        m = np.asarray(im.cam_from_world().matrix(), np.float64)  # (3, 4)
        out[im.name] = (m[:, :3], m[:, 3])
    return out


def rotation_angle_deg(r: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1.0, 1.0))))


def compare_poses(
    estimated: dict[str, tuple[np.ndarray, np.ndarray]], truth: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict[str, Any]:
    """Compare estimated poses with true ones (both ``X_cam = R X_world + t``, over the names they share).

    The estimate is aligned to the truth by a similarity X_true = s r X_est + t: r is the rotation average of
    R_true_i^T R_est_i (robust where the centres are collinear, when centres alone leave a rotation free), s and t
    by least squares on the camera centres. Reported: the centres' error after alignment (in the truth's units),
    each camera's rotation error after alignment, and the relative rotation error of every pair (R_i R_j^T against
    the truth's; independent of any alignment).
    """
    names = sorted(set(estimated) & set(truth))
    if len(names) < 3:
        raise ValueError(f"need >= 3 common images to align, got {len(names)}")
    c_est = np.stack([-estimated[n][0].T @ estimated[n][1] for n in names])
    c_true = np.stack([-truth[n][0].T @ truth[n][1] for n in names])
    u, _, vt = np.linalg.svd(sum(truth[n][0].T @ estimated[n][0] for n in names))
    r = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt
    rc = c_est @ r.T
    a, b = rc - rc.mean(0), c_true - c_true.mean(0)
    s = float((a * b).sum() / max((a**2).sum(), 1e-300))
    t = c_true.mean(0) - s * rc.mean(0)
    c_aligned = s * rc + t
    # X_true = s r X_est + t  =>  the estimate's rotation in the truth's frame is R_est r^T
    abs_rot = [rotation_angle_deg(estimated[n][0] @ r.T @ truth[n][0].T) for n in names]
    rel = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            re_ = estimated[names[i]][0] @ estimated[names[j]][0].T
            rt_ = truth[names[i]][0] @ truth[names[j]][0].T
            rel.append(rotation_angle_deg(re_ @ rt_.T))
    return {
        "images": len(names),
        "scale": s,
        "center_error_max": float(np.linalg.norm(c_aligned - c_true, axis=1).max()),
        "center_error_mean": float(np.linalg.norm(c_aligned - c_true, axis=1).mean()),
        "rotation_error_deg_max": float(max(abs_rot)),
        "relative_rotation_error_deg_max": float(max(rel)),
        "relative_rotation_error_deg_mean": float(np.mean(rel)),
    }


def plot_reconstruction(rec: Any, path: str | os.PathLike[str]) -> Path:
    """A PNG: the 3-D points and the camera centres with their viewing directions, seen from above (X-Z) and
    from the side (Z-Y), in the model's coordinates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = np.array([p.xyz for p in rec.points3D.values()]).reshape(-1, 3)
    poses = camera_poses(rec)
    centres = np.array([-r.T @ t for r, t in poses.values()]).reshape(-1, 3)
    dirs = np.array([r[2] for r, _ in poses.values()]).reshape(-1, 3)
    if len(pts):  # robust limits: the central 98% of points
        lo, hi = np.percentile(pts, 1, axis=0), np.percentile(pts, 99, axis=0)
        pts = pts[((pts >= lo) & (pts <= hi)).all(axis=1)]
    extent = np.ptp(np.vstack([pts, centres]), axis=0).max() if len(pts) + len(centres) > 1 else 1.0
    fig, axes = plt.subplots(1, 2, figsize=(12, 6))
    for ax, (a, b, la, lb) in zip(axes, [(0, 2, "X", "Z"), (2, 1, "Z", "Y")]):
        ax.scatter(pts[:, a], pts[:, b], s=1, c="0.5", label=f"{len(rec.points3D)} points")
        ax.scatter(centres[:, a], centres[:, b], s=20, c="r", label=f"{len(centres)} cameras")
        ax.quiver(centres[:, a], centres[:, b], dirs[:, a], dirs[:, b], color="r", angles="xy", scale_units="xy",
                  scale=10.0 / max(extent, 1e-9), width=0.003)  # fmt: skip
        ax.set_xlabel(la)
        ax.set_ylabel(lb)
        ax.set_aspect("equal", adjustable="datalim")
        if b == 1:
            ax.invert_yaxis()
        ax.legend(loc="upper right")
    axes[0].set_title("top view (X-Z)")
    axes[1].set_title("side view (Z-Y)")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def run_sfm(
    images: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    sp: Any = None,
    root: str | os.PathLike[str] | None = None,
    pairs: str = "exhaustive",
    max_distance: float | None = 0.7,
    camera_model: str = "SIMPLE_RADIAL",
    focal: float | None = None,
    min_model_size: int = 3,
    progress: bool = True,
    plot: bool = True,
    seed: int | None = 0,
    verbose: bool = False,
) -> dict[str, Any]:
    """Features (``out/features.h5``), matches (``out/matches.h5``), a COLMAP database (``out/database.db``),
    incremental mapping; the largest model is written to ``out/model`` (COLMAP binary) and drawn to
    ``out/reconstruction.png``. Features and matches are resumed if present.

    Args:
        focal: a known focal length in pixels (principal point then at the image centre); None: COLMAP's guess.
        verbose: keep COLMAP's log lines (off by default: errors only).
        seed: pycolmap's random seed (None: COLMAP's default), for repeatable runs.

    Returns:
        The summary: images, registered images, 3-D points, mean track length, mean reprojection error, paths.
    """
    pycolmap = _pycolmap()
    if not verbose:
        pycolmap.logging.minloglevel = 2  # COLMAP's INFO and WARNING lines off: errors only
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ex = extract_features(images, out / "features.h5", sp, root=root, progress=progress)
    names, image_dir = ex["names"], ex["root"]
    pair_list = pairs_from_spec(pairs, names)
    match_features(out / "features.h5", pair_list, out / "matches.h5", max_distance=max_distance, progress=progress)
    params = None
    if focal is not None:
        import cv2

        first = cv2.imread(str(Path(image_dir) / names[0]), cv2.IMREAD_GRAYSCALE)
        if first is None:
            raise ValueError(f"cannot read {names[0]}")
        h, w = first.shape
        extra = {"SIMPLE_PINHOLE": [], "PINHOLE": None, "SIMPLE_RADIAL": [0.0], "RADIAL": [0.0, 0.0]}
        if camera_model not in extra:
            raise ValueError(f"--focal works with {sorted(extra)}, not {camera_model}")
        base = [focal, focal, w / 2, h / 2] if camera_model == "PINHOLE" else [focal, w / 2, h / 2]
        params = base + (extra[camera_model] or [])
    if seed is not None:
        pycolmap.set_random_seed(seed)  # before geometric verification too: its RANSAC
    db = write_database(out / "database.db", image_dir, names, out / "features.h5", out / "matches.h5", pair_list,
                        camera_model=camera_model, camera_params=params)  # fmt: skip
    opts = pycolmap.IncrementalPipelineOptions()
    opts.min_model_size = min(min_model_size, len(names))
    if seed is not None:
        opts.random_seed = seed
        opts.num_threads = 1  # repeatable: COLMAP's multi-threaded steps are not (and small problems lose nothing)
    sfm_dir = out / "sfm"
    sfm_dir.mkdir(exist_ok=True)
    models = pycolmap.incremental_mapping(str(out / "database.db"), image_dir, str(sfm_dir), opts)
    summary: dict[str, Any] = {"images": len(names), "pairs": len(pair_list), "raw_matches": db["matches"]}
    if not models:
        summary.update(registered_images=0, models=0, error="no model: too few verified matches")
        return summary
    best = max(models.values(), key=lambda r: r.num_reg_images())
    model_dir = out / "model"
    model_dir.mkdir(exist_ok=True)
    best.write(str(model_dir))
    summary.update(reconstruction_stats(best))
    summary["models"] = len(models)
    summary["model"] = str(model_dir)
    if plot:
        summary["plot"] = str(plot_reconstruction(best, out / "reconstruction.png"))
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return summary
