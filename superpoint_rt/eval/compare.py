"""Precision guard: evaluate several SuperPoint configurations (e.g. fp32 / bf16 / int8) in one table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from superpoint_rt.eval.methods import superpoint_method
from superpoint_rt.eval.runner import EvalConfig, EvalResult, evaluate

DEFAULT_PRECISIONS = ("fp32", "bf16", "int8")


def evaluate_configs(
    data_dir: str | Path,
    configs: dict[str, dict[str, Any]],
    config: EvalConfig | None = None,
    progress: bool = True,
) -> list[EvalResult]:
    """Evaluate ``{name: SuperPoint keyword arguments}`` one after the other (results in the same order)."""
    return [evaluate(data_dir, superpoint_method(name=n, **kw), config, progress) for n, kw in configs.items()]


def precision_configs(
    backend: str, precisions: tuple[str, ...] = DEFAULT_PRECISIONS, **kwargs: Any
) -> dict[str, dict[str, Any]]:
    """``{"<backend>-<precision>": {...}}`` for one backend and several precisions."""
    return {f"{backend}-{p}": dict(backend=backend, precision=p, **kwargs) for p in precisions}


def degradations(
    results: list[EvalResult], reference: int = 0, max_drop: float = 0.02, group: str = "all"
) -> list[str]:
    """Metrics (homography accuracy, repeatability, NN mAP, matching score) that fall more than
    ``max_drop`` below ``results[reference]``; an empty list means every configuration holds up."""
    ref = results[reference].summary()[group]
    problems = []
    for r in results:
        row = r.summary()[group]
        for key, v in row.items():
            if key in ("pairs", "localization_error") or v is None or ref.get(key) is None:
                continue
            if v < ref[key] - max_drop:
                problems.append(f"{r.method}: {key} {v:.3f} < {ref[key]:.3f} - {max_drop}")
    return problems
