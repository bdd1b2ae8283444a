"""The benchmark's workers: a pipeline in a process of its own answers requests over a pipe; the in-process worker
answers the same ones; CPU-time probing and settling; a tiny in-process run with INT8 among the engines."""

from __future__ import annotations

import os

import pytest

from superpoint_rt.apps.bench.run import BenchConfig, run_benchmark
from superpoint_rt.apps.bench.timing import STAGES
from superpoint_rt.apps.bench.workers import (
    LocalWorker,
    PipelineSpec,
    ProcessWorker,
    RemoteError,
    process_cpu_ns,
    settle,
)
from superpoint_rt.backends.auto import RULES


def test_process_worker_runs_the_reference_in_another_process():
    pytest.importorskip("torch")
    spec = PipelineSpec("reference", "torch-eager", "fp32", weights="random", num_threads=1)
    w = ProcessWorker(spec)
    try:
        meta = w.call("build", 0.015)
        assert meta["pipeline"] == "reference" and meta["pid"] == w.pid != os.getpid()
        assert w.call("load_frames", 32, 48) == 8  # the bundled photos
        out = w.call("run", [[0], [1, 2]])
        assert len(out) == 2
        for times, kp in out:
            assert set(times) == set(STAGES) and times["e2e"] > 0 and kp >= 0
        dets = w.call("detect_each")
        assert len(dets) == 8 and dets[0][2].shape[1] == 256
        cpu = process_cpu_ns(w.pid)
        assert cpu is not None and cpu > 0
        with pytest.raises(RemoteError, match="no_such_request"):
            w.call("no_such_request")
        assert w.call("load_frames", 16, 16) == 8  # still serving after an error
    finally:
        w.close()
    assert not w._proc.is_alive()


def test_local_worker_answers_the_same_requests():
    pytest.importorskip("onnxruntime")
    w = LocalWorker(PipelineSpec("ours", "onnxruntime", "fp32", weights="random", num_threads=1))
    meta = w.call("build", 0.5)
    assert (meta["backend"], meta["precision"], meta["pid"]) == ("onnxruntime", "fp32", os.getpid())
    w.call("load_frames", 32, 32)
    w.submit("run", [[0]])
    ((times, _),) = w.result()
    assert times["network"] > 0
    w.submit("no_such_request")
    with pytest.raises(AttributeError):
        w.result()


def test_cpu_time_and_settle():
    assert process_cpu_ns(os.getpid()) > 0
    assert process_cpu_ns(None) is None and process_cpu_ns(2**22 + 12345) is None
    assert settle([]) == 0.0
    assert settle([2**22 + 12345]) == 0.0  # unknown process: no wait
    # this process is busy only in settle's own polling thread: it settles within the limit
    assert 0.0 < settle([os.getpid()], window_s=0.005, max_wait_s=0.5, tolerance_ns=10**9) < 0.5


def test_tiny_in_process_run_with_int8():
    """isolation="none" (all in this process) with the packaged weights: the default engine (the rule's choice),
    INT8, and FP32 agreeing with INT8 is summarised; no reference, no probe."""
    pytest.importorskip("openvino")
    cfg = BenchConfig(
        resolutions=((64, 96),),
        iterations=2,
        warmup=1,
        engines=(("auto", None), ("openvino", "int8"), ("openvino", "fp32")),
        reference=False,
        isolation="none",
        peak_seconds=0,
        num_threads=1,
    )
    result = run_benchmark(cfg, log=lambda s: None)
    assert result["settings"]["isolation"] == "none" and result["peak"] == {"skipped": "peak_seconds = 0"}
    labels = [(p["backend"], p["precision"], p["is_default"]) for p in result["pipelines"]]
    default = next(p for p in result["pipelines"] if p["is_default"])
    assert default["chosen_by"]["rule"] in {r.id for r in RULES}
    assert ("openvino", "int8") in [(b, p) for b, p, _ in labels] and ("openvino", "fp32") in [
        (b, p) for b, p, _ in labels
    ]
    assert len(labels) == len({(b, p) for b, p, _ in labels})  # the default's duplicate is left out
    assert all(p["pid"] == os.getpid() for p in result["pipelines"])
    agr = result["summary"]["precision_agreement"]["64x96"]
    assert "openvino:int8 vs openvino:fp32" in agr
    net = [r for r in result["records"] if r["stage"] == "network"]
    assert all(r["efficiency"] is None and r["network_gflop"] > 0 for r in net)  # no peak measured
    assert result["summary"]["auto_check"][0]["default"] == f"{default['backend']}:{default['precision']}"
