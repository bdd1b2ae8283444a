"""Methods, the runner, the CLI and the precision-guard helpers of superpoint_rt.eval."""

from __future__ import annotations

import argparse
import json
import sys
import types
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from superpoint_rt.apps.eval_cli import main as cli_main
from superpoint_rt.apps.eval_cli import register
from superpoint_rt.eval import compare
from superpoint_rt.eval.generate import make_benchmark
from superpoint_rt.eval.methods import (
    CallableMethod,
    Method,
    OpenCVMethod,
    get_method,
    local_maxima,
    superpoint_method,
)
from superpoint_rt.eval.runner import EvalConfig, evaluate, markdown_table, write_json
from superpoint_rt.types import Features

SMALL = EvalConfig(rep_size=(96, 128), desc_size=(192, 256), rep_keypoints=100, desc_keypoints=300)


def textured_photo(path: Path, seed: int = 0) -> Path:
    """A synthetic 'photo': random rectangles and ellipses (corners for every detector)."""
    rng = np.random.default_rng(seed)
    img = np.full((300, 400, 3), 90, np.uint8)
    for _ in range(80):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, 380)), int(rng.integers(0, 280))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(8, 60)), y + int(rng.integers(8, 60))), color, -1)
        else:
            axes = (int(rng.integers(5, 30)), int(rng.integers(5, 30)))
            cv2.ellipse(img, (x, y), axes, float(rng.uniform(0, 180)), 0, 360, color, -1)
    img = cv2.GaussianBlur(img, (3, 3), 0.8)
    cv2.imwrite(str(path), img)
    return path


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eval")
    photo = textured_photo(root / "shapes.png")
    make_benchmark([photo], root / "bench", size=(192, 256), seed=1, ext=".png")
    return root / "bench"


def gray_photo(tmp_path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(textured_photo(tmp_path / "t.png"))), cv2.COLOR_BGR2GRAY)


def test_opencv_methods_follow_the_protocol(tmp_path: Path) -> None:
    img = gray_photo(tmp_path)
    for kind in OpenCVMethod.KINDS:
        m = OpenCVMethod(kind, max_keypoints=50)
        assert isinstance(m, Method)
        kp, scores, desc = m(img)
        assert kp.dtype == np.float32 and kp.shape[1] == 2 and 10 <= len(kp) <= 50, kind
        assert scores.shape == (len(kp),) and np.all(np.diff(scores) <= 0), kind
        assert (desc is not None) == m.has_descriptors
        if desc is not None:
            assert desc.dtype == np.float32 and len(desc) == len(kp)
        assert kp[:, 0].max() <= img.shape[1] - 1 and kp[:, 1].max() <= img.shape[0] - 1
    with pytest.raises(ValueError, match="unknown"):
        OpenCVMethod("surf")
    with pytest.raises(ValueError, match="uint8"):
        OpenCVMethod("orb")(img.astype(np.float32))


def test_orb_float_bits_give_hamming_distances(tmp_path: Path) -> None:
    img = gray_photo(tmp_path)
    _, raw = cv2.ORB.create(nfeatures=20).detectAndCompute(img, None)
    _, _, desc = OpenCVMethod("orb", max_keypoints=20)(img)
    assert desc is not None and desc.shape[1] == 256 and set(np.unique(desc)) <= {0.0, 1.0}
    bits = np.unpackbits(raw, axis=1).astype(np.float64)
    assert cv2.norm(raw[0], raw[1], cv2.NORM_HAMMING) == pytest.approx(((bits[0] - bits[1]) ** 2).sum())


def test_local_maxima_by_hand() -> None:
    r = np.zeros((20, 20), np.float32)
    r[5, 5], r[5, 7], r[12, 14], r[1, 1] = 1.0, 0.5, 0.8, 0.9  # (7,5) is within radius 2 of (5,5)
    kp, scores, _ = local_maxima(r, radius=2, threshold=0.1, border=2)
    got = sorted(zip(kp[:, 0].tolist(), kp[:, 1].tolist(), scores.tolist()))
    assert got == [(5.0, 5.0, 1.0), (14.0, 12.0, pytest.approx(0.8))]  # (1,1) is in the border


def test_orb_end_to_end_on_a_tiny_generated_sequence(bench: Path, tmp_path: Path) -> None:
    r = evaluate(bench, OpenCVMethod("orb"), SMALL, progress=False)
    assert len(r.pairs) == 10 and {p.kind for p in r.pairs} == {"i", "v"}
    s = r.summary()
    assert set(s) == {"all", "i", "v"} and s["all"]["pairs"] == 10
    for g in s.values():
        for key in ("repeatability", "nn_map", "matching_score", "homography@1", "homography@3", "homography@5"):
            assert 0.0 <= g[key] <= 1.0, key
        assert g["homography@1"] <= g["homography@3"] <= g["homography@5"]
    # AUC at 5 px from the pair errors by hand: mean of max(0, 1 - e / 5), failures 0
    errs = [p.corner_error for p in r.pairs]
    assert s["all"]["homography_auc@5"] == pytest.approx(np.mean([max(0.0, 1 - e / 5) for e in errs]))
    assert s["i"]["homography@5"] >= 0.6  # identity geometry, mild photometric change: ORB mostly succeeds
    table = markdown_table([r])
    rows = [line for line in table.splitlines() if line.startswith("| orb |")]
    assert len(rows) == 3 and "| orb | v | 5 |" in table and "--rep-nms 4" in table  # and the counting note
    out = write_json([r], tmp_path / "r.json")
    data = json.loads(out.read_text())
    assert data["results"][0]["method"] == "orb" and len(data["results"][0]["pairs"]) == 10
    made = data["results"][0]["data_generated_with"]  # the versions that made the benchmark (make_benchmark)
    assert made == {"opencv": cv2.__version__, "numpy": np.__version__, "seed": 1, "size": [192, 256], "sequences": 2}
    env = data["results"][0]["environment"]  # the CPU a result was measured on (BF16/INT8 depend on it)
    assert env["cpu"] and env["cpu_id"].startswith("family ") and isinstance(env["cpu_flags"], str)
    from superpoint_rt.eval.plots import write_plots

    paths = write_plots([r], tmp_path / "plots")
    assert {p.name for p in paths} == {"accuracy_vs_eps.png", "nn_pr.png", "matches_orb.png"}
    assert all(cv2.imread(str(p)) is not None for p in paths)


def test_detector_only_method_has_no_descriptor_metrics(bench: Path) -> None:
    r = evaluate(bench, OpenCVMethod("shi"), SMALL, progress=False)
    s = r.summary()["all"]
    assert s["nn_map"] is None and s["homography@3"] is None and 0 < s["repeatability"] <= 1
    assert "| shi | all | 10 | - | - | - |" in markdown_table([r])


def fixed_points_method() -> CallableMethod:
    """Returns the same well-spread points and unique descriptors for any image: an oracle on i_ sequences."""
    ys, xs = np.mgrid[12:90:13, 12:120:13]
    kp = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    scores = np.linspace(1.0, 0.5, len(kp)).astype(np.float32)
    desc = np.eye(len(kp), dtype=np.float32)

    def fn(image: np.ndarray, k: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(kp) if k is None else min(k, len(kp))
        return kp[:n], scores[:n], desc[:n]

    return CallableMethod(fn, "fixed")


def test_runner_with_a_perfect_fake_method(bench: Path) -> None:
    r = evaluate(bench, fixed_points_method(), SMALL, progress=False)
    s = r.summary()["i"]
    assert s["repeatability"] == 1.0 and s["localization_error"] == 0.0
    assert s["nn_map"] == 1.0 and s["matching_score"] == 1.0
    assert s["homography@1"] == 1.0
    assert r.summary()["v"]["repeatability"] < 1.0  # the same points cannot follow a viewpoint change


def test_method_output_is_checked(bench: Path) -> None:
    def bad(image: np.ndarray, k: int | None) -> tuple[np.ndarray, np.ndarray, None]:
        return np.zeros((3, 2), np.float32), np.zeros(2, np.float32), None

    with pytest.raises(ValueError, match="3 keypoints but 2 scores"):
        evaluate(bench, CallableMethod(bad, "bad"), SMALL, progress=False)


def test_superpoint_adapter_with_a_stand_in_api(monkeypatch: pytest.MonkeyPatch, bench: Path) -> None:
    created: list[dict] = []

    class FakeSuperPoint:
        def __init__(self, **kwargs: object) -> None:
            created.append(kwargs)

        def __call__(self, image: np.ndarray) -> Features:
            kp, scores, desc = OpenCVMethod("sift")(image)
            assert desc is not None
            return Features(kp[::-1].copy(), scores[::-1].copy(), desc[::-1].copy(), image.shape[:2])

    monkeypatch.setitem(sys.modules, "superpoint_rt.api", types.SimpleNamespace(SuperPoint=FakeSuperPoint))
    m = superpoint_method(weights="w.npz", backend="openvino", precision="bf16", nms_radius=3)
    assert m.name == "superpoint[openvino,bf16]"
    m.max_keypoints = 40
    img = cv2.imread(str(bench / "v_shapes" / "1.png"), cv2.IMREAD_GRAYSCALE)
    kp, scores, desc = m(img)
    assert len(kp) == 40 and np.all(np.diff(scores) <= 0) and desc is not None and desc.shape == (40, 128)
    r = evaluate(bench, m, SMALL, progress=False)
    assert r.method == "superpoint[openvino,bf16]" and r.has_descriptors
    assert created == [dict(max_keypoints=None, weights="w.npz", backend="openvino", precision="bf16", nms_radius=3)]
    # the precision guard: several configs, one table, drops reported
    results = compare.evaluate_configs(bench, compare.precision_configs("openvino", ("fp32", "int8")), SMALL, False)
    assert [x.method for x in results] == ["openvino-fp32", "openvino-int8"]
    assert compare.degradations(results) == []  # the stand-in ignores precision: identical results
    table = markdown_table(results)
    assert "openvino-fp32" in table and "openvino-int8" in table


def test_get_method() -> None:
    assert get_method("sift").name == "sift"
    with pytest.raises(ValueError, match="unknown method"):
        get_method("akaze")


def test_cli(bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="superpoint-rt")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", str(bench), "--method", "orb", "fast", "--json", str(tmp_path / "o.json")])
    assert args.func is not None and args.method == ["orb", "fast"]
    sizes = ["--rep-size", "96x128", "--desc-size", "192x256"]
    outputs = ["--json", str(tmp_path / "o.json"), "--plots", str(tmp_path / "p")]
    rc = cli_main([str(bench), "--method", "orb", "--kinds", "i", *sizes, "--no-progress", *outputs])
    assert rc == 0
    out = capsys.readouterr().out
    assert "| orb | i | 5 |" in out and "| orb | v |" not in out
    assert json.loads((tmp_path / "o.json").read_text())["results"][0]["summary"]["i"]["pairs"] == 5
    photo = textured_photo(tmp_path / "p.png", seed=4)
    rc = cli_main(["make-benchmark", str(photo), str(tmp_path / "nb"), "--size", "48x64", "--kinds", "v"])
    assert rc == 0 and sorted(p.name for p in (tmp_path / "nb").iterdir()) == ["GENERATED.json", "v_p"]
    assert cli_main(["make-benchmark"]) == 2
    with pytest.raises(SystemExit):
        cli_main([str(bench), "--rep-size", "big"])


def test_real_superpoint_api_smoke(bench: Path) -> None:
    """The adapter with the real ``superpoint_rt.api.SuperPoint`` (random weights: plumbing only)."""
    try:
        from superpoint_rt.api import SuperPoint  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the installed engines
        pytest.skip(f"superpoint_rt.api unavailable: {e}")
    m = superpoint_method(weights="random")
    cfg = EvalConfig(rep_size=(96, 128), desc_size=(96, 128), kinds="i", max_sequences=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "random weights" warning
        r = evaluate(bench, m, cfg, progress=False)
    assert len(r.pairs) == 5 and r.has_descriptors


def test_cli_superpoint_row_label(bench: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [str(bench), "--method", "superpoint", "--weights", "random", "--name", "mine-fp32", "--kinds", "i"]
    argv += ["--max-sequences", "1", "--rep-size", "96x128", "--desc-size", "96x128", "--no-progress"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "random weights" warning
        assert cli_main(argv) == 0
    assert "| mine-fp32 | i | 5 |" in capsys.readouterr().out


def test_homography_trials_in_pairs_and_summary(bench: Path) -> None:
    import dataclasses

    r = evaluate(bench, fixed_points_method(), dataclasses.replace(SMALL, homography_trials=3), progress=False)
    pairs = [p for p in r.pairs if p.kind == "i"]
    assert all(len(p.corner_errors or []) == 3 and p.corner_errors[0] == p.corner_error for p in pairs)
    assert r.summary()["i"]["homography_trials@1"] == 1.0  # identical points: every order is exact
    plain = evaluate(bench, fixed_points_method(), SMALL, progress=False)
    assert "homography_trials@1" not in plain.summary()["i"] and plain.pairs[0].corner_errors is None
    with pytest.raises(SystemExit):
        cli_main([str(bench), "--homography-trials", "0"])


def test_rep_nms_removes_stacked_points_before_repeatability(bench: Path) -> None:
    """A detector that stacks 3 points on every corner (ORB-style pyramid duplicates) vs the same corners once."""
    orb = OpenCVMethod("harris")

    def stacked(image: np.ndarray, k: int | None) -> tuple[np.ndarray, np.ndarray, None]:
        kp, sc, _ = orb(image)
        kp3 = np.concatenate([kp, kp + np.array([0.6, 0.0]), kp + np.array([0.0, -0.6])]).astype(np.float32)
        return kp3, np.concatenate([sc, sc * 0.9, sc * 0.8]).astype(np.float32), None

    cfg = EvalConfig(**{**SMALL.__dict__, "rep_nms": 1.0})
    once = evaluate(bench, orb, SMALL, progress=False)
    dedup = evaluate(bench, CallableMethod(stacked, "stacked"), cfg, progress=False)
    raw = evaluate(bench, CallableMethod(stacked, "stacked"), SMALL, progress=False)
    for a, b in zip(once.pairs, dedup.pairs):
        assert b.n_rep == a.n_rep and b.repeatability == pytest.approx(a.repeatability, abs=1e-9)
    # without NMS the point budget fills with copies: the counts differ from the de-duplicated ones
    assert any(r.n_rep != a.n_rep for r, a in zip(raw.pairs, once.pairs))


def test_cli_rep_nms(bench: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert cli_main([str(bench), "--method", "orb", "--rep-nms", "4", "--json", str(out), "--no-progress"]) == 0
    saved = json.loads(out.read_text())
    assert saved["results"][0]["config"]["rep_nms"] == 4.0
    assert "after one NMS of radius 4 px" in saved["markdown"]
    with pytest.raises(SystemExit):
        cli_main([str(bench), "--method", "orb", "--rep-nms", "-1"])


def test_table_says_how_stacking_baselines_were_counted(bench: Path) -> None:
    """Without --rep-nms a table with ORB/SIFT says their stacked points each counted; Harris alone needs no note."""
    cfg = EvalConfig(**{**SMALL.__dict__, "kinds": "v", "max_sequences": 1})
    orb = evaluate(bench, OpenCVMethod("orb"), cfg, progress=False)
    harris = evaluate(bench, OpenCVMethod("harris"), cfg, progress=False)
    assert "--rep-nms 4" in markdown_table([orb]) and "every copy counts" in markdown_table([orb])
    assert "every copy counts" not in markdown_table([harris])
    dedup = evaluate(bench, OpenCVMethod("orb"), EvalConfig(**{**cfg.__dict__, "rep_nms": 4.0}), progress=False)
    assert "every copy counts" not in markdown_table([dedup])


def test_benchmark_dir_names_the_bundled_set() -> None:
    from superpoint_rt.eval.runner import BUNDLED_BENCHMARK, benchmark_dir

    assert benchmark_dir("bundled") == BUNDLED_BENCHMARK and (BUNDLED_BENCHMARK / "i_astronaut").is_dir()
    assert benchmark_dir("some/folder") == Path("some/folder") and benchmark_dir(Path("b")) == Path("b")
