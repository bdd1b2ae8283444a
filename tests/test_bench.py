"""The benchmark: a tiny run produces complete records; its helpers against hand-worked cases (no timing assertions)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from superpoint_rt import bench

RECORD_FIELDS = {
    "pipeline",
    "backend",
    "precision",
    "height",
    "width",
    "batch",
    "stage",
    "p50_ms",
    "p99_ms",
    "fps",
    "device",
    "versions",
}


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    cfg = bench.BenchConfig(
        weights="random",
        resolutions=((64, 64),),
        batches=(1, 2),
        iterations=2,
        warmup=0,
        engines=(("onnxruntime", "fp32"),),
        target_candidates=300,
    )
    result = bench.run_benchmark(cfg, log=lambda s: None)
    out = tmp_path_factory.mktemp("bench")
    paths = bench.write_results(result, out, "tiny", chart=True)
    return result, paths


def test_tiny_run_records_have_all_fields(tiny_result):
    result, _ = tiny_result
    recs = result["records"]
    # 2 pipelines (reference + onnxruntime) x 2 batches x 4 stages
    assert len(recs) == 2 * 2 * len(bench.STAGES)
    for r in recs:
        assert RECORD_FIELDS <= set(r), RECORD_FIELDS - set(r)
        assert (r["height"], r["width"]) == (64, 64)
        assert r["p50_ms"] > 0 and r["p99_ms"] >= r["p50_ms"] and r["fps"] > 0
        assert {"cpu", "amx", "avx512_bf16", "avx512_vnni"} <= set(r["device"])
        assert {"python", "numpy", "torch", "openvino", "onnxruntime", "superpoint_rt"} <= set(r["versions"])
    assert {r["pipeline"] for r in recs} == {"reference", "ours"}
    assert {r["stage"] for r in recs} == set(bench.STAGES)
    assert {r["batch"] for r in recs} == {1, 2}


def test_tiny_run_summary_weights_and_files(tiny_result):
    result, paths = tiny_result
    assert result["weights"]["random"] is True and "random" in result["weights"]["note"].lower()
    assert len(result["load"]["before"]["loadavg"]) == 3
    thr = result["settings"]["conf_thresholds"]["64x64"]
    assert len(thr) >= 1 and all(0.0 < t < 1.0 for t in thr)
    ratios = result["summary"]["ratios"]
    assert {(r["batch"], r["backend"]) for r in ratios} == {(1, "onnxruntime"), (2, "onnxruntime")}
    assert all(r["e2e_speedup"] > 0 and r["postprocess_latency_ratio_ours_over_reference"] > 0 for r in ratios)
    # the same detections in both pipelines (FP32 network, same threshold): nearly all keypoints agree
    agr = result["summary"]["fp32_vs_reference_agreement"]["64x64"]["onnxruntime:fp32 vs reference"]
    assert agr["fraction_within_1px"] > 0.9
    iso = result["summary"]["postprocess_isolated"]["64x64"]
    assert iso["ours_p50_ms"] > 0 and iso["reference_p50_ms"] > 0 and iso["keypoints"]["ours"] > 0
    json_path, png_path = paths
    loaded = json.loads(json_path.read_text())
    assert loaded["schema"] == bench.SCHEMA and len(loaded["records"]) == len(result["records"])
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_threshold_for_count_hand_worked():
    heat = np.array([[0.1, 0.5], [0.3, 0.3]], np.float32)
    assert bench.threshold_for_count(heat, 1) == pytest.approx(0.5)
    assert bench.threshold_for_count(heat, 2) == pytest.approx(0.3)  # a tie: 3 pixels pass
    assert bench.threshold_for_count(heat, 10) == pytest.approx(0.1)


def test_keypoint_agreement_hand_worked():
    ref = np.array([[0, 0], [10, 10], [20, 20]], np.float32)
    test = np.array([[1, 0], [11, 11], [50, 50]], np.float32)  # within 1 px, sqrt(2) px, far
    d = np.eye(3, 4, dtype=np.float32)
    dt = np.array([[0.6, 0.8, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], np.float32)
    a = bench.keypoint_agreement(ref, d, test, dt)
    assert a["matched"] == 1 and a["reference"] == 3 and a["test"] == 3
    np.testing.assert_allclose(a["cosines"], [0.6])
    s = bench.summarise_agreement([a, bench.keypoint_agreement(ref[:0], d[:0], test, dt)])
    assert s["fraction_within_1px"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["descriptor_cosine_median"] == pytest.approx(0.6)


def test_demo_postprocess_matches_ops_reference():
    """bench's own demo-style pipeline equals the ops' NumPy reference (independent implementations)."""
    reference = pytest.importorskip("superpoint_rt.ops.reference")
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 1, (65, 6, 8)).astype(np.float32)
    coarse = rng.normal(0, 1, (16, 6, 8)).astype(np.float32)
    k1, s1, d1 = bench.demo_postprocess(logits, coarse, 0.02, 2, 3)
    k2, s2, d2 = reference.postprocess_demo_style(logits, coarse, conf_threshold=0.02, nms_radius=2, border=3)
    np.testing.assert_array_equal(k1, k2)
    np.testing.assert_allclose(s1, s2, rtol=1e-6)
    np.testing.assert_allclose(d1, d2, atol=1e-5)


def test_config_from_args_defaults_are_quick():
    import argparse

    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    cfg, name = bench.config_from_args(p.parse_args([]))
    assert cfg.resolutions == ((480, 640),) and cfg.batches == (1,) and name == "cpu_quick"
    cfg, name = bench.config_from_args(p.parse_args(["--full"]))
    assert set(cfg.resolutions) == set(bench.ALL_RESOLUTIONS) and cfg.batches == (1, 8) and name == "cpu_full"
    with pytest.raises(argparse.ArgumentTypeError):
        bench._parse_resolutions("480by640")
