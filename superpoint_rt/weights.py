"""Loading SuperPoint weights without constructing an engine.

Three formats are understood (``load_weights`` picks by content, not only by suffix):

* **original release** (``superpoint_v1.pth``, Magic Leap): a torch state dict with keys ``conv1a.weight`` ...
  ``convDb.bias``. Reading a ``.pth`` needs torch (``pip install torch==2.13.0``).
* **ours**: ``.npz`` with the same keys as float32 arrays plus ``__meta__`` (a JSON string: convention, stage,
  training steps, ...). Needs only NumPy. A torch file ``{"state_dict": ..., "meta": ...}`` (what training exports)
  is accepted too, and so is a training checkpoint (``checkpoints/last.pt``: ``{"model": ..., "step": ...}``);
  batch-norm layers in either are folded.
* **ONNX**: a graph with input ``image (B,1,H,W)`` and outputs ``logits``, ``descriptors``.

Loading is strict: a missing, unexpected or mis-shaped key raises :class:`WeightsError` naming it.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .network_spec import expected_state_dict_shapes

PACKAGE_WEIGHTS_DIR = Path(__file__).resolve().parent / "data" / "weights"
#: Our default weights (trained by superpoint_rt.train), shipped in the package (card: docs/MODEL_CARD.md).
DEFAULT_WEIGHTS = PACKAGE_WEIGHTS_DIR / "superpoint_rt.npz"
#: Named weights shipped in the package, usable as ``weights="<name>"``. Interim ones are not the default.
PACKAGED_WEIGHTS: dict[str, Path] = {
    "superpoint-rt": DEFAULT_WEIGHTS,
    # versioned names keep meaning the same weights after a new default ships (docs/MODEL_CARD.md):
    # v10 (step 40858, recipe T: the fourth adaptation round's labels with the descriptor term x2; the default since
    # the 29th session of 2026-12-05), v9 (step 39205, recipe P: the warp-centroid term at 1.5; the default from the
    # 27th session of 2026-12-05), v8 (step 36723, recipe O's warp-centroid term, the default from the 24th session
    # of 2026-12-05), v7 (step 35129, recipe M's keypoint shift term, the default from the 20th session of
    # 2026-12-04), v6 (step 32250, recipe I's ranking descriptor loss), v5 (step 30766), v4 (step 23373), v3 (step
    # 18761), v2 (step 12843) and v1 (step 4648, the first default); each one's INT8 IR ships beside it (v3's to
    # v10's keep their detector head in float, v10's its first convolution too)
    "superpoint-rt-v10": DEFAULT_WEIGHTS,
    "superpoint-rt-v9": PACKAGE_WEIGHTS_DIR / "superpoint_rt_v9.npz",
    "superpoint-rt-v8": PACKAGE_WEIGHTS_DIR / "superpoint_rt_v8.npz",
    "superpoint-rt-v7": PACKAGE_WEIGHTS_DIR / "superpoint_rt_v7.npz",
    "superpoint-rt-v6": PACKAGE_WEIGHTS_DIR / "superpoint_rt_v6.npz",
    "superpoint-rt-v5": PACKAGE_WEIGHTS_DIR / "superpoint_rt_v5.npz",
    "superpoint-rt-v4": PACKAGE_WEIGHTS_DIR / "superpoint_rt_v4.npz",
    "superpoint-rt-v3": PACKAGE_WEIGHTS_DIR / "superpoint_rt_v3.npz",
    "superpoint-rt-v2": PACKAGE_WEIGHTS_DIR / "superpoint_rt_v2.npz",
    "superpoint-rt-v1": PACKAGE_WEIGHTS_DIR / "superpoint_rt_v1.npz",
    "magicpoint-interim": PACKAGE_WEIGHTS_DIR / "magicpoint_interim.npz",
    "superpoint-interim": PACKAGE_WEIGHTS_DIR / "superpoint_interim.npz",
}

ORIGINAL_WEIGHTS_URL = "https://github.com/magicleap/SuperPointPretrainedNetwork/raw/master/superpoint_v1.pth"
#: Pinned SHA-256 of superpoint_v1.pth. None: not pinned in this release (see the README's Weights section); the
#: download is then verified structurally (every key and shape) and its hash is recorded next to it so later loads
#: detect changes.
ORIGINAL_WEIGHTS_SHA256: str | None = None
ORIGINAL_LICENSE_NOTE = (
    "superpoint_v1.pth is Magic Leap's release under a non-commercial research licence; it is not shipped with "
    "superpoint_rt. Read its licence before use."
)


class WeightsError(ValueError):
    """A weights file that cannot be used: unreadable, corrupt, or not a SuperPoint network."""


class NoDefaultWeightsError(WeightsError):
    """No weights were given and the package ships none yet."""


@dataclass
class Weights:
    """Loaded weights.

    Attributes:
        state_dict: original-format keys -> float32 arrays (None for ONNX files).
        onnx_path: the ONNX file, for ONNX weights.
        meta: metadata (``convention`` the weights were trained with, ``stage``, ...).
        source: where they came from (path), for messages.
    """

    state_dict: dict[str, np.ndarray] | None
    onnx_path: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def convention(self) -> str | None:
        conv = self.meta.get("convention")
        return str(conv) if conv is not None else None

    @property
    def fingerprint(self) -> str:
        """A short content hash, used as a cache key for exports and compiled engines."""
        h = hashlib.sha256()
        if self.state_dict is not None:
            for k in sorted(self.state_dict):
                h.update(k.encode())
                h.update(np.ascontiguousarray(self.state_dict[k], dtype=np.float32).tobytes())
        elif self.onnx_path is not None:
            h.update(self.onnx_path.read_bytes())
        return h.hexdigest()[:16]


def check_state_dict(state_dict: dict[str, Any], source: str = "state dict") -> dict[str, np.ndarray]:
    """Strictly check keys and shapes against the network; returns float32 NumPy arrays.

    Raises:
        WeightsError: naming every missing, unexpected or mis-shaped key, or a non-finite value.
    """
    expected = expected_state_dict_shapes()
    # Accept the "module." prefix that DataParallel checkpoints carry.
    if state_dict and all(str(k).startswith("module.") for k in state_dict):
        state_dict = {str(k)[len("module.") :]: v for k, v in state_dict.items()}
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    out: dict[str, np.ndarray] = {}
    mis_shaped = []
    for k in expected:
        if k not in state_dict:
            continue
        v = state_dict[k]
        arr = v.detach().cpu().float().numpy() if hasattr(v, "detach") else np.asarray(v)
        if tuple(arr.shape) != expected[k]:
            mis_shaped.append(f"{k}: expected {expected[k]}, got {tuple(arr.shape)}")
            continue
        if not np.issubdtype(arr.dtype, np.floating):
            mis_shaped.append(f"{k}: expected a float array, got dtype {arr.dtype}")
            continue
        out[k] = np.ascontiguousarray(arr, dtype=np.float32)
    problems = []
    if missing:
        problems.append(f"missing keys: {missing}")
    if unexpected:
        problems.append(f"unexpected keys: {unexpected}")
    if mis_shaped:
        problems.append(f"mis-shaped: {mis_shaped}")
    if problems:
        raise WeightsError(f"{source} is not a SuperPoint state dict: " + "; ".join(problems))
    bad = [k for k, v in out.items() if not np.all(np.isfinite(v))]
    if bad:
        raise WeightsError(f"{source} has NaN/inf values in {bad}")
    return out


def _torch_load_safe(torch: Any, path: Path) -> Any:
    """``torch.load(weights_only=True)``; training checkpoints also hold NumPy's RNG state, so exactly the NumPy
    types an array needs (ndarray, dtype, its reconstructor) are allowed on a second try, nothing else."""
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as first:
        try:
            core = getattr(np, "_core", None) or np.core
            dtypes = [type(np.dtype(t)) for t in (np.uint32, np.int64, np.float64)]
            allowed = [np.ndarray, np.dtype, core.multiarray._reconstruct, *dtypes]
            with torch.serialization.safe_globals(allowed):
                return torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception:
            raise first from None


def torch_load_safe(path: str | Path) -> Any:
    """The object a PyTorch file holds (tensors on the CPU), never running code from the file:
    ``torch.load(weights_only=True)``, plus exactly NumPy's array types (the RNG state in training checkpoints).
    A file with any other global raises torch's ``pickle.UnpicklingError``, which names it."""
    import torch

    return _torch_load_safe(torch, Path(path))


def _load_torch_file(path: Path) -> Weights:
    try:
        import torch
    except ImportError as e:
        raise WeightsError(
            f"{path} is a PyTorch file; reading it needs torch (pip install torch==2.13.0), "
            "or convert it once with `superpoint-rt export --weights FILE --npz OUT.npz` on a machine that has torch"
        ) from e
    try:
        obj = _torch_load_safe(torch, path)
    except Exception as e:  # torch raises many types for corrupt files
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WeightsError(f"cannot read {path} as a PyTorch file (corrupt or not a state dict): {first}") from e
    meta: dict[str, Any] = {}
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict) and "step" in obj:
        # a superpoint_rt training checkpoint (superpoint_rt.train.trainer): BN network, centre convention
        meta = {"convention": "center", "stage": obj.get("stage"), "step": int(obj["step"]), "format": "checkpoint"}
        sd = obj["model"]
    elif isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        meta = dict(obj.get("meta") or {})
        sd = obj["state_dict"]
    elif isinstance(obj, dict):
        sd = obj
        meta = {"convention": "magicleap", "format": "original"}
    else:
        raise WeightsError(f"{path} holds a {type(obj).__name__}, not a state dict")
    if any(str(k).startswith(("bn", "module.bn")) for k in sd):
        from .network import fold_batch_norm

        sd = {str(k).removeprefix("module."): v for k, v in sd.items()}
        sd = fold_batch_norm({k: v for k, v in sd.items()})
    return Weights(check_state_dict(sd, str(path)), meta=meta, source=str(path))


def _load_npz(path: Path) -> Weights:
    try:
        with np.load(str(path), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise WeightsError(f"cannot read {path} as a superpoint_rt .npz weights file (corrupt?): {e}") from e
    meta: dict[str, Any] = {}
    if "__meta__" in arrays:
        try:
            meta = json.loads(str(arrays.pop("__meta__")))
        except json.JSONDecodeError as e:
            raise WeightsError(f"{path}: corrupt __meta__ entry: {e}") from e
    return Weights(check_state_dict(arrays, str(path)), meta=meta, source=str(path))


def _load_onnx(path: Path) -> Weights:
    try:
        import onnx
    except ImportError as e:
        raise WeightsError("reading ONNX weights needs the onnx package (pip install onnx)") from e
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as e:
        raise WeightsError(f"{path} is not a valid ONNX model: {e}") from e
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    if "image" not in inputs or not {"logits", "descriptors"} <= set(outputs):
        raise WeightsError(
            f"{path}: expected an ONNX SuperPoint with input 'image' and outputs 'logits', 'descriptors'; "
            f"got inputs {inputs}, outputs {outputs}"
        )
    meta = {p.key: p.value for p in model.metadata_props}
    parsed: dict[str, Any] = {}
    if "superpoint_rt" in meta:
        try:
            parsed = json.loads(meta["superpoint_rt"])
        except json.JSONDecodeError:
            parsed = {}
    return Weights(None, onnx_path=path, meta=parsed, source=str(path))


def load_weights(weights: str | os.PathLike[str] | Weights | None) -> Weights:
    """Load weights from a path (original .pth, our .npz / .pth, or .onnx), a packaged name
    (:data:`PACKAGED_WEIGHTS`), ``"random"`` (tests only), or the package default (None).

    Raises:
        NoDefaultWeightsError: ``weights`` is None and this installation lacks the default weights file.
        FileNotFoundError: the path does not exist.
        WeightsError: the file is corrupt or not SuperPoint weights.
    """
    if isinstance(weights, Weights):
        return weights
    if weights is None:
        if not DEFAULT_WEIGHTS.exists():
            raise NoDefaultWeightsError(
                f"no default weights: {DEFAULT_WEIGHTS} is missing from this installation; reinstall "
                "superpoint_rt, or pass weights=PATH: the original superpoint_v1.pth (see `superpoint-rt "
                "download-original`; non-commercial licence), a superpoint_rt .npz/.pth from `superpoint-rt train`, "
                'or an ONNX export. For tests only, weights="random" builds a seeded random network.'
            )
        weights = DEFAULT_WEIGHTS
    if isinstance(weights, str) and weights == "random":
        warnings.warn("superpoint_rt: using RANDOM weights (tests/benchmarks only)", stacklevel=3)
        return random_weights()
    if isinstance(weights, str) and weights in PACKAGED_WEIGHTS:
        packaged = PACKAGED_WEIGHTS[weights]
        if not packaged.exists():
            raise NoDefaultWeightsError(f"the packaged weights {weights!r} are not in this installation ({packaged})")
        weights = packaged
    path = Path(weights)
    if not path.exists():
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.is_dir():
        raise WeightsError(f"weights path is a directory, not a file: {path}")
    head = path.read_bytes()[:8]
    if len(head) == 0:
        raise WeightsError(f"weights file is empty: {path}")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return _load_onnx(path)
    if suffix == ".npz":
        return _load_npz(path)
    if suffix in (".pth", ".pt", ".tar", ".ckpt"):
        return _load_torch_file(path)
    # Unknown suffix: sniff. Zip files are either npz or torch >= 1.6 archives.
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except zipfile.BadZipFile as e:
            raise WeightsError(f"{path}: corrupt zip archive: {e}") from e
        if any(n.endswith(".npy") for n in names):
            return _load_npz(path)
        return _load_torch_file(path)
    return _load_onnx(path)


def random_weights(seed: int = 0) -> Weights:
    """Seeded random weights with the network's init statistics (He-normal), for tests and benchmarks only."""
    rng = np.random.default_rng(seed)
    sd: dict[str, np.ndarray] = {}
    for k, shape in expected_state_dict_shapes().items():
        if k.endswith(".weight"):
            fan_out = shape[0] * shape[2] * shape[3]
            sd[k] = rng.normal(0.0, np.sqrt(2.0 / fan_out), size=shape).astype(np.float32)
        else:
            sd[k] = np.zeros(shape, np.float32)
    return Weights(sd, meta={"convention": "center", "stage": "random", "seed": seed}, source=f"random(seed={seed})")


def save_npz(weights: Weights, path: str | os.PathLike[str]) -> Path:
    """Write weights in our ``.npz`` format (float32 arrays + ``__meta__`` JSON)."""
    if weights.state_dict is None:
        raise WeightsError("ONNX weights cannot be written as .npz")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = dict(weights.state_dict)
    arrays["__meta__"] = np.array(json.dumps(weights.meta))
    np.savez_compressed(str(path), **arrays)
    return path


def default_cache_dir() -> Path:
    """``$SUPERPOINT_RT_CACHE`` or ``~/.cache/superpoint_rt``."""
    env = os.environ.get("SUPERPOINT_RT_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "superpoint_rt"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (weights downloads, TensorRT plans)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_original_weights(
    cache_dir: str | os.PathLike[str] | None = None,
    sha256: str | None = ORIGINAL_WEIGHTS_SHA256,
    url: str = ORIGINAL_WEIGHTS_URL,
    timeout: float = 30.0,
) -> Path:
    """Download Magic Leap's ``superpoint_v1.pth`` into the cache (once) and verify it.

    Verification: the SHA-256 when one is pinned or given; otherwise the hash recorded at the first download (so
    a changed file is detected) and, always, a strict structural check of every key and shape (needs torch).

    Raises:
        ConnectionError: offline or the server is unreachable (the message says where to put the file by hand).
        WeightsError: checksum mismatch or not a SuperPoint state dict.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / "superpoint_v1.pth"
    recorded = cache / "superpoint_v1.pth.sha256"
    if not target.exists():
        tmp = target.with_suffix(".part")
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
                total = int(r.headers.get("Content-Length") or 0)
                from tqdm import tqdm

                with tqdm(total=total or None, unit="B", unit_scale=True, desc="superpoint_v1.pth") as bar:
                    for chunk in iter(lambda: r.read(1 << 16), b""):
                        f.write(chunk)
                        bar.update(len(chunk))
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            tmp.unlink(missing_ok=True)
            raise ConnectionError(
                f"cannot download the original SuperPoint weights from {url} ({e}). If this machine is offline, "
                f"download superpoint_v1.pth elsewhere and pass its path as weights=..., or copy it to {target}."
            ) from e
        tmp.replace(target)
    digest = file_sha256(target)
    expected = sha256 or (recorded.read_text().strip() if recorded.exists() else None)
    if expected is not None and digest != expected:
        raise WeightsError(f"{target}: SHA-256 {digest} does not match the expected {expected}; delete it and retry")
    _load_torch_file(target)  # structural check: every key and shape
    if not recorded.exists():
        recorded.write_text(digest + "\n")
    return target
