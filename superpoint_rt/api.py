"""The public entry point: ``SuperPoint(weights=..., backend="auto")(image) -> Features``.

A thin front: the options live in :class:`superpoint_rt.options.SuperPointOptions`, the work in
:class:`superpoint_rt.cpu_pipeline.CpuPipeline` (host engines) or :class:`superpoint_rt.gpu.pipeline.GpuPipeline`
(the device-resident path: TensorRT, or ``device="cuda"``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .backends import Engine
from .options import SuperPointOptions, option_names, options_docstring
from .types import Features
from .weights import Weights, load_weights


class SuperPoint:
    __doc__ = f"""SuperPoint interest points and descriptors for gray or BGR images.

    ``SuperPoint(weights=None, backend="auto", precision=None, device=None, *, options=None, **overrides)``: the four
    positional arguments and every keyword in ``overrides`` are fields of
    :class:`~superpoint_rt.options.SuperPointOptions` (``options`` gives them all at once; ``overrides`` win). Each
    option, with its default (detection defaults are the original authors' demo):

{options_docstring()}

    Calling it: ``sp(image) -> Features``; ``sp([img, ...])`` or ``sp(array (B,H,W[,C]))`` -> list of Features
    (images of equal size run as one batch). Images: (H, W) gray, (H, W, 3) BGR or (H, W, 4) BGRA, uint8 (0..255) or
    float32 (0..1), at least 16x16.

    Changing detection options between calls: ``sp.configure(conf_threshold=0.02)`` or ``sp.conf_threshold = 0.02``
    (both paths; validated). Engine options (weights, backend, precision, device, num_threads, int8_model) are fixed:
    build a new ``SuperPoint`` to change them.

    Thread-safety: calls are serialised by an internal lock (the engines' buffers are reused per call), so one object
    may be shared between threads, but for parallel throughput use one SuperPoint per thread.
    """

    def __init__(
        self,
        weights: str | os.PathLike[str] | Weights | None = None,
        backend: str | None = None,
        precision: str | None = None,
        device: str | None = None,
        *,
        options: SuperPointOptions | None = None,
        **overrides: Any,
    ) -> None:
        base = options or SuperPointOptions()
        positional = {"weights": weights, "backend": backend, "precision": precision, "device": device}
        changes = {k: v for k, v in positional.items() if v is not None}
        changes.update(overrides)
        opts = base.replace(**changes)
        weights_ = load_weights(opts.weights)
        object.__setattr__(self, "weights", weights_)  # `weights` is also an (engine) option name: no configure()
        if opts.convention is None:
            opts = opts.replace(convention=weights_.convention or "center")
        self._pipeline: Any
        if opts.on_gpu:
            from .gpu.pipeline import GpuPipeline

            self._pipeline = GpuPipeline(weights_, opts)
        else:
            from .cpu_pipeline import CpuPipeline

            self._pipeline = CpuPipeline(weights_, opts)
        object.__setattr__(self, "_options", opts)
        self._lock = threading.Lock()

    # ----- options ---------------------------------------------------------------------------------------------------

    @property
    def options(self) -> SuperPointOptions:
        """The options in force (frozen; ``convention`` resolved from the weights)."""
        return self._options  # type: ignore[no-any-return]

    def configure(self, **changes: Any) -> SuperPointOptions:
        """Change detection options (validated) for the following calls, on the CPU and the GPU path alike.

        Raises:
            TypeError: an unknown option name.
            AttributeError: an engine option (those are fixed: build a new SuperPoint).
            ValueError: an invalid value.
        """
        fixed = sorted(set(changes) & set(option_names("engine")))
        if fixed:
            raise AttributeError(f"{fixed} cannot change after construction: create a new SuperPoint")
        new = self.options.replace(**changes)
        if new.convention is None:
            new = new.replace(convention=self.weights.convention or "center")
        with self._lock:
            self._pipeline.configure(new)
            object.__setattr__(self, "_options", new)
        return new

    def __getattr__(self, name: str) -> Any:
        # reached only for names that are not ordinary attributes: the options, read as attributes
        if name in option_names():
            return getattr(self.__dict__["_options"], name) if "_options" in self.__dict__ else None
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in option_names():
            self.configure(**{name: value})
            return
        object.__setattr__(self, name, value)

    # ----- engine ----------------------------------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        return self._pipeline.engine  # type: ignore[no-any-return]

    @property
    def backend(self) -> str:
        return str(self.engine.name)

    @property
    def precision(self) -> str:
        return str(self.engine.precision)

    def info(self) -> dict[str, Any]:
        """Engine, weights and detection settings, for logs and benchmark records."""
        det = self.options.detection()
        det["scales"] = list(det["scales"])
        return {
            **self._pipeline.info(),
            "weights": self.weights.source,
            "weights_meta": {k: v for k, v in self.weights.meta.items() if k != "config"},
            **det,
        }

    def __repr__(self) -> str:
        return (
            f"SuperPoint(backend={self.backend!r}, precision={self.precision!r}, weights={self.weights.source!r}, "
            f"convention={self.options.convention!r})"
        )

    # ----- calls -----------------------------------------------------------------------------------------------------

    def __call__(self, images: np.ndarray | Sequence[np.ndarray]) -> Features | list[Features]:
        """Detect and describe. One image -> Features; a list/batch -> list of Features."""
        with self._lock:
            return self._pipeline(images)  # type: ignore[no-any-return]

    def heatmap(self, image: np.ndarray) -> np.ndarray:
        """The dense detector probability map (H, W) float32 of one image (at scale 1, whatever ``scales``)."""
        from .cpu_pipeline import engine_heatmap

        with self._lock:
            return engine_heatmap(self.engine, image)

    def batch(self, images: np.ndarray | Sequence[np.ndarray]) -> Any:
        """Images of one size -> :class:`~superpoint_rt.batch.BatchFeatures` (fixed-K padded arrays + counts).

        On a GPU this comes straight from the kernels' output layout; on the CPU it is built from the list.
        """
        from .batch import BatchFeatures

        with self._lock:
            if hasattr(self._pipeline, "batch"):
                return self._pipeline.batch(images)
            feats = self._pipeline(images)
        return BatchFeatures.from_list(feats if isinstance(feats, list) else [feats])

    def stream(self, source: Any, **kwargs: Any) -> Any:
        """Iterate (frame_index, frame, Features) over a video file, camera, URL or image folder.

        See :func:`superpoint_rt.streaming.stream` for the options.
        """
        from .streaming import stream

        return stream(self, source, **kwargs)

    def descriptor_map(self, image: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """The dense coarse descriptor map (256, Hc, Wc) of one image's pyramid level of ``scale`` (CPU path).

        What detection samples (before normalisation): the level is the image resized as ``scales`` does
        (:func:`superpoint_rt.multiscale.resize_level`), padded to multiples of 8; ``Hc, Wc`` = its size / 8.
        :meth:`compute` samples it at given keypoints with :func:`superpoint_rt.ops.sample_descriptors`.

        Raises:
            NotImplementedError: on the GPU path (the device pipeline keeps its outputs on the device).
        """
        from .cpu_pipeline import CpuPipeline
        from .multiscale import check_scales, resize_level
        from .preprocess import pad_to_multiple, to_gray_float

        if not isinstance(self._pipeline, CpuPipeline):
            raise NotImplementedError("descriptor_map / compute run on the CPU path only (not yet on the GPU)")
        (s,) = check_scales((scale,))
        level = resize_level(to_gray_float(image), float(s))
        with self._lock:
            _, coarse = self.engine.run(pad_to_multiple(level)[None, None])
        return np.asarray(coarse)[0]

    def _features_without_top_k(self, image: np.ndarray) -> Features:
        """``sp(image)`` without the ``max_keypoints`` cut (an OpenCV mask filters first, then cuts); the options are
        restored before the lock is released."""
        with self._lock:
            opts = self._options
            if opts.max_keypoints is None:
                return self._pipeline(image)  # type: ignore[no-any-return]
            self._pipeline.configure(opts.replace(max_keypoints=None))
            try:
                return self._pipeline(image)  # type: ignore[no-any-return]
            finally:
                self._pipeline.configure(opts)

    # ----- OpenCV Feature2D interface (superpoint_rt.opencv: the conventions) ----------------------------------------

    def detectAndCompute(self, image: np.ndarray, mask: np.ndarray | None = None) -> tuple[tuple[Any, ...], Any]:
        """``cv2.Feature2D.detectAndCompute``: (tuple of ``cv2.KeyPoint``, (N, 256) float32 descriptors, or None
        when no keypoint is found). ``mask``: uint8 (H, W), nonzero = allowed, applied before ``max_keypoints``.
        Without a mask the keypoints are exactly ``sp(image)``'s. See :mod:`superpoint_rt.opencv`."""
        from .opencv import detect_and_compute

        return detect_and_compute(self, image, mask)

    def detect(self, image: np.ndarray, mask: np.ndarray | None = None) -> tuple[Any, ...]:
        """``cv2.Feature2D.detect``: a tuple of ``cv2.KeyPoint`` (the same as :meth:`detectAndCompute`'s, at the same
        cost: the network computes the descriptors in the same pass)."""
        return self.detectAndCompute(image, mask)[0]

    def compute(self, image: np.ndarray, keypoints: Sequence[Any]) -> tuple[tuple[Any, ...], Any]:
        """``cv2.Feature2D.compute``: descriptors of any ``cv2.KeyPoint`` (from FAST, GFTT, ...): (the keypoints
        kept -- those on the image --, (K, 256) float32 descriptors or None). CPU path; multi-scale options read
        each keypoint's ``octave`` as its level. See :mod:`superpoint_rt.opencv`."""
        from .opencv import compute

        return compute(self, image, keypoints)

    def descriptorSize(self) -> int:
        """256: the descriptor's length (``cv2.Feature2D.descriptorSize``)."""
        from .network_spec import DESCRIPTOR_DIM

        return DESCRIPTOR_DIM

    def descriptorType(self) -> int:
        """``cv2.CV_32F``: float descriptors."""
        import cv2

        return int(cv2.CV_32F)

    def defaultNorm(self) -> int:
        """``cv2.NORM_L2``: the norm to match the descriptors with (``cv2.BFMatcher(sp.defaultNorm())``)."""
        import cv2

        return int(cv2.NORM_L2)

    def getDefaultName(self) -> str:
        """``"Feature2D.SuperPoint"``, as OpenCV names its detectors (``"Feature2D.ORB"``)."""
        return "Feature2D.SuperPoint"

    def empty(self) -> bool:
        """False: the detector is ready (``cv2.Algorithm.empty``)."""
        return False
