"""Run a method over an HPatches-format dataset and aggregate the paper's metrics.

Protocol (defaults = the paper's): detector metrics at 240x320 with the best 300 shared-region points
and eps = 3; descriptor metrics (NN mAP, matching score) and homography estimation at 480x640 with the
method's best 1000 points, eps = 3 for the descriptor metrics and eps = 1, 3, 5 for homography
correctness. Pairs are (1, k), k = 2..6, of every sequence; results per sequence kind (``i``, ``v``)
and overall (means over pairs; a failed homography estimate counts as wrong). ``rep_nms`` (off by
default: each method's points as it returns them) applies one greedy NMS to every method's detector-metric points
first. The paper's detector table reports every detector at NMS 4 and 8, so ``rep_nms=4`` is its footing; without
it ORB and SIFT keep several points on one corner (a pyramid level or orientation each) and each copy counts.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from superpoint_rt.eval import metrics as M
from superpoint_rt.eval.generate import PROVENANCE
from superpoint_rt.eval.hpatches import list_sequences, load_sequence
from superpoint_rt.eval.methods import Method

BUNDLED_BENCHMARK = Path(__file__).resolve().parents[1] / "data" / "benchmark"
GROUPS = ("all", "i", "v")
#: baselines that return several points on one corner (one per pyramid level / orientation); see ``rep_nms``
STACKING_METHODS = ("orb", "sift")
M_Out = tuple[np.ndarray, np.ndarray, np.ndarray | None]


@dataclass
class EvalConfig:
    """Every knob of the protocol (defaults: the paper's)."""

    rep_size: tuple[int, int] = (240, 320)
    rep_keypoints: int = 300
    rep_eps: float = 3.0
    rep_detect_keypoints: int | None = None  # what the method returns before the shared-region filter
    rep_nms: float | None = None  # greedy NMS radius (px) on every method's points before repeatability (off)
    desc_size: tuple[int, int] = (480, 640)
    desc_keypoints: int = 1000
    desc_eps: float = 3.0
    hom_eps: tuple[float, ...] = (1.0, 3.0, 5.0)
    ransac_threshold: float = 3.0
    homography_trials: int = 1  # > 1: also RANSAC on shuffled match orders (metrics.homography_trial_errors)
    recall_base: str = "possible"
    kinds: str = "iv"
    max_sequences: int | None = None  # per kind, for quick runs
    vis_pair: tuple[str, int] = ("v", 3)  # (kind, k) of the pair kept for the match visualisation


@dataclass
class PairResult:
    """Metrics of one (1, k) pair; ``None`` where the method has no descriptors, nan where undefined."""

    sequence: str
    kind: str
    k: int
    repeatability: float
    localization_error: float
    n_rep: tuple[int, int]
    nn_map: float | None = None
    matching_score: float | None = None
    corner_error: float | None = None  # inf: the estimate failed
    corner_errors: list[float] | None = None  # one per RANSAC trial (homography_trials > 1); [0] == corner_error
    n_matches: int = 0
    n_inliers: int = 0


@dataclass
class EvalResult:
    """All pair results of one method plus what the plots need."""

    method: str
    data_dir: str
    config: EvalConfig
    pairs: list[PairResult]
    seconds_per_image: float
    has_descriptors: bool
    pr_distances: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)  # pooled NN matches 1->2
    pr_correct: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), repr=False)
    pr_positives: int = 0
    vis: dict[str, Any] | None = field(default=None, repr=False)

    def select(self, group: str) -> list[PairResult]:
        if group not in GROUPS:
            raise ValueError(f"group must be one of {GROUPS}, got {group!r}")
        return [p for p in self.pairs if group == "all" or p.kind == group]

    def homography_accuracy(self, eps: float, group: str = "all") -> float | None:
        """Fraction of pairs whose mean corner error is <= eps (None without descriptors)."""
        if not self.has_descriptors:
            return None
        errs = [p.corner_error for p in self.select(group) if p.corner_error is not None]
        return float(np.mean([e <= eps for e in errs])) if errs else None

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per group (all, i, v): pair count and mean metrics (None where undefined)."""
        out: dict[str, dict[str, Any]] = {}
        for g in GROUPS:
            ps = self.select(g)
            if not ps:
                continue
            row: dict[str, Any] = {"pairs": len(ps)}
            for e in self.config.hom_eps:
                row[f"homography@{e:g}"] = self.homography_accuracy(e, g)
            auc_eps = max(self.config.hom_eps)
            errs = [p.corner_error for p in ps if p.corner_error is not None]
            row[f"homography_auc@{auc_eps:g}"] = (
                M.homography_auc(errs, auc_eps) if self.has_descriptors and errs else None
            )
            if self.has_descriptors and self.config.homography_trials > 1:
                trial = [p.corner_errors for p in ps if p.corner_errors]
                for e in self.config.hom_eps:  # the mean over pairs of each pair's share of trials within e
                    row[f"homography_trials@{e:g}"] = (
                        float(np.mean([np.mean(np.asarray(t, float) <= e) for t in trial])) if trial else None
                    )
            row["repeatability"] = _nanmean([p.repeatability for p in ps])
            row["localization_error"] = _nanmean([p.localization_error for p in ps])
            row["nn_map"] = _nanmean([p.nn_map for p in ps]) if self.has_descriptors else None
            row["matching_score"] = _nanmean([p.matching_score for p in ps]) if self.has_descriptors else None
            out[g] = row
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (nan and inf become null; a null corner error means a failed estimate)."""
        return _clean(
            {
                "method": self.method,
                "data_dir": self.data_dir,
                "config": asdict(self.config),
                "seconds_per_image": self.seconds_per_image,
                "summary": self.summary(),
                "pairs": [asdict(p) for p in self.pairs],
                "environment": _environment(),
                "data_generated_with": _provenance(self.data_dir),
            }
        )


def benchmark_dir(name: str | Path) -> Path:
    """The folder a ``DATA_DIR`` argument names: ``"bundled"`` is the benchmark shipped in the package."""
    return BUNDLED_BENCHMARK if str(name) == "bundled" else Path(name)


def _environment() -> dict[str, Any]:
    """Versions and the CPU a run was measured on (BF16/INT8 results depend on the CPU's native support; KVM
    guests often name only "AMD EPYC", so family/model and the deciding flags go with it)."""
    from superpoint_rt.backends.auto import cpu_flags, cpu_id, cpu_model

    flags = cpu_flags()
    fast = [k for k in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8") if k in flags]
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_id": cpu_id(),
        "cpu_flags": " ".join(fast),
    }


def _provenance(data_dir: str) -> dict[str, Any] | None:
    """The benchmark's GENERATED.json (versions that made it; see ``generate.write_provenance``), None if absent."""
    path = Path(data_dir) / PROVENANCE
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _nanmean(values: list[float | None]) -> float | None:
    v = [x for x in values if x is not None and not math.isnan(x)]
    return float(np.mean(v)) if v else None


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _run(method: Method, image: np.ndarray, k: int | None, clock: list[float]) -> M_Out:
    method.max_keypoints = k
    t0 = time.perf_counter()
    kp, scores, desc = method(image)
    clock.append(time.perf_counter() - t0)
    kp = np.asarray(kp, dtype=np.float64).reshape(-1, 2)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(kp):
        raise ValueError(f"method {method.name}: {len(kp)} keypoints but {len(scores)} scores")
    if desc is not None:
        desc = np.asarray(desc, dtype=np.float32)
        if desc.ndim != 2 or len(desc) != len(kp):
            raise ValueError(f"method {method.name}: descriptors {desc.shape} do not match {len(kp)} keypoints")
    return kp, scores, desc


def detector_points(method: Method, image: np.ndarray, cfg: EvalConfig, clock: list[float] | None = None) -> M_Out:
    """The points the detector metrics count on ``image`` (at ``cfg.rep_size``): the method's output (at most
    ``cfg.rep_detect_keypoints``), checked and in float64, then those :func:`metrics.point_nms` keeps at
    ``cfg.rep_nms`` when set. ``clock`` collects the method's time."""
    kp, scores, desc = _run(method, image, cfg.rep_detect_keypoints, [] if clock is None else clock)
    if cfg.rep_nms is None:
        return kp, scores, desc
    keep = M.point_nms(kp, scores, cfg.rep_nms)
    return kp[keep], scores[keep], None if desc is None else desc[keep]


def evaluate(
    data_dir: str | Path,
    method: Method,
    config: EvalConfig | None = None,
    progress: bool = True,
) -> EvalResult:
    """Evaluate ``method`` on every sequence of ``data_dir`` (HPatches layout); see the module docstring."""
    cfg = config or EvalConfig()
    seqs = list_sequences(data_dir, cfg.kinds)
    if cfg.max_sequences is not None:
        seqs = [s for kind in "iv" for s in [q for q in seqs if q.name[0] == kind][: cfg.max_sequences]]
    n_pairs = 5 * len(seqs)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_pairs, desc=f"eval {method.name}", unit="pair")
    clock: list[float] = []
    pairs: list[PairResult] = []
    pr_d: list[np.ndarray] = []
    pr_c: list[np.ndarray] = []
    pr_pos = 0
    vis: dict[str, Any] | None = None
    has_desc: bool | None = None
    try:
        for folder in seqs:
            small = load_sequence(folder, cfg.rep_size)
            large = load_sequence(folder, cfg.desc_size)
            a_kp, a_sc, _ = detector_points(method, small.images[0], cfg, clock)
            b_kp, _, b_desc = _run(method, large.images[0], cfg.desc_keypoints, clock)
            if has_desc is None:
                has_desc = b_desc is not None
            for k in range(2, 7):
                h_small = small.homographies[k - 2]
                kp, sc, _ = detector_points(method, small.images[k - 1], cfg, clock)
                rep = M.repeatability(
                    a_kp, kp, h_small, cfg.rep_size, cfg.rep_size, cfg.rep_eps, a_sc, sc, cfg.rep_keypoints
                )
                pr = PairResult(small.name, small.kind, k, rep.repeatability, rep.localization_error, (rep.n1, rep.n2))
                if has_desc:
                    h = large.homographies[k - 2]
                    kp2, _, desc2 = _run(method, large.images[k - 1], cfg.desc_keypoints, clock)
                    if b_desc is None or desc2 is None:
                        raise ValueError(f"method {method.name} returned descriptors for some images only")
                    sz = cfg.desc_size
                    dd = M.descriptor_distances(b_desc, desc2)
                    dm = M.descriptor_metrics(
                        b_kp, b_desc, kp2, desc2, h, sz, sz, cfg.desc_eps, cfg.recall_base, distances=dd
                    )
                    pr_d.append(dm.ranked.distances)
                    pr_c.append(dm.ranked.correct)
                    pr_pos += dm.ranked.num_positives
                    pr.nn_map = dm.nn_map
                    pr.matching_score = dm.matching_score
                    est = M.estimate_homography(b_kp, b_desc, kp2, desc2, h, sz, cfg.ransac_threshold, distances=dd)
                    pr.corner_error = est.error
                    if cfg.homography_trials > 1:
                        pr.corner_errors = M.homography_trial_errors(
                            b_kp, kp2, est.matches, h, sz, cfg.homography_trials, cfg.ransac_threshold
                        )
                    pr.n_matches = len(est.matches)
                    pr.n_inliers = int(est.inliers.sum())
                    if vis is None and (small.kind, k) == tuple(cfg.vis_pair):
                        vis = {
                            "sequence": small.name,
                            "k": k,
                            "image1": large.images[0],
                            "image2": large.images[k - 1],
                            "kp1": b_kp,
                            "kp2": kp2,
                            "matches": est.matches,
                            "inliers": est.inliers,
                            "homography": h,
                            "eps": cfg.desc_eps,
                        }
                pairs.append(pr)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return EvalResult(
        method=method.name,
        data_dir=str(data_dir),
        config=cfg,
        pairs=pairs,
        seconds_per_image=float(np.mean(clock)) if clock else float("nan"),
        has_descriptors=bool(has_desc),
        pr_distances=np.concatenate(pr_d) if pr_d else np.zeros(0),
        pr_correct=np.concatenate(pr_c) if pr_c else np.zeros(0, bool),
        pr_positives=pr_pos,
        vis=vis,
    )


def _fmt(v: Any, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def markdown_table(results: list[EvalResult], groups: tuple[str, ...] = GROUPS) -> str:
    """A table like the paper's Table 4: one row per method and sequence group."""
    if not results:
        raise ValueError("no results to tabulate")
    eps = results[0].config.hom_eps
    head = ["Method", "Seq.", "Pairs", *[f"Hom. ε={e:g}" for e in eps], "Rep.", "MLE", "NN mAP", "M. Score"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|"]
    for r in results:
        s = r.summary()
        for g in groups:
            if g not in s:
                continue
            row = s[g]
            cells = [r.method, g, str(row["pairs"])]
            cells += [_fmt(row[f"homography@{e:g}"]) for e in eps]
            cells += [_fmt(row["repeatability"]), _fmt(row["localization_error"], 2)]
            cells += [_fmt(row["nn_map"]), _fmt(row["matching_score"])]
            lines.append("| " + " | ".join(cells) + " |")
    nms = sorted({r.config.rep_nms for r in results if r.config.rep_nms is not None})
    if nms:
        radii = ", ".join(f"{v:g}" for v in nms)
        lines.append(f"\nRep. and MLE after one NMS of radius {radii} px on every method's points (--rep-nms)")
    elif any(r.method in STACKING_METHODS for r in results):
        lines.append(
            "\nRep. and MLE count each method's points as returned: ORB and SIFT keep several points on one corner "
            "(a pyramid level or orientation each) and every copy counts; the paper's footing, one NMS on every "
            "detector's points, is --rep-nms 4"
        )
    return "\n".join(lines) + "\n"


def write_json(results: list[EvalResult], path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``{"results": [...], "markdown": table}`` as JSON, then the keys of ``extra`` (e.g. provenance)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    payload = {"results": [r.to_dict() for r in results], "markdown": markdown_table(results), **(extra or {})}
    p.write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n")
    return p
