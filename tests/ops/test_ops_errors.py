"""Bad inputs raise the right exception with a message naming the problem, through the Python
wrappers (superpoint_rt.ops) and directly through the C++ entry points (superpoint_rt._C, which
never reads out of bounds even when called without the wrappers). Also build_info, the missing-
extension message and the GIL release."""

from __future__ import annotations

import threading
import types

import numpy as np
import pytest

from superpoint_rt import _ext, ops
from superpoint_rt.ops import reference

_C = _ext.load_ext()

LOGITS = np.zeros((65, 3, 4), np.float32)
HEAT = np.zeros((24, 32), np.float32)
COARSE = np.ones((8, 3, 4), np.float32)
KPS = np.array([[3.0, 4.0], [10.0, 2.0]], np.float32)


# ---- heatmap ----
@pytest.mark.parametrize("impl", [ops, reference])
def test_heatmap_errors(impl: object) -> None:
    f = impl.heatmap  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="float32 or float16"):
        f(LOGITS.astype(np.float64))
    with pytest.raises(TypeError, match=r"numpy\.ndarray"):
        f(LOGITS.tolist())
    with pytest.raises(ValueError, match="dimensions"):
        f(np.zeros((65, 3), np.float32))
    with pytest.raises(ValueError, match="65 channels"):
        f(np.zeros((64, 3, 4), np.float32))
    with pytest.raises(ValueError, match="height and width"):
        f(np.zeros((65, 0, 4), np.float32))
    bad = LOGITS.copy()
    bad[5, 1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        f(bad)
    bad[5, 1, 2] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        f(bad)
    with pytest.raises(ValueError, match="NaN or inf"):
        f(np.full((1, 65, 2, 2), np.inf, np.float16))


def test_heatmap_errors_in_cpp() -> None:
    with pytest.raises(TypeError, match="float32 or float16"):
        _C.heatmap(LOGITS.astype(np.float64))
    with pytest.raises(TypeError, match="float32 or float16"):
        _C.heatmap(LOGITS.astype(">f4"))  # non-native byte order is not silently reinterpreted
    with pytest.raises(TypeError, match=r"numpy\.ndarray"):
        _C.heatmap([1.0, 2.0])
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.heatmap(np.zeros((65, 4, 3), np.float32).transpose(0, 2, 1))
    with pytest.raises(ValueError, match="65 channels"):
        _C.heatmap(np.zeros((2, 66, 3, 4), np.float32))
    with pytest.raises(ValueError, match="Hc > 0"):
        _C.heatmap(np.zeros((65, 3, 0), np.float32))
    with pytest.raises(ValueError, match="dimensions"):
        _C.heatmap(np.zeros((1, 1, 65, 3, 4), np.float32))
    with pytest.raises(ValueError, match="NaN or inf"):
        _C.heatmap(np.full((65, 1, 1), np.nan, np.float32))
    unaligned = np.frombuffer(b"\0" + bytes(65 * 4 * 4), dtype=np.float32, count=65 * 4, offset=1).reshape(65, 2, 2)
    with pytest.raises(ValueError, match="aligned"):
        _C.heatmap(unaligned)
    assert ops.heatmap(unaligned).shape == (16, 16)  # the wrapper copies it into an aligned array


# ---- nms / detect ----
@pytest.mark.parametrize("impl", [ops, reference])
def test_nms_errors(impl: object) -> None:
    f = impl.nms  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="float32"):
        f(HEAT.astype(np.float16))
    with pytest.raises(ValueError, match="2 dimensions"):
        f(HEAT[None])
    with pytest.raises(ValueError, match="height and width"):
        f(np.zeros((0, 5), np.float32))
    with pytest.raises(ValueError, match="nms_radius must be >= 0"):
        f(HEAT, 0.1, -1)
    with pytest.raises(TypeError, match="nms_radius must be an int"):
        f(HEAT, 0.1, 1.5)
    with pytest.raises(ValueError, match="conf_threshold is NaN"):
        f(HEAT, float("nan"), 1)
    with pytest.raises(TypeError, match="conf_threshold"):
        f(HEAT, "0.1", 1)
    bad = HEAT.copy()
    bad[3, 7] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        f(bad, 0.1, 1)
    bad[3, 7] = -np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        f(bad, 0.1, 1)


@pytest.mark.parametrize("impl", [ops, reference])
def test_detect_errors(impl: object) -> None:
    f = impl.detect  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="float32"):
        f(HEAT.astype(np.float64))
    with pytest.raises(ValueError, match="dimensions"):
        f(np.zeros((1, 1, 4, 4), np.float32))
    with pytest.raises(ValueError, match="height and width"):
        f(np.zeros((2, 4, 0), np.float32))
    with pytest.raises(ValueError, match="border must be >= 0"):
        f(HEAT, border=-1)
    with pytest.raises(ValueError, match="nms_radius must be >= 0"):
        f(HEAT, nms_radius=-3)
    with pytest.raises(ValueError, match="max_keypoints must be >= 0"):
        f(HEAT, max_keypoints=-1)
    with pytest.raises(ValueError, match="valid_size"):
        f(HEAT, valid_size=(25, 32))
    with pytest.raises(ValueError, match="valid_size"):
        f(HEAT, valid_size=(0, 32))
    with pytest.raises(TypeError, match="valid_size"):
        f(HEAT, valid_size=24)
    bad = np.zeros((2, 8, 8), np.float32)
    bad[1, 7, 7] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        f(bad)
    with pytest.raises(ValueError, match="NaN or inf"):
        f(bad[1:], max_keypoints=0)  # found even when nothing would be returned


def test_nms_detect_errors_in_cpp() -> None:
    with pytest.raises(TypeError, match="float32"):
        _C.nms(HEAT.astype(np.float64), 0.1, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.nms(HEAT[:, ::2], 0.1, 1)
    with pytest.raises(ValueError, match="nms_radius"):
        _C.nms(HEAT, 0.1, -1)
    with pytest.raises(ValueError, match="H > 0"):
        _C.nms(np.zeros((3, 0), np.float32), 0.1, 1)
    with pytest.raises(ValueError, match="NaN"):
        _C.nms(HEAT, float("nan"), 1)
    with pytest.raises(ValueError, match="border"):
        _C.detect(HEAT, 0.1, 1, -2)
    with pytest.raises(ValueError, match="valid_size"):
        _C.detect(HEAT, 0.1, 1, 1, -1, 100, 5)
    with pytest.raises(ValueError, match="dimensions"):
        _C.detect(np.zeros(5, np.float32), 0.1, 1, 1)
    # huge arguments are fine (clamped), never out of bounds
    assert _C.nms(np.ones((3, 3), np.float32), 1e300, 2**62).shape == (0,)
    assert _C.detect(np.ones((3, 3), np.float32), -1e300, 2**62, 2**62)[0].shape == (0, 2)


# ---- sample_descriptors ----
@pytest.mark.parametrize("impl", [ops, reference])
def test_sample_descriptors_errors(impl: object) -> None:
    f = impl.sample_descriptors  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="'bilinear', 'bicubic'"):
        f(COARSE, KPS, "nearest")
    with pytest.raises(ValueError, match="'center', 'magicleap', 'superglue'"):
        f(COARSE, KPS, "bilinear", "corner")
    with pytest.raises(TypeError, match="float32 or float16"):
        f(COARSE.astype(np.float64), KPS)
    with pytest.raises(TypeError, match="keypoints must have dtype float32"):
        f(COARSE, KPS.astype(np.float64))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        f(COARSE, np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="dimensions"):
        f(COARSE[None], KPS)
    with pytest.raises(ValueError, match="dimensions"):
        f(COARSE, KPS.ravel())
    with pytest.raises(ValueError, match="channel"):
        f(np.zeros((0, 3, 4), np.float32), KPS)
    with pytest.raises(ValueError, match="height and width"):
        f(np.zeros((8, 0, 4), np.float32), KPS)
    bad = KPS.copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        f(COARSE, bad)
    bad[1, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        f(COARSE, bad)
    with pytest.raises(ValueError, match="NaN or inf"):
        f(np.full((8, 3, 4), np.nan, np.float32), KPS)


def test_sample_descriptors_errors_in_cpp() -> None:
    with pytest.raises(ValueError, match="expected 'bilinear' or 'bicubic'"):
        _C.sample_descriptors(COARSE, KPS, "area", "center")
    with pytest.raises(ValueError, match="expected 'center', 'magicleap' or 'superglue'"):
        _C.sample_descriptors(COARSE, KPS, "bilinear", "")
    with pytest.raises(TypeError, match="float32"):
        _C.sample_descriptors(COARSE, KPS.astype(np.float16), "bilinear", "center")
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        _C.sample_descriptors(COARSE, np.zeros((3, 1), np.float32), "bilinear", "center")
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.sample_descriptors(COARSE, np.zeros((2, 6), np.float32)[:, ::3], "bilinear", "center")
    with pytest.raises(ValueError, match="Hc, Wc > 0"):
        _C.sample_descriptors(np.zeros((4, 2, 0), np.float32), KPS, "bilinear", "center")
    with pytest.raises(ValueError, match="keypoint 0 is NaN"):
        _C.sample_descriptors(COARSE, np.full((1, 2), np.nan, np.float32), "bilinear", "center")
    with pytest.raises(ValueError, match="not finite"):
        _C.sample_descriptors(np.full((8, 3, 4), np.inf, np.float32), KPS, "bicubic", "center")
    big = np.full((2, 3, 4), 3e38, np.float32)
    big[:, :, [0, 3]] = -3e38  # bicubic overshoot at u = 1.5 (x = 15.5): 1.375 * 3e38 > float32 max
    with pytest.raises(ValueError, match="not finite"):
        _C.sample_descriptors(big, np.array([[15.5, 11.5]], np.float32), "bicubic", "center")
    # the same map read where nothing overflows is fine
    assert np.isfinite(_C.sample_descriptors(big, np.array([[11.5, 11.5]], np.float32), "bicubic", "center")).all()


# ---- build info, missing extension, GIL ----
def test_build_info() -> None:
    info = ops.build_info()
    assert set(info) >= {"version", "cuda", "cuda_archs", "sanitize", "compiler"}
    assert isinstance(info["version"], str) and info["version"]
    assert isinstance(info["cuda"], bool) and isinstance(info["sanitize"], bool)
    assert isinstance(info["compiler"], str) and info["compiler"]
    assert isinstance(info["cuda_archs"], list) and all(isinstance(a, str) and a for a in info["cuda_archs"])
    if not info["cuda"]:
        assert info["cuda_archs"] == []


def test_missing_extension_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(name: str) -> None:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(_ext, "_module", None)
    monkeypatch.setattr(_ext, "importlib", types.SimpleNamespace(import_module=fail))
    with pytest.raises(ImportError, match=r"superpoint_rt\._C is not built: run `pip install -e \."):
        ops.heatmap(LOGITS)
    assert not _ext.ext_available()


def test_gil_is_released_during_compute() -> None:
    """Another Python thread keeps running while a long C++ call is in progress."""
    heat = np.random.default_rng(0).random((1024, 2048), dtype=np.float32)
    counter = [0]
    done = threading.Event()
    seen: list[int] = []

    def worker() -> None:
        for _ in range(3):
            before = counter[0]
            ops.nms(heat, 0.0, 1)  # 2M candidates: ~100 ms of C++
            seen.append(counter[0] - before)
        done.set()

    t = threading.Thread(target=worker)
    t.start()
    while not done.is_set():
        counter[0] += 1
    t.join()
    assert max(seen) > 0
