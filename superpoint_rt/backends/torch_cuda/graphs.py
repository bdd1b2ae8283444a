"""Per-shape cache of captured CUDA graphs (pure Python: the capture itself is a callable given by the engine).

A CUDA graph replays a fixed sequence of kernels on fixed buffers, so one graph is captured per input shape
(batch, height, width) and kept; the least recently used is released beyond ``max_graphs``. Capture failures are
remembered per shape so that a shape that cannot be captured falls back to eager execution once, not every frame.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class GraphCacheStats:
    captures: int = 0
    hits: int = 0
    evictions: int = 0
    failures: dict[Hashable, str] = field(default_factory=dict)


class GraphCache(Generic[T]):
    """LRU map shape -> captured graph entry.

    Args:
        capture: ``capture(shape) -> entry``; may raise, then the shape is marked as not capturable.
        max_graphs: entries kept (each holds its own static buffers; a 720x1280 batch-8 FP16 graph holds ~0.5 GB).
        release: called with an evicted entry (free its memory).
    """

    def __init__(
        self,
        capture: Callable[[Hashable], T],
        max_graphs: int = 8,
        release: Callable[[T], Any] | None = None,
    ) -> None:
        if int(max_graphs) != max_graphs or max_graphs < 1:
            raise ValueError(f"max_graphs must be an integer >= 1, got {max_graphs}")
        self._capture = capture
        self._release = release
        self.max_graphs = int(max_graphs)
        self._entries: OrderedDict[Hashable, T] = OrderedDict()
        self.stats = GraphCacheStats()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, shape: Hashable) -> bool:
        return shape in self._entries

    def shapes(self) -> list[Hashable]:
        """Cached shapes, least recently used first."""
        return list(self._entries)

    def get(self, shape: Hashable) -> T | None:
        """The entry for ``shape`` (captured on first use), or None when it cannot be captured (run eagerly)."""
        if shape in self._entries:
            self._entries.move_to_end(shape)
            self.stats.hits += 1
            return self._entries[shape]
        if shape in self.stats.failures:
            return None
        try:
            entry = self._capture(shape)
        except Exception as e:  # capture is an optimisation: remember and fall back to eager
            self.stats.failures[shape] = f"{type(e).__name__}: {e}"
            return None
        self.stats.captures += 1
        self._entries[shape] = entry
        while len(self._entries) > self.max_graphs:
            _old_shape, old = self._entries.popitem(last=False)
            self.stats.evictions += 1
            if self._release is not None:
                self._release(old)
        return entry

    def clear(self) -> None:
        while self._entries:
            _shape, entry = self._entries.popitem(last=False)
            if self._release is not None:
                self._release(entry)
