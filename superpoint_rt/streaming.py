"""Run a detector over a video stream with decoding in a background thread.

``stream(sp, source)`` yields ``(frame_index, frame, Features)`` for a video file, a camera index, a
network URL (anything ``cv2.VideoCapture`` opens), an image folder, a glob pattern, a list of images or
any object with ``read() -> (ok, frame)`` and ``release()``.

Threads: one capture thread decodes ahead into a bounded queue, so decoding frame k+1 overlaps the
inference on frame k. Inference itself runs in the *calling* thread, so the detector object is only
ever used by the thread that iterates (the SuperPoint object needs no lock for this).

Modes:
    ``"file"``: every frame, in order; the capture thread blocks when the queue is full.
    ``"live"``: the queue holds only the newest frame; an older frame not yet consumed is dropped
        (``stats.frames_dropped``), so latency stays bounded by one frame whatever the consumer's speed.
    ``None`` (default): ``"live"`` for cameras, URLs and capture objects, ``"file"`` for files, folders,
        globs, image lists and ``cv2.VideoCapture`` objects that report a frame count (opened files).

Frame indices are the source's frame numbers (0-based), so in live mode they skip the dropped frames.

Shutdown: ``close()`` (also on ``with`` exit, on ``break`` out of a ``for`` over the stream once the stream
object is unreferenced, and on garbage collection) stops and joins the capture thread and releases the
source. No call waits forever: every queue operation has a timeout, and a source that delivers nothing
for ``read_timeout`` seconds ends the stream with a warning.
"""

from __future__ import annotations

import contextlib
import glob as globmod
import itertools
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from .types import Features

__all__ = [
    "IMAGE_EXTENSIONS",
    "FrameReader",
    "FrameSource",
    "Stream",
    "StreamError",
    "StreamStats",
    "open_source",
    "stream",
]

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".pnm", ".tif", ".tiff", ".webp")
_THREAD_IDS = itertools.count()
_POLL_S = 0.05  # granularity of every blocking wait (queue get/put), so stop requests are seen quickly


class StreamError(ValueError):
    """A source cannot be opened or delivers frames that cannot be processed."""


# --------------------------------------------------------------------------------------------------
# sources
# --------------------------------------------------------------------------------------------------


class CaptureLike(Protocol):
    """What ``stream`` needs from a capture object (``cv2.VideoCapture`` satisfies it)."""

    def read(self) -> tuple[bool, Any]: ...

    def release(self) -> None: ...


@dataclass
class FrameSource:
    """An opened source: ``read() -> (ok, frame)`` plus what is known about it.

    Attributes:
        name: a human-readable description (the path, "camera 0", the URL, ...).
        live: True for cameras and network streams (reads may fail transiently and are retried).
        fps: frames per second reported by the source, or None.
        frame_count: number of frames when known (files, folders), else None.
    """

    name: str
    live: bool
    read: Callable[[], tuple[bool, np.ndarray | None]]
    release: Callable[[], None]
    fps: float | None = None
    frame_count: int | None = None


def _is_url(s: str) -> bool:
    return "://" in s


def _image_list_source(paths: Sequence[str], name: str) -> FrameSource:
    it = iter(paths)

    def read() -> tuple[bool, np.ndarray | None]:
        for p in it:
            img = cv2.imread(p, cv2.IMREAD_COLOR)
            if img is None:
                raise StreamError(f"cannot read image {p!r} (missing, corrupt or unsupported format)")
            return True, img
        return False, None

    return FrameSource(name=name, live=False, read=read, release=lambda: None, frame_count=len(paths))


def _array_source(frames: Iterable[np.ndarray], name: str) -> FrameSource:
    it = iter(frames)
    n = len(frames) if isinstance(frames, Sequence) else None

    def read() -> tuple[bool, np.ndarray | None]:
        for f in it:
            return True, np.asarray(f)
        return False, None

    return FrameSource(name=name, live=False, read=read, release=lambda: None, frame_count=n)


def _capture_source(cap: Any, name: str, live: bool) -> FrameSource:
    fps = frame_count = None
    if isinstance(cap, cv2.VideoCapture):
        f = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        fps = f if 0.0 < f < 1000.0 else None
        c = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        frame_count = c if c > 0 and not live else None
    return FrameSource(name=name, live=live, read=cap.read, release=cap.release, fps=fps, frame_count=frame_count)


def open_source(source: Any) -> FrameSource:
    """Open ``source`` and return a :class:`FrameSource`.

    Args:
        source: a video file path, an image file, an image folder (files with an image extension,
            sorted by name), a glob pattern (``"frames/*.png"``), an ``int`` camera index, a URL
            (``rtsp://``, ``http://``, ...), a sequence/iterable of images, an opened ``cv2.VideoCapture``
            or any object with ``read() -> (ok, frame)`` and ``release()``.

    Raises:
        FileNotFoundError: a path, folder or glob that names no file.
        StreamError: a file, camera or URL that cv2 cannot open.
        TypeError: an unsupported source type.
    """
    if isinstance(source, FrameSource):
        return source
    if isinstance(source, bool):
        raise TypeError("source must be a path, URL, camera index, images or a capture object, not a bool")
    if isinstance(source, (int, np.integer)):
        index = int(source)
        cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            cap.release()
            raise StreamError(f"cannot open camera {index} (no such device, busy, or no permission)")
        return _capture_source(cap, f"camera {index}", live=True)
    if hasattr(source, "read") and hasattr(source, "release"):
        live = True
        if isinstance(source, cv2.VideoCapture):
            if not source.isOpened():
                raise StreamError("the cv2.VideoCapture given as source is not opened")
            live = not source.get(cv2.CAP_PROP_FRAME_COUNT) > 0  # files know their length, cameras do not
        return _capture_source(source, type(source).__name__, live=live)
    if isinstance(source, (str, os.PathLike)):
        s = os.fspath(source)
        if _is_url(s):
            cap = cv2.VideoCapture(s)
            if not cap.isOpened():
                cap.release()
                raise StreamError(f"cannot open stream {s!r} (unreachable, or no FFmpeg/GStreamer support for it)")
            return _capture_source(cap, s, live=True)
        if any(ch in s for ch in "*?[") and not os.path.exists(s):
            paths = sorted(p for p in globmod.glob(s) if p.lower().endswith(IMAGE_EXTENSIONS))
            if not paths:
                raise FileNotFoundError(f"no image matches the pattern {s!r}")
            return _image_list_source(paths, s)
        p = Path(s)
        if p.is_dir():
            paths = sorted(str(q) for q in p.iterdir() if q.suffix.lower() in IMAGE_EXTENSIONS and q.is_file())
            if not paths:
                raise FileNotFoundError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in folder {s!r}")
            return _image_list_source(paths, s)
        if not p.exists():
            raise FileNotFoundError(f"no such video or image file: {s!r}")
        if p.suffix.lower() in IMAGE_EXTENSIONS:
            return _image_list_source([s], s)
        cap = cv2.VideoCapture(s)
        if not cap.isOpened():
            cap.release()
            raise StreamError(f"cannot open video file {s!r} (corrupt, empty or unsupported codec)")
        ok, first = cap.read()  # decode one frame now, so a file with no decodable frame fails here
        if not ok or first is None:
            cap.release()
            raise StreamError(f"cannot decode any frame of video file {s!r} (corrupt, empty or unsupported codec)")
        src = _capture_source(cap, s, live=False)
        pending = [first]

        def read_file() -> tuple[bool, np.ndarray | None]:
            if pending:
                return True, pending.pop()
            return cap.read()

        src.read = read_file
        return src
    if isinstance(source, Iterable):
        return _array_source(source, f"<{type(source).__name__} of images>")
    raise TypeError(f"unsupported source type {type(source).__name__}")


# --------------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------------


@dataclass
class StreamStats:
    """Counters and per-stage timings of a stream (thread-safe).

    Stages recorded by the stream itself: ``decode`` (time inside ``read()``, in the capture thread,
    overlapped with inference), ``decode_wait`` (time the consumer waited for a frame), and the detector's
    own ``Features.timings`` (``preprocess``, ``network``, ``postprocess``). Callers add their own stages
    (``tracking``, ``drawing``, ...) with ``with stats.measure("tracking"): ...`` or :meth:`record`.
    """

    frames_read: int = 0
    frames_yielded: int = 0
    frames_dropped: int = 0
    read_failures: int = 0
    end_reason: str | None = None
    stages: dict[str, list[float]] = field(default_factory=dict)
    started_at: float | None = None
    last_yield_at: float | None = None
    finished_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, stage: str, seconds: float) -> None:
        """Add one sample (seconds) to ``stage``."""
        with self._lock:
            self.stages.setdefault(stage, []).append(float(seconds))

    @contextlib.contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        """Context manager timing its body into ``stage``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.record(stage, time.perf_counter() - t0)

    def _add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    @property
    def wall_s(self) -> float:
        """Seconds from the first request for a frame to the end of the stream (its close), or to the last
        frame yielded while it runs."""
        end = self.finished_at if self.finished_at is not None else self.last_yield_at
        if self.started_at is None or end is None:
            return 0.0
        return end - self.started_at

    @property
    def fps(self) -> float:
        """Frames yielded per second of wall time (end to end, as seen by the consumer)."""
        w = self.wall_s
        return self.frames_yielded / w if w > 0 else 0.0

    def summary(self, consumer_stages: Sequence[str] | None = None) -> dict[str, Any]:
        """A JSON-ready dict: counters, FPS, and per stage ``n, mean_ms, p50_ms, p99_ms, total_s, share``.

        ``share`` is the stage's total over the sum of the consumer-side stages (every stage except
        ``decode``, which runs in the capture thread in parallel), so the shares of the consumer stages
        add up to 1 when they cover the whole loop.
        """
        with self._lock:
            stages = {k: np.asarray(v, np.float64) for k, v in self.stages.items()}
        names = list(consumer_stages) if consumer_stages is not None else [k for k in stages if k != "decode"]
        denom = sum(float(stages[k].sum()) for k in names if k in stages) or 1.0
        out: dict[str, Any] = {}
        for k, v in stages.items():
            if v.size == 0:
                continue
            out[k] = {
                "n": int(v.size),
                "mean_ms": float(v.mean() * 1e3),
                "p50_ms": float(np.percentile(v, 50) * 1e3),
                "p99_ms": float(np.percentile(v, 99) * 1e3),
                "total_s": float(v.sum()),
                "share": float(v.sum() / denom) if k in names else None,
            }
        return {
            "frames_read": self.frames_read,
            "frames_yielded": self.frames_yielded,
            "frames_dropped": self.frames_dropped,
            "read_failures": self.read_failures,
            "end_reason": self.end_reason,
            "wall_s": self.wall_s,
            "fps": self.fps,
            "stages": out,
        }


# --------------------------------------------------------------------------------------------------
# the capture thread
# --------------------------------------------------------------------------------------------------


@dataclass
class _Shared:
    """State shared by the reader object and its capture thread (never references the reader itself,
    so an abandoned reader can be garbage-collected while its thread runs)."""

    source: FrameSource
    live: bool
    queue: queue.Queue
    stats: StreamStats
    max_frames: int | None
    max_retries: int
    retry_delay: float
    on_size_change: str
    resize: tuple[int, int] | None
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    released: bool = False
    thread: threading.Thread | None = None


def _put(sh: _Shared, item: tuple[int, np.ndarray, float]) -> bool:
    """Queue one frame; False when asked to stop. Live mode replaces an unconsumed older frame."""
    if sh.live:
        while not sh.stop.is_set():
            try:
                sh.queue.put_nowait(item)
                return True
            except queue.Full:
                try:
                    sh.queue.get_nowait()
                    sh.stats._add("frames_dropped")
                except queue.Empty:
                    pass
        return False
    while not sh.stop.is_set():
        try:
            sh.queue.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _capture_loop(sh: _Shared) -> None:
    src, stats = sh.source, sh.stats
    index = 0
    failures = 0
    first_shape: tuple[int, ...] | None = None
    try:
        while not sh.stop.is_set():
            if sh.max_frames is not None and index >= sh.max_frames:
                stats.end_reason = "max_frames"
                return
            t0 = time.perf_counter()
            ok, frame = src.read()
            dt = time.perf_counter() - t0
            if not ok or frame is None:
                if not src.live:
                    if src.frame_count is not None and index < src.frame_count:
                        log.warning(
                            "%s: decoding stopped after %d of %d frames (truncated or corrupt file)",
                            src.name,
                            index,
                            src.frame_count,
                        )
                        stats.end_reason = "read_failed"
                    else:
                        stats.end_reason = "end_of_stream"
                    return
                failures += 1
                stats._add("read_failures")
                if failures > sh.max_retries:
                    log.warning("%s: read() failed %d times in a row, ending the stream", src.name, failures)
                    stats.end_reason = "disconnected"
                    return
                sh.stop.wait(sh.retry_delay)
                continue
            failures = 0
            stats.record("decode", dt)
            frame = np.asarray(frame)
            if sh.resize is not None and (frame.shape[1], frame.shape[0]) != sh.resize:
                frame = cv2.resize(frame, sh.resize, interpolation=cv2.INTER_AREA)
            if first_shape is None:
                if frame.ndim not in (2, 3) or frame.size == 0:
                    raise StreamError(f"{src.name}: frame {index} has unsupported shape {frame.shape}")
                first_shape = frame.shape
            elif frame.shape != first_shape:
                if sh.on_size_change == "resize":
                    if frame.ndim != len(first_shape):
                        frame = _match_channels(frame, first_shape)
                    frame = cv2.resize(frame, (first_shape[1], first_shape[0]), interpolation=cv2.INTER_AREA)
                    frame = frame.reshape(first_shape)
                elif sh.on_size_change == "error":
                    raise StreamError(
                        f"{src.name}: frame {index} has shape {frame.shape} but the stream started with "
                        f"{first_shape}; pass on_size_change='resize' (or 'allow') to accept size changes"
                    )
            stats._add("frames_read")
            if not _put(sh, (index, frame, t0 + dt)):
                return
            index += 1
    except BaseException as e:  # handed to the consumer, raised there
        sh.error = e
        stats.end_reason = "error"
    finally:
        if stats.end_reason is None:
            stats.end_reason = "closed"
        sh.done.set()


def _match_channels(frame: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if len(shape) == 2 and frame.ndim == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if len(shape) == 3 and frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    return frame


def _shutdown(sh: _Shared, join_timeout: float) -> None:
    """Stop and join the capture thread, then release the source. Idempotent."""
    sh.stop.set()
    t = sh.thread
    if t is not None and t.is_alive() and t is not threading.current_thread():
        deadline = time.monotonic() + join_timeout
        while t.is_alive() and time.monotonic() < deadline:
            # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                sh.queue.get_nowait()
            t.join(timeout=_POLL_S)
        if t.is_alive():
            log.warning(
                "%s: the capture thread is stuck in read() and could not be joined within %.1f s; it is a "
                "daemon thread and the source is left open",
                sh.source.name,
                join_timeout,
            )
            return
    if not sh.released:
        sh.released = True
        try:
            sh.source.release()
        except Exception as e:  # a failing release must not mask the real outcome
            log.warning("%s: release() failed: %s", sh.source.name, e)


# --------------------------------------------------------------------------------------------------
# public iterators
# --------------------------------------------------------------------------------------------------


class FrameReader:
    """Threaded frame reader: an iterator (and context manager) of ``(frame_index, frame)``.

    Args:
        source: see :func:`open_source`.
        mode: ``"file"`` (every frame, in order), ``"live"`` (newest frame only) or None (auto).
        queue_size: frames decoded ahead in file mode (live mode keeps one).
        max_frames: stop after this many frames read from the source.
        read_timeout: seconds the consumer waits for the next frame before it ends the stream with a
            warning (a source that hangs inside ``read()``).
        max_retries: consecutive failed ``read()`` calls tolerated on a live source before the stream ends.
        retry_delay: seconds between those retries.
        on_size_change: what to do with a frame whose shape differs from the first one:
            ``"error"`` (raise :class:`StreamError`), ``"resize"`` (resize to the first frame's size,
            converting gray/colour as needed) or ``"allow"`` (pass it through).
        resize: ``(width, height)`` every frame is resized to (INTER_AREA) before anything else, or None.
        join_timeout: seconds ``close()`` waits for the capture thread.

    Raises (at construction): see :func:`open_source`.
    """

    def __init__(
        self,
        source: Any,
        mode: str | None = None,
        queue_size: int = 4,
        max_frames: int | None = None,
        read_timeout: float = 10.0,
        max_retries: int = 5,
        retry_delay: float = 0.1,
        on_size_change: str = "error",
        resize: tuple[int, int] | None = None,
        join_timeout: float = 5.0,
    ) -> None:
        if mode not in (None, "file", "live"):
            raise ValueError(f"mode must be 'file', 'live' or None, got {mode!r}")
        if on_size_change not in ("error", "resize", "allow"):
            raise ValueError(f"on_size_change must be 'error', 'resize' or 'allow', got {on_size_change!r}")
        if int(queue_size) < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if max_frames is not None and int(max_frames) < 0:
            raise ValueError(f"max_frames must be >= 0, got {max_frames}")
        if read_timeout <= 0:
            raise ValueError(f"read_timeout must be > 0, got {read_timeout}")
        if resize is not None:
            if len(resize) != 2 or min(int(resize[0]), int(resize[1])) < 1:
                raise ValueError(f"resize must be (width, height) with positive sizes, got {resize}")
            resize = (int(resize[0]), int(resize[1]))
        src = open_source(source)
        live = src.live if mode is None else mode == "live"
        self.mode = "live" if live else "file"
        self.source = src
        self.stats = StreamStats()
        self.read_timeout = float(read_timeout)
        self._sh = _Shared(
            source=src,
            live=live,
            queue=queue.Queue(maxsize=1 if live else int(queue_size)),
            stats=self.stats,
            max_frames=None if max_frames is None else int(max_frames),
            max_retries=int(max_retries),
            retry_delay=float(retry_delay),
            on_size_change=on_size_change,
            resize=resize,
        )
        self._finalizer = weakref.finalize(self, _shutdown, self._sh, float(join_timeout))
        self._started = False
        self._finished = False
        #: ``time.perf_counter()`` when the last frame returned had been read from the source
        self.last_capture_time: float | None = None

    # lifecycle ------------------------------------------------------------------------------------
    def start(self) -> FrameReader:
        """Start the capture thread (done by the first ``next()``; idempotent)."""
        if not self._started and not self._finished:
            self._started = True
            t = threading.Thread(
                target=_capture_loop, args=(self._sh,), name=f"superpoint_rt-capture-{next(_THREAD_IDS)}", daemon=True
            )
            self._sh.thread = t
            t.start()
        return self

    def close(self) -> None:
        """Stop and join the capture thread and release the source. Idempotent."""
        self._finished = True
        if self.stats.started_at is not None and self.stats.finished_at is None:
            self.stats.finished_at = time.perf_counter()
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> FrameReader:
        return self

    # frames ---------------------------------------------------------------------------------------
    def __next__(self) -> tuple[int, np.ndarray]:
        if self._finished:
            raise StopIteration
        self.start()
        sh, stats = self._sh, self.stats
        if stats.started_at is None:
            stats.started_at = time.perf_counter()
        t0 = time.perf_counter()
        while True:
            try:
                item = sh.queue.get(timeout=_POLL_S)
                break
            except queue.Empty:
                pass
            if sh.done.is_set() and sh.queue.empty():
                self.close()
                if sh.error is not None:
                    raise sh.error
                raise StopIteration
            if time.perf_counter() - t0 > self.read_timeout:
                log.warning("%s: no frame for %.1f s, ending the stream", sh.source.name, self.read_timeout)
                stats.end_reason = "timeout"
                self.close()
                raise StopIteration
        stats.record("decode_wait", time.perf_counter() - t0)
        index, frame, self.last_capture_time = item
        return index, frame

    def _mark_yield(self) -> None:
        self.stats._add("frames_yielded")
        self.stats.last_yield_at = time.perf_counter()


class Stream:
    """Iterator (and context manager) of ``(frame_index, frame, Features)``; see :func:`stream`.

    Attributes:
        reader: the underlying :class:`FrameReader` (``reader.source.fps``, ``reader.source.frame_count``).
        stats: a :class:`StreamStats` with counters and per-stage timings.
    """

    def __init__(self, detector: Callable[..., Any], source: Any, **kwargs: Any) -> None:
        if not callable(detector):
            raise TypeError(f"detector must be callable (a SuperPoint), got {type(detector).__name__}")
        self.detector = detector
        self.reader = FrameReader(source, **kwargs)
        self.stats = self.reader.stats
        self.mode = self.reader.mode

    @property
    def last_capture_time(self) -> float | None:
        """``time.perf_counter()`` when the frame last yielded had been read from the source: ``now -
        last_capture_time`` is the frame's age (latency from capture to here)."""
        return self.reader.last_capture_time

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> tuple[int, np.ndarray, Features]:
        index, frame = next(self.reader)
        try:
            feats = self.detector(frame)
        except BaseException:
            self.close()
            raise
        if not isinstance(feats, Features):
            self.close()
            raise TypeError(f"the detector returned {type(feats).__name__}, expected Features")
        for k, v in feats.timings.items():
            self.stats.record(k, v)
        self.reader._mark_yield()
        return index, frame, feats

    def close(self) -> None:
        """Stop and join the capture thread and release the source. Idempotent."""
        self.reader.close()

    @property
    def closed(self) -> bool:
        return self.reader.closed

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stream(detector: Callable[..., Any], source: Any, **kwargs: Any) -> Stream:
    """Detect features on every frame of ``source``: yields ``(frame_index, frame, Features)``.

    Args:
        detector: a ``SuperPoint`` (any callable ``image -> Features``); called in the iterating thread.
        source: a video path, camera index, URL, image folder, glob, list of images or capture object
            (see :func:`open_source`).
        **kwargs: ``mode``, ``queue_size``, ``max_frames``, ``read_timeout``, ``max_retries``,
            ``retry_delay``, ``on_size_change``, ``resize``, ``join_timeout`` (see :class:`FrameReader`).

    Raises:
        FileNotFoundError, StreamError, TypeError: at the call, when the source cannot be opened;
        StreamError during iteration for an unreadable image or a frame of unexpected size.

    Example::

        with stream(sp, "video.mp4") as s:
            for index, frame, feats in s:
                ...
        print(s.stats.summary())
    """
    return Stream(detector, source, **kwargs)
