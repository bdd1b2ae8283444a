"""Where a benchmark pipeline runs: in a process of its own (the default) or in the benchmark's process.

Engines leave thread pools that keep spinning for a while after a call (OpenMP in PyTorch, TBB in OpenVINO, ONNX
Runtime's pool) and take cores from whatever runs next in the same process; a pipeline timed right after another one
in one process is timed slower than it is. So, by default (``isolation="process"``), every pipeline lives in a
process of its own (``multiprocessing`` spawn: nothing inherited), builds its engine there, loads the same frames
from the same files, warms up, and runs only when the benchmark asks it to; the benchmark asks them in turn, one call
each per round (the order rotating every round), so a change in machine load hits them alike. Before each timed call
the benchmark waits until the other pipelines' processes have stopped using the CPU (their threads' run time, from
``/proc/<pid>/task/*/schedstat``, no longer advances) and it records how much CPU they used during the call
(``others_cpu_ms``, which should be ~0). ``isolation="none"`` runs every pipeline in the benchmark's own process, as
a user's program that holds several engines would.

:class:`PipelineHost` does the work (it is also the in-process worker); :class:`ProcessWorker` runs one in a child
process and forwards calls to it over a pipe.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: how long a child may take to answer one call (engine compilation included)
CALL_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class PipelineSpec:
    """What one worker builds. ``kind``: "reference" (PyTorch eager FP32 + NumPy, the demo's way), "ours"
    (SuperPoint on ``backend``/``precision``; ("auto", None) is the default engine) or "gpu" (the device pipeline)."""

    kind: str
    backend: str = "auto"
    precision: str | None = None
    weights: str | None = None
    images: tuple[str, ...] = ()
    nms_radius: int = 4
    border: int = 4
    num_threads: int | None = None

    @property
    def key(self) -> str:
        return "reference" if self.kind == "reference" else f"{self.kind}:{self.backend}:{self.precision or 'default'}"


class PipelineHost:
    """One pipeline and its frames; every method is a request the benchmark makes (:class:`ProcessWorker` forwards
    them by name)."""

    def __init__(self, spec: PipelineSpec) -> None:
        self.spec = spec
        self.pipeline: Any = None
        self.frames: list[np.ndarray] = []
        self._weights: Any = None

    def weights(self) -> Any:
        if self._weights is None:
            from .pipelines import resolve_weights

            self._weights = resolve_weights(self.spec.weights)[0]
        return self._weights

    def build(self, conf_threshold: float) -> dict[str, Any]:
        """(Re)build the pipeline with this detection threshold; returns what it is (name, backend, precision, ...)."""
        from .pipelines import GpuOursPipeline, OursPipeline, ReferencePipeline

        s = self.spec
        self.pipeline = None  # let the old engine go first
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if s.kind == "reference":
                self.pipeline = ReferencePipeline(
                    self.weights(), conf_threshold, s.nms_radius, s.border, num_threads=s.num_threads
                )
            elif s.kind == "gpu":
                self.pipeline = GpuOursPipeline(
                    self.weights(), s.backend, s.precision, conf_threshold=conf_threshold, nms_radius=s.nms_radius,
                    border=s.border,
                )  # fmt: skip
            else:
                self.pipeline = OursPipeline(
                    self.weights(), s.backend, s.precision, conf_threshold=conf_threshold, nms_radius=s.nms_radius,
                    border=s.border, num_threads=s.num_threads,
                )  # fmt: skip
        return self.describe()

    def describe(self) -> dict[str, Any]:
        p = self.pipeline
        sp = getattr(p, "sp", None)
        chosen = getattr(sp.engine, "chosen_by", None) if sp is not None else None
        return {
            "pipeline": p.name,
            "backend": p.backend,
            "precision": p.precision,
            "label": p.label,
            "is_default": bool(getattr(p, "is_default", False)),
            "postprocess_impl": p.postprocess_impl,
            "convention": str(getattr(p, "convention", "")),
            "chosen_by": chosen,
            "num_threads": self.spec.num_threads,
            "pid": os.getpid(),
        }

    def load_frames(self, height: int, width: int) -> int:
        from .images import load_images

        self.frames = load_images(list(self.spec.images) or None, height, width)
        return len(self.frames)

    def heatmaps(self) -> list[np.ndarray]:
        return [np.asarray(self.pipeline.heatmap(f)) for f in self.frames]

    def detect_each(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Batch-1 detections of every frame (for the agreement checks)."""
        return [self.pipeline([f])[0][0] for f in self.frames]

    def run(self, batches: Sequence[Sequence[int]]) -> list[tuple[dict[str, float], int]]:
        """One call per batch of frame indices: (stage seconds, mean keypoints per image) each."""
        out = []
        for idx in batches:
            dets, times = self.pipeline([self.frames[i] for i in idx])
            out.append((times, int(np.mean([len(d[0]) for d in dets]))))
        return out

    def postprocess_isolated(self, iterations: int) -> dict[str, Any]:
        from .pipelines import postprocess_isolated

        return postprocess_isolated(self.pipeline, self.frames[0], iterations)

    def gemm_peak(self, precisions: Sequence[str], threads: int, seconds: float) -> dict[str, Any]:
        from .peak import gemm_peak

        return gemm_peak(precisions, threads, seconds)

    def close(self) -> None:
        self.pipeline = None


class LocalWorker:
    """A :class:`PipelineHost` in this process, behind the same ``call`` as :class:`ProcessWorker`."""

    pid: int | None = None

    def __init__(self, spec: PipelineSpec) -> None:
        self.spec = spec
        self.host = PipelineHost(spec)
        self._pending: tuple[str, Any] | None = None

    def submit(self, method: str, *args: Any) -> None:
        try:
            self._pending = ("ok", getattr(self.host, method)(*args))
        except Exception as e:
            self._pending = ("error", e)

    def result(self) -> Any:
        pending, self._pending = self._pending, None
        if pending is None:
            raise RuntimeError("result() without submit()")
        status, value = pending
        if status != "ok":
            raise value
        return value

    def call(self, method: str, *args: Any) -> Any:
        return getattr(self.host, method)(*args)

    def close(self) -> None:
        self.host.close()


class RemoteError(RuntimeError):
    """A request failed in a worker process (the message carries the worker's exception)."""


def _serve(conn: Any, spec: PipelineSpec) -> None:
    """The child process: answer requests until "close" (or the pipe closes)."""
    if spec.kind == "reference" and spec.num_threads:
        import torch

        torch.set_num_threads(int(spec.num_threads))
    host = PipelineHost(spec)
    while True:
        try:
            method, args = conn.recv()
        except EOFError:
            return
        if method == "close":
            host.close()
            conn.send(("ok", None))
            return
        try:
            conn.send(("ok", getattr(host, method)(*args)))
        except Exception as e:  # sent back, raised in the parent
            conn.send(("error", f"{type(e).__name__}: {e}"))


class ProcessWorker:
    """A :class:`PipelineHost` in a child process of its own (spawned: a fresh interpreter, no inherited threads)."""

    def __init__(self, spec: PipelineSpec) -> None:
        ctx = mp.get_context("spawn")
        self.spec = spec
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, spec), name=f"bench-{spec.key}", daemon=True)
        self._proc.start()
        child.close()
        self.pid: int | None = self._proc.pid

    def submit(self, method: str, *args: Any) -> None:
        """Send a request; :meth:`result` waits for its answer (several workers can work at once)."""
        self._method = method
        self._conn.send((method, args))

    def result(self) -> Any:
        method = getattr(self, "_method", "?")
        if not self._conn.poll(CALL_TIMEOUT_S):
            self.close()
            raise RemoteError(f"{self.spec.key}: no answer to {method} within {CALL_TIMEOUT_S:.0f} s")
        try:
            status, value = self._conn.recv()
        except EOFError as e:
            raise RemoteError(f"{self.spec.key}: the worker process died during {method}") from e
        if status != "ok":
            raise RemoteError(f"{self.spec.key}: {value}")
        return value

    def call(self, method: str, *args: Any) -> Any:
        self.submit(method, *args)
        return self.result()

    def close(self) -> None:
        if self._proc.is_alive():
            try:
                self._conn.send(("close", ()))
                self._conn.poll(10.0)
            except (OSError, BrokenPipeError):
                pass
            self._proc.join(timeout=10.0)
        if self._proc.is_alive():
            self._proc.terminate()  # our own child, by its handle
            self._proc.join(timeout=5.0)
        self._conn.close()


def make_worker(spec: PipelineSpec, isolation: str) -> LocalWorker | ProcessWorker:
    if isolation == "process":
        return ProcessWorker(spec)
    if isolation == "none":
        return LocalWorker(spec)
    raise ValueError(f"isolation must be 'process' or 'none', got {isolation!r}")


def process_cpu_ns(pid: int | None) -> int | None:
    """CPU time (ns) all threads of process ``pid`` have run so far (Linux ``schedstat``); None where unknown."""
    if pid is None:
        return None
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue  # a thread that just ended
    except OSError:
        return None
    return total


def total_cpu_ns(pids: Sequence[int | None]) -> int | None:
    """The CPU time of all ``pids`` together; None when one is unknown."""
    total = 0
    for p in pids:
        t = process_cpu_ns(p)
        if t is None:
            return None
        total += t
    return total


def settle(
    pids: Sequence[int | None], window_s: float = 0.01, max_wait_s: float = 1.0, tolerance_ns: int = 500_000
) -> float:
    """Wait until the processes ``pids`` use less than ``tolerance_ns`` CPU over ``window_s`` (their spinning
    threads have gone to sleep), at most ``max_wait_s``; returns the seconds waited. No wait where CPU time is
    unknown."""
    pids = [p for p in pids if p is not None]
    if not pids:
        return 0.0
    t0 = time.perf_counter()
    before = total_cpu_ns(pids)
    if before is None:
        return 0.0
    while time.perf_counter() - t0 < max_wait_s:
        time.sleep(window_s)
        after = total_cpu_ns(pids)
        if after is None or after - before < tolerance_ns:
            break
        before = after
    return time.perf_counter() - t0
