"""Training checkpoints and exported weights: writing, the RNG state, and safe loading.

A checkpoint (``<run_dir>/checkpoints/last.pt``, written by :class:`superpoint_rt.train.trainer.Trainer`) is a dict
``{"model", "optimizer", "scaler", "step", "elapsed_s", "rng", "stage", "config"}``; ``rng`` holds the torch, NumPy
(an array) and Python generator states. An export (``<run_dir>/export/weights.pth``) is
``{"state_dict": plain folded weights, "meta": {...}}``.

Files given by a user are loaded through :func:`superpoint_rt.weights.torch_load_safe` (``weights_only``, plus
exactly NumPy's array types for the RNG state): a pickle naming any other global is refused with
:class:`CheckpointError`, never run.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from superpoint_rt.network import SuperPointNet, fold_batch_norm
from superpoint_rt.weights import torch_load_safe


class CheckpointError(ValueError):
    """A checkpoint or weights file that is refused (it would run code when unpickled) or cannot be read."""


def _numpy_array_global(name: str) -> bool:
    """A global the safe loader lets through for NumPy arrays (the RNG state)."""
    mod, _, attr = name.rpartition(".")
    return mod.split(".")[0] == "numpy" and (attr in ("ndarray", "dtype", "_reconstruct") or attr.endswith("DType"))


def _refusal(path: Path, err: Exception) -> CheckpointError:
    """A one-line error for a file the safe loader would not read, naming the globals it holds when it can."""
    try:
        from torch.serialization import get_unsafe_globals_in_checkpoint

        names = list(get_unsafe_globals_in_checkpoint(str(path)))
    except Exception:  # not a torch zip file (corrupt, legacy format): torch's message says more
        names = []
    bad = [n for n in names if not _numpy_array_global(n)]
    if bad:
        return CheckpointError(
            f"refused to load {path}: it holds Python objects other than tensors, plain containers and NumPy "
            f"arrays ({', '.join(bad)}), and unpickling them could run code from the file"
        )
    skip = ("Weights only load failed", "Please file an issue", "Check the documentation", "WeightsUnpickler error")
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip() and not ln.strip().startswith(skip)]
    return CheckpointError(f"cannot load {path} safely (corrupt or not a checkpoint): {lines[0] if lines else err}")


def load_checkpoint(path: str | Path) -> Any:
    """The object a checkpoint / weights file holds (tensors on the CPU), loaded without running code from it.

    Raises:
        CheckpointError: the file holds other Python objects (a custom class, ``os.system`` via ``__reduce__``, ...)
            or is not a readable PyTorch file.
        OSError: no such file (FileNotFoundError), a folder, no permission.
    """
    path = Path(path)
    try:
        return torch_load_safe(path)
    except OSError:  # missing, a folder, no permission: as is
        raise
    except Exception as e:  # pickle.UnpicklingError for a refused global; torch raises many types for corrupt files
        raise _refusal(path, e) from e


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
    obj = load_checkpoint(path)
    if isinstance(obj, dict) and "model" in obj:
        return dict(obj["model"])
    if isinstance(obj, dict) and "state_dict" in obj:
        return dict(obj["state_dict"])
    if isinstance(obj, dict):
        return dict(obj)
    raise TypeError(f"{path}: not a state dict / checkpoint")


def net_from_state(state: dict[str, torch.Tensor]) -> SuperPointNet:
    """A :class:`SuperPointNet` holding ``state``: with batch norm when the state has ``bn*`` layers (a trainer
    checkpoint), plain otherwise (an export); in the module's default (training) mode, on the CPU."""
    net = SuperPointNet(batch_norm=any(k.startswith("bn") for k in state))
    net.load_state_dict(state)
    return net
