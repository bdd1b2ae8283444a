"""Training checkpoints and exported weights: writing, the RNG state, and loading.

A checkpoint (``<run_dir>/checkpoints/last.pt``, written by :class:`superpoint_rt.train.trainer.Trainer`) is a dict
``{"model", "optimizer", "scaler", "step", "elapsed_s", "rng", "stage", "config"}``; ``rng`` holds the torch, NumPy
(an array) and Python generator states. An export (``<run_dir>/export/weights.pth``) is
``{"state_dict": plain folded weights, "meta": {...}}``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from superpoint_rt.network import fold_batch_norm


def atomic_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),  # noqa: NPY002 (the legacy global state, saved as is)
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def export_weights(net_state: dict[str, torch.Tensor], path: Path, meta: dict[str, Any]) -> Path:
    """Fold batch norm and save ``{"state_dict": plain original-format keys, "meta": meta}``."""
    plain = {k: v.cpu() for k, v in fold_batch_norm(net_state).items()}
    atomic_save({"state_dict": plain, "meta": {"convention": "center", **meta}}, path)
    return path


def load_net_state(path: str | Path) -> dict[str, torch.Tensor]:
    """A network state dict from a trainer checkpoint (``model``), an export (``state_dict``) or a plain dict."""
    obj = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(obj, dict) and "model" in obj:
        return dict(obj["model"])
    if isinstance(obj, dict) and "state_dict" in obj:
        return dict(obj["state_dict"])
    if isinstance(obj, dict):
        return dict(obj)
    raise TypeError(f"{path}: not a state dict / checkpoint")
