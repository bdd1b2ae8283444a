"""``superpoint-rt bench``: per-stage latency and FPS of our pipeline against a reference-style one, in one run.

Two kinds of pipeline run on the same images (real photos resized to each resolution), each in a process of its own
with the same thread count, warmed up, timed in interleaved rounds (one call each per round, the order rotating) so
that a change in machine load hits them alike and no engine's idle threads slow another's calls:

* **reference**: what the original Magic Leap demo does: gray float32 image, PyTorch eager FP32 network
  (:class:`superpoint_rt.network.SuperPointNet`), then the demo's NumPy post-processing
  (:func:`superpoint_rt.ops.reference.postprocess_demo_style`: softmax + reshape/transpose to the full-resolution
  heatmap, ``np.where`` threshold, greedy grid NMS with one Python iteration per candidate, border removal, bilinear
  descriptor sampling and L2 normalisation). At batch B the network runs on the whole batch and the
  post-processing loops over the images (the demo itself is batch 1 only).
* **ours**: :class:`superpoint_rt.SuperPoint` with the default engine (what :mod:`superpoint_rt.backends.auto`
  picks for this CPU) and with every other engine x precision the CPU has (OpenVINO INT8 / BF16 / FP32, ONNX
  Runtime FP32); post-processing in C++ (or CUDA, ``gpu-*`` engines).

In the same run a GEMM probe measures the machine's peak per precision, and each network time is held against it:
the network's FLOPs at the measured size over its time, over the peak (``efficiency``).

Modules, each importing only those above it:

========== =========================================================================================
timing     stage names, :func:`~.timing.timing_stats` (p50/p99/mean/min ms, FPS)
images     :func:`~.images.load_images`: explicit files/folders, default the package's bundled photos
thresholds :func:`~.thresholds.threshold_for_count` (random weights: a threshold ~N pixels pass)
agreement  keypoint/descriptor agreement between two pipelines' outputs
flops      :func:`~.flops.network_flops`: the network's FLOPs at an input size, from its layer table
peak       :func:`~.peak.gemm_peak`: the machine's measured peak per precision; :func:`~.peak.efficiency`
pipelines  the adapters: :class:`~.pipelines.ReferencePipeline`, :class:`~.pipelines.OursPipeline`,
           :class:`~.pipelines.GpuOursPipeline` (detection options fixed at construction)
workers    where a pipeline runs: :class:`~.workers.ProcessWorker` (a process of its own) or in this process
run        :class:`~.run.BenchConfig`, :func:`~.run.run_benchmark` -> a JSON-able result
report     :func:`~.report.write_results` (JSON + PNG chart), :func:`~.report.print_summary`
cli        ``register(subparsers)`` for ``superpoint-rt bench``, ``add_arguments``, ``main``
========== =========================================================================================
"""
