"""The benchmark: a tiny run produces complete records; its helpers against hand-worked cases (no timing assertions)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from superpoint_rt.apps.bench import cli, images
from superpoint_rt.apps.bench.agreement import keypoint_agreement, summarise_agreement
from superpoint_rt.apps.bench.report import write_results
from superpoint_rt.apps.bench.run import ALL_RESOLUTIONS, SCHEMA, BenchConfig, run_benchmark
from superpoint_rt.apps.bench.thresholds import threshold_for_count
from superpoint_rt.apps.bench.timing import STAGES

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
    cfg = BenchConfig(
        weights="random",
        resolutions=((64, 64),),
        batches=(1, 2),
        iterations=2,
        warmup=0,
        engines=(("onnxruntime", "fp32"),),
        target_candidates=300,
        peak_seconds=0.01,
    )
    result = run_benchmark(cfg, log=lambda s: None)
    out = tmp_path_factory.mktemp("bench")
    paths = write_results(result, out, "tiny", chart=True)
    return result, paths


def test_tiny_run_records_have_all_fields(tiny_result):
    result, _ = tiny_result
    recs = result["records"]
    # 2 pipelines (reference + onnxruntime) x 2 batches x 4 stages
    assert len(recs) == 2 * 2 * len(STAGES)
    for r in recs:
        assert RECORD_FIELDS <= set(r), RECORD_FIELDS - set(r)
        assert (r["height"], r["width"]) == (64, 64)
        assert r["p50_ms"] > 0 and r["p99_ms"] >= r["p50_ms"] and r["fps"] > 0
        assert {"cpu", "amx", "avx512_bf16", "avx512_vnni"} <= set(r["device"])
        assert {"python", "numpy", "torch", "openvino", "onnxruntime", "superpoint_rt"} <= set(r["versions"])
    assert {r["pipeline"] for r in recs} == {"reference", "ours"}
    assert {r["stage"] for r in recs} == set(STAGES)
    assert {r["batch"] for r in recs} == {1, 2}


def test_tiny_run_each_pipeline_in_its_own_process_same_threads(tiny_result):
    """The default isolation: every pipeline in a process of its own (not this one), the same thread count for all
    (the reference's PyTorch included), the other processes' CPU use during each timed call recorded."""
    import os

    result, _ = tiny_result
    s = result["settings"]
    assert s["isolation"] == "process" and "process of its own" in s["isolation_rule"]
    pids = [p["pid"] for p in result["pipelines"]]
    assert len(set(pids)) == len(pids) == 2 and s["benchmark_pid"] == os.getpid() not in pids
    assert {p["num_threads"] for p in result["pipelines"]} == {s["threads"]}
    for r in result["records"]:
        assert r["isolation"] == "process" and r["threads"] == s["threads"]
        assert r["others_cpu_ms_mean"] is not None and r["others_cpu_ms_mean"] >= 0


def test_tiny_run_network_efficiency_against_the_peak(tiny_result):
    from superpoint_rt.apps.bench.flops import network_flops

    result, _ = tiny_result
    fp32_peak = result["peak"]["precisions"]["fp32"]["gflops"]
    assert fp32_peak > 0
    net = [r for r in result["records"] if r["stage"] == "network"]
    assert len(net) == 4
    for r in net:
        assert r["network_gflop"] == pytest.approx(network_flops(64, 64, r["batch"]) / 1e9, abs=1e-4)
        assert r["peak_gflops"] == fp32_peak
        achieved = r["network_gflop"] / (r["p50_ms"] / 1e3)
        # the record rounds GFLOP/s to 2 decimals and efficiencies to 3: a tiny 64x64 network on a loaded machine
        # has efficiencies near 0.01, where that rounding alone exceeds 1 % (abs allows half a unit of the last place)
        assert r["achieved_gflops"] == pytest.approx(achieved, rel=1e-2, abs=0.006)
        assert r["efficiency"] == pytest.approx(achieved / fp32_peak, rel=1e-2, abs=6e-4)
        best = r["network_gflop"] / (r["min_ms"] / 1e3) / result["peak"]["precisions"]["fp32"]["gflops_max"]
        assert r["efficiency_best"] == pytest.approx(best, rel=1e-2, abs=6e-4)
    assert result["peak"]["passes"] == 2  # probed before and after the timed rounds
    assert len(result["summary"]["efficiency"]) == 4


def test_tiny_run_summary_weights_and_files(tiny_result):
    result, paths = tiny_result
    assert result["weights"]["random"] is True and "random" in result["weights"]["note"].lower()
    assert len(result["load"]["before"]["loadavg"]) == 3
    thr = result["settings"]["conf_thresholds"]["64x64"]
    assert len(thr) >= 1 and all(0.0 < t < 1.0 for t in thr)
    # one threshold per resolution (detection options are fixed at construction): the median of the images' values
    assert result["settings"]["conf_threshold_used"]["64x64"] == pytest.approx(float(np.median(thr)), abs=1e-7)
    assert result["summary"]["precision_agreement"] == {"64x64": {}}  # one FP32 engine: nothing to compare
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
    assert loaded["schema"] == SCHEMA and len(loaded["records"]) == len(result["records"])
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_threshold_for_count_hand_worked():
    heat = np.array([[0.1, 0.5], [0.3, 0.3]], np.float32)
    assert threshold_for_count(heat, 1) == pytest.approx(0.5)
    assert threshold_for_count(heat, 2) == pytest.approx(0.3)  # a tie: 3 pixels pass
    assert threshold_for_count(heat, 10) == pytest.approx(0.1)


def test_keypoint_agreement_hand_worked():
    ref = np.array([[0, 0], [10, 10], [20, 20]], np.float32)
    test = np.array([[1, 0], [11, 11], [50, 50]], np.float32)  # within 1 px, sqrt(2) px, far
    d = np.eye(3, 4, dtype=np.float32)
    dt = np.array([[0.6, 0.8, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], np.float32)
    a = keypoint_agreement(ref, d, test, dt)
    assert a["matched"] == 1 and a["reference"] == 3 and a["test"] == 3
    np.testing.assert_allclose(a["cosines"], [0.6])
    s = summarise_agreement([a, keypoint_agreement(ref[:0], d[:0], test, dt)])
    assert s["fraction_within_1px"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["descriptor_cosine_median"] == pytest.approx(0.6)


def test_demo_postprocess_matches_ops_reference():
    """The reference pipeline's demo-style post-processing equals the ops' general NumPy reference at the demo's
    settings (independent implementations: the demo's grid NMS and grid_sample arithmetic vs the window look-up NMS
    and the "magicleap" convention)."""
    reference = pytest.importorskip("superpoint_rt.ops.reference")
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 1, (65, 6, 8)).astype(np.float32)
    coarse = rng.normal(0, 1, (16, 6, 8)).astype(np.float32)
    k1, s1, d1 = reference.postprocess_demo_style(logits, coarse, conf_threshold=0.02, nms_radius=2, border=3)
    k2, s2 = reference.detect(reference.heatmap(logits), 0.02, 2, 3)
    d2 = reference.sample_descriptors(coarse, k2, "bilinear", "magicleap")
    np.testing.assert_array_equal(k1, k2)
    np.testing.assert_allclose(s1, s2, rtol=1e-6)
    np.testing.assert_allclose(d1, d2, atol=1e-5)


def test_config_from_args_defaults_are_quick():
    import argparse

    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    cfg, name = cli.config_from_args(p.parse_args([]))
    assert cfg.resolutions == ((480, 640),) and cfg.batches == (1,) and name == "cpu_quick"
    # every engine x precision (INT8 included), each pipeline in a process of its own
    assert cfg.engines[0] == ("auto", None) and ("openvino", "int8") in cfg.engines
    assert {("openvino", "bf16"), ("openvino", "fp32"), ("onnxruntime", "fp32")} <= set(cfg.engines)
    assert cfg.isolation == "process" and cfg.peak_seconds > 0
    cfg, _ = cli.config_from_args(p.parse_args(["--isolation", "none", "--peak-seconds", "0"]))
    assert cfg.isolation == "none" and cfg.peak_seconds == 0
    cfg, name = cli.config_from_args(p.parse_args(["--full"]))
    assert set(cfg.resolutions) == set(ALL_RESOLUTIONS) and cfg.batches == (1, 8) and name == "cpu_full"
    with pytest.raises(argparse.ArgumentTypeError):
        cli._parse_resolutions("480by640")


def test_heatmap_demo_style_is_the_demos_softmax():
    """The reference pipeline's heatmap (the demo's softmax, + 1e-5) equals the exact one up to that 1e-5."""
    from superpoint_rt.ops import reference

    logits = np.random.default_rng(5).normal(0, 2, (65, 3, 4)).astype(np.float32)
    heat = reference.heatmap_demo_style(logits)
    assert heat.shape == (24, 32) and heat.dtype == np.float32
    np.testing.assert_allclose(heat, reference.heatmap(logits), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError):
        reference.heatmap_demo_style(logits[:64])


def test_default_images_ship_with_the_package():
    """No --images: the bundled benchmark's reference photos (in the package, not a checkout path), resized."""
    paths = images.default_image_paths()
    assert len(paths) == 8 and all(p.is_relative_to(images.BUNDLED_BENCHMARK) for p in paths)
    frames = images.load_images(None, 48, 64)
    assert len(frames) == 8 and all(f.shape == (48, 64, 3) and f.dtype == np.uint8 for f in frames)
    assert len(images.load_images([paths[0].parent], 16, 16)) == 6  # a folder: every image in it
    with pytest.raises(ValueError):
        images.load_images([paths[0].parent / "H_1_2"], 16, 16)


def test_cli_output_defaults_to_the_current_directory():
    import argparse

    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    args = p.parse_args([])
    assert args.out == "bench_results" and args.images is None
    p = argparse.ArgumentParser()
    cli.add_arguments(p, out="/somewhere/results", images=["a.jpg"])
    args = p.parse_args([])
    assert args.out == "/somewhere/results" and args.images == ["a.jpg"]


def test_ours_pipeline_takes_detection_options_at_construction():
    pytest.importorskip("onnxruntime")
    from superpoint_rt.apps.bench.pipelines import OursPipeline
    from superpoint_rt.weights import random_weights

    p = OursPipeline(random_weights(), "onnxruntime", "fp32", conf_threshold=0.5, nms_radius=2, border=3)
    assert p.conf_threshold == 0.5 and p.sp.conf_threshold == 0.5 and p.sp.nms_radius == 2
    frame = images.load_images(None, 32, 32)[0]
    detections, times = p([frame])
    kp, scores, _ = detections[0]
    assert set(times) == set(STAGES)
    assert len(kp) == 0 or scores.min() >= 0.5  # random weights: a near-uniform heatmap, nothing passes 0.5
