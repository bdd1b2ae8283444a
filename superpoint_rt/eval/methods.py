"""Feature methods under evaluation: a small protocol, OpenCV baselines and a SuperPoint adapter.

A method is a callable ``method(image) -> (keypoints, scores, descriptors)`` with

* ``image``: (H, W) uint8 grayscale;
* ``keypoints``: (N, 2) float32, x,y = column,row, pixel centres at integers, sorted by descending score;
* ``scores``: (N,) float32 (higher is better);
* ``descriptors``: (N, D) float32, or ``None`` for a detector-only method,

and attributes ``name: str`` and ``max_keypoints: int | None`` (the evaluator sets ``max_keypoints``
before each protocol; ``None`` returns every detection). Binary descriptors (ORB) are unpacked into
{0, 1} floats, so their squared Euclidean distance is the Hamming distance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

MethodOutput = tuple[np.ndarray, np.ndarray, np.ndarray | None]


@runtime_checkable
class Method(Protocol):
    """What the evaluator calls (see the module docstring)."""

    name: str
    max_keypoints: int | None

    def __call__(self, image: np.ndarray) -> MethodOutput: ...


def check_image(image: np.ndarray) -> np.ndarray:
    """Validate an (H, W) uint8 grayscale image."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W) uint8 grayscale, got shape {image.shape} dtype {image.dtype}")
    return image


def _top_k_order(scores: np.ndarray, k: int | None) -> np.ndarray:
    """Indices of the ``k`` best scores (all when None), descending; ties keep their order."""
    order = np.argsort(-scores, kind="stable")
    return order if k is None else order[:k]


def _sorted_top_k(
    kp: np.ndarray, scores: np.ndarray, desc: np.ndarray | None, k: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    return _take(kp, scores, desc, _top_k_order(scores, k))


def _take(
    kp: np.ndarray, scores: np.ndarray, desc: np.ndarray | None, order: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Keypoints (N, 2), scores (N,) and descriptors (N, D) or None at ``order``, as contiguous float32."""
    kp = np.ascontiguousarray(kp[order], dtype=np.float32).reshape(-1, 2)
    scores = np.ascontiguousarray(scores[order], dtype=np.float32)
    if desc is not None:
        desc = np.ascontiguousarray(desc[order], dtype=np.float32)
    return kp, scores, desc


def _from_cv_keypoints(kps: Any, desc: np.ndarray | None, dim: int) -> MethodOutput:
    """OpenCV keypoints -> arrays; no detection gives an empty (0, dim) descriptor array when dim > 0."""
    kp = np.array([k.pt for k in kps], dtype=np.float32).reshape(-1, 2)
    scores = np.array([k.response for k in kps], dtype=np.float32)
    if desc is None and dim:
        desc = np.zeros((0, dim), np.float32)
    return kp, scores, desc


def local_maxima(response: np.ndarray, radius: int, threshold: float, border: int) -> MethodOutput:
    """Points where ``response`` is the maximum of its (2r+1)^2 window and above ``threshold``.

    Returns ``(keypoints (N,2) x,y, scores (N,), None)``, unsorted. Plateaus keep every maximal pixel.
    """
    r = np.asarray(response, dtype=np.float32)
    dil = cv2.dilate(r, np.ones((2 * radius + 1, 2 * radius + 1), np.uint8))
    mask = (r >= dil) & (r > threshold)
    if border > 0:
        mask[:border] = False
        mask[-border:] = False
        mask[:, :border] = False
        mask[:, -border:] = False
    ys, xs = np.nonzero(mask)
    return np.stack([xs, ys], axis=1).astype(np.float32), r[ys, xs], None


class OpenCVMethod:
    """An OpenCV detector (+ descriptor) as an evaluation method.

    Args:
        kind: ``"orb"``, ``"sift"``, ``"fast"``, ``"harris"`` or ``"shi"`` (Shi-Tomasi).
        max_keypoints: top-k by detector response (``None``: all detections).
        nms_radius: for Harris / Shi-Tomasi, the non-maximum suppression radius (pixels).
        border: for Harris / Shi-Tomasi, pixels removed at the image border.
        fast_threshold: FAST intensity threshold.
        quality: Harris / Shi-Tomasi relative threshold (fraction of the maximum response).
    """

    KINDS = ("orb", "sift", "fast", "harris", "shi")

    def __init__(
        self,
        kind: str,
        max_keypoints: int | None = None,
        nms_radius: int = 4,
        border: int = 4,
        fast_threshold: int = 10,
        quality: float = 1e-3,
    ) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown OpenCV method {kind!r}; choose one of {self.KINDS}")
        self.kind = kind
        self.name = kind
        self.max_keypoints = max_keypoints
        self.nms_radius = nms_radius
        self.border = border
        self.fast_threshold = fast_threshold
        self.quality = quality

    @property
    def has_descriptors(self) -> bool:
        return self.kind in ("orb", "sift")

    def __repr__(self) -> str:
        return f"OpenCVMethod({self.kind!r}, max_keypoints={self.max_keypoints})"

    def __call__(self, image: np.ndarray) -> MethodOutput:
        img = check_image(image)
        k = self.max_keypoints
        if self.kind == "orb":
            # ORB keeps the nfeatures best by Harris score over its pyramid.
            orb = cv2.ORB.create(nfeatures=k if k else 10000)
            kps, desc = orb.detectAndCompute(img, None)
            bits = None if desc is None else np.unpackbits(np.asarray(desc, dtype=np.uint8), axis=1).astype(np.float32)
            kp, scores, d = _from_cv_keypoints(kps, bits, 256)
            return _sorted_top_k(kp, scores, d, k)
        if self.kind == "sift":
            sift = cv2.SIFT.create(nfeatures=k if k else 0)
            kps, desc = sift.detectAndCompute(img, None)
            kp, scores, d = _from_cv_keypoints(kps, desc, 128)
            if d is not None and len(d):
                d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
            return _sorted_top_k(kp, scores, d, k)
        if self.kind == "fast":
            fast = cv2.FastFeatureDetector.create(threshold=self.fast_threshold, nonmaxSuppression=True)
            kp, scores, _ = _from_cv_keypoints(fast.detect(img, None), None, 0)
            return _sorted_top_k(kp, scores, None, k)
        f = img.astype(np.float32) / 255.0
        if self.kind == "harris":
            resp = cv2.cornerHarris(f, blockSize=3, ksize=3, k=0.04)
        else:
            resp = cv2.cornerMinEigenVal(f, blockSize=3, ksize=3)
        thr = self.quality * float(resp.max()) if resp.size else 0.0
        kp, scores, _ = local_maxima(resp, self.nms_radius, max(thr, 0.0), self.border)
        return _sorted_top_k(kp, scores, None, k)


class CallableMethod:
    """Wrap a plain function ``f(image, max_keypoints) -> MethodOutput`` as a method."""

    def __init__(
        self, fn: Callable[[np.ndarray, int | None], MethodOutput], name: str, max_keypoints: int | None = None
    ) -> None:
        self.fn = fn
        self.name = name
        self.max_keypoints = max_keypoints

    def __call__(self, image: np.ndarray) -> MethodOutput:
        return self.fn(check_image(image), self.max_keypoints)


class SuperPointMethod:
    """Adapter from ``superpoint_rt.api.SuperPoint`` to the method protocol.

    One detector is built (lazily, with ``max_keypoints=None``) and the top-k by score is taken here,
    so the evaluator's 300- and 1000-point protocols share one engine.
    """

    def __init__(self, name: str = "superpoint", max_keypoints: int | None = None, **kwargs: Any) -> None:
        self.name = name
        self.max_keypoints = max_keypoints
        self.kwargs = kwargs
        self._model: Any = None
        #: (N,) float32 pyramid scale of each point the last call returned (None: single scale / not called yet)
        self.last_levels: np.ndarray | None = None

    @property
    def model(self) -> Any:
        if self._model is None:
            from superpoint_rt.api import SuperPoint  # lazy: torch / engines load only when needed

            self._model = SuperPoint(max_keypoints=None, **self.kwargs)
        return self._model

    def __call__(self, image: np.ndarray) -> MethodOutput:
        feats = self.model(check_image(image))
        kp = np.asarray(feats.keypoints, dtype=np.float32).reshape(-1, 2)
        scores = np.asarray(feats.scores, dtype=np.float32).reshape(-1)
        desc = np.asarray(feats.descriptors, dtype=np.float32)
        desc = desc.reshape(len(kp), desc.shape[-1])  # (0, D) when nothing is found ((0, -1) is ambiguous)
        order = _top_k_order(scores, self.max_keypoints)
        self.last_levels = None
        if feats.scales is not None:  # the pyramid level of each returned point, in the same order
            self.last_levels = np.asarray(feats.scales, np.float32).reshape(-1)[order]
        return _take(kp, scores, desc, order)


def superpoint_method(
    weights: str | None = None,
    backend: str | None = None,
    precision: str | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> SuperPointMethod:
    """A SuperPoint method; arguments left ``None`` keep ``SuperPoint``'s own defaults.

    Extra keyword arguments (``conf_threshold``, ``nms_radius``, ...) go to ``SuperPoint`` unchanged.
    """
    given = dict(weights=weights, backend=backend, precision=precision, **kwargs)
    kw = {k: v for k, v in given.items() if v is not None}
    if name is None:
        tags = [str(v) for v in (backend, precision) if v is not None]
        name = "superpoint" + (f"[{','.join(tags)}]" if tags else "")
    return SuperPointMethod(name=name, **kw)


def get_method(name: str, **kwargs: Any) -> Method:
    """A method by name: ``superpoint`` or one of the OpenCV baselines."""
    if name == "superpoint":
        return superpoint_method(**kwargs)
    if name in OpenCVMethod.KINDS:
        return OpenCVMethod(name, **kwargs)
    raise ValueError(f"unknown method {name!r}; choose superpoint or one of {OpenCVMethod.KINDS}")
