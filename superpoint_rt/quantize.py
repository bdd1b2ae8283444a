"""INT8 post-training quantisation for the OpenVINO engine (NNCF), calibrated on real photos.

``superpoint-rt quantize --weights W --calib DIR_OR_GLOB --output sp_int8.xml`` writes an OpenVINO IR whose
convolutions run in INT8 (FakeQuantize nodes), input shape dynamic; use it with
``SuperPoint(weights=W, backend="openvino", precision="int8", int8_model="sp_int8.xml")``.
Calibrate on photos kept out of every benchmark you report. A JSON sidecar (``sp_int8.json``) records the
weights' fingerprint, so an IR used with other weights raises instead of silently running the wrong network.
Packaged weights may ship their IR as ``<name>_int8.xml``: ``precision="int8"`` then needs no ``int8_model``.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from .preprocess import pad_to_multiple, to_gray_float
from .weights import PACKAGE_WEIGHTS_DIR, Weights, WeightsError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".webp", ".tif", ".tiff")


def collect_images(spec: str | os.PathLike[str] | list[str]) -> list[Path]:
    """Image files from a folder (recursive), a glob, or a list of paths; sorted."""
    if isinstance(spec, list):
        return sorted(Path(p) for p in spec)
    p = Path(spec)
    if p.is_dir():
        files = [q for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES]
    else:
        files = [Path(q) for q in glob.glob(str(spec), recursive=True) if Path(q).suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise FileNotFoundError(f"no images found at {spec}")
    return sorted(files)


def calibration_batches(files: list[Path], size: tuple[int, int] = (480, 640), crops_per_image: int = 4,
                        seed: int = 0) -> list[np.ndarray]:  # fmt: skip
    """(1,1,H,W) float32 inputs: random crops at several scales of each photo, resized to ``size``."""
    rng = np.random.default_rng(seed)
    out = []
    h, w = size
    for f in files:
        img = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise ValueError(f"cannot read calibration image {f}")
        for _ in range(crops_per_image):
            s = rng.uniform(0.5, 1.0)
            ch, cw = int(img.shape[0] * s), int(img.shape[1] * s)
            ch, cw = max(16, min(ch, img.shape[0])), max(16, min(cw, int(ch * w / h), img.shape[1]))
            y = int(rng.integers(0, img.shape[0] - ch + 1))
            x = int(rng.integers(0, img.shape[1] - cw + 1))
            crop = cv2.resize(img[y : y + ch, x : x + cw], (w, h), interpolation=cv2.INTER_AREA)
            out.append(pad_to_multiple(to_gray_float(crop))[None, None])
    return out


def check_keep_float(weights: Weights, keep_float: Sequence[str]) -> None:
    """Refuse layer names for ``quantize_openvino(keep_float=...)`` that are not layers of ``weights``.

    Raises:
        ValueError: naming the unknown names and the weights' layers.
    """
    layers = sorted({k.rsplit(".", 1)[0] for k in weights.state_dict or {}})
    unknown = [n for n in keep_float if n not in layers]
    if unknown:
        raise ValueError(f"--keep-float {unknown}: not layers of these weights (they have {layers})")


def quantize_openvino(weights: Weights, calibration: list[np.ndarray], output: str | os.PathLike[str],
                      fast_bias_correction: bool = True, keep_float: Sequence[str] = ()) -> Path:  # fmt: skip
    """NNCF post-training quantisation of the ONNX export; writes the INT8 OpenVINO IR (.xml + .bin).

    ``keep_float``: layer names of the export (``conv1a`` ... ``conv4b``, ``convPa``, ``convPb``, ``convDa``,
    ``convDb``) left in float, e.g. the detector head, whose logits the sub-pixel refinement reads.
    """
    try:
        import nncf
        import openvino as ov
    except ImportError as e:
        raise RuntimeError("INT8 quantisation needs nncf and openvino: pip install 'superpoint_rt[eval]'") from e
    from .export import onnx_bytes

    if not calibration:
        raise ValueError("no calibration inputs")
    core = ov.Core()
    model = core.read_model(onnx_bytes(weights), ov.Tensor(np.empty(0, np.uint8)))
    model.reshape({model.inputs[0].any_name: list(calibration[0].shape)})
    dataset = nncf.Dataset(calibration)
    qmodel = nncf.quantize(
        model,
        dataset,
        subset_size=len(calibration),
        fast_bias_correction=fast_bias_correction,
        model_type=None,
        # the descriptor normalisation stays in float: a FakeQuantize on the clamped norm rounds the 1e-12 floor
        # to 0, so a flat region (a black frame) gave 0/0 = NaN descriptors, and it costs precision everywhere
        # a layer of the export becomes "<layer>/WithoutBiases" (the convolution) + "<layer>" (the bias) in OpenVINO
        ignored_scope=nncf.IgnoredScope(
            names=[n for layer in keep_float for n in (f"{layer}/WithoutBiases", layer)],
            types=["ReduceL2", "Maximum", "Divide"],
        ),
    )
    qmodel.reshape({qmodel.inputs[0].any_name: [-1, 1, -1, -1]})
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(qmodel, str(out), compress_to_fp16=False)
    int8_sidecar(out).write_text(
        json.dumps(
            {
                "weights_fingerprint": weights.fingerprint,
                "weights_source": Path(weights.source).name if weights.source else "",
                "calibration_inputs": len(calibration),
                "calibration_shape": list(calibration[0].shape),
                "kept_float": list(keep_float),
                "bias_correction": "fast" if fast_bias_correction else "full",
                "nncf": getattr(nncf, "__version__", "?"),
                "openvino": ov.get_version(),
            },
            indent=1,
        )
        + "\n"
    )
    return out


def int8_sidecar(model_path: str | os.PathLike[str]) -> Path:
    """The JSON written beside a quantised IR: which weights (fingerprint) and calibration made it."""
    return Path(model_path).with_suffix(".json")


def check_int8_model(model_path: str | os.PathLike[str], weights: Weights) -> Path:
    """Raise :class:`WeightsError` when the IR is missing or was quantised from other weights.

    The check needs the sidecar JSON (:func:`int8_sidecar`); an IR without one is accepted as is.
    """
    path = Path(model_path)
    if not path.is_file() or not path.with_suffix(".bin").is_file():
        raise WeightsError(f"INT8 model not found: {path} (and its .bin); create one with `superpoint-rt quantize`")
    side = int8_sidecar(path)
    if side.is_file():
        try:
            recorded = json.loads(side.read_text()).get("weights_fingerprint")
        except (json.JSONDecodeError, AttributeError) as e:
            raise WeightsError(f"corrupt INT8 model metadata {side}: {e}") from e
        if recorded and weights.state_dict is not None and recorded != weights.fingerprint:
            raise WeightsError(
                f"INT8 model {path} was quantised from other weights (fingerprint {recorded}, these weights "
                f"{weights.fingerprint}); re-run `superpoint-rt quantize` for them"
            )
    return path


def packaged_int8_model(weights: Weights) -> Path | None:
    """The INT8 IR shipped beside packaged weights (``<name>_int8.xml``), if any, checked against them."""
    if not weights.source:
        return None
    src = Path(weights.source).resolve()
    if src.parent != PACKAGE_WEIGHTS_DIR.resolve():
        return None
    model = src.with_name(src.stem + "_int8.xml")
    return check_int8_model(model, weights) if model.is_file() else None


def calibration_files(spec: str, max_images: int) -> list[Path]:
    """``"train-photos"`` (the training split of data/PHOTOS.md, never in a benchmark) or a folder / glob.

    At most ``max_images``, evenly spaced over the sorted list, so that a tree of several photo sets (e.g.
    ``../shared/photos/*/train``) is sampled from every set rather than from the first one alphabetically.
    """
    if max_images < 1:
        raise ValueError(f"max_images must be >= 1, got {max_images}")
    from .eval.photos import evenly_spaced, list_photos

    files = list_photos("train") if spec == "train-photos" else collect_images(spec)
    return evenly_spaced(files, max_images)
