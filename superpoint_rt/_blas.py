"""Run small NumPy matrix products on one BLAS thread.

NumPy's OpenBLAS multi-threads even small products and its idle threads then spin for a while; in a
streaming loop they fight the inference engine's own threads for the cores. Measured on 2 vCPUs
(`bench/bench_stream.py`): the network took ~2x longer inside the tracking loop, and the stream ran at 0.45x
the engine's FPS instead of 0.94x. The tracker's similarity matrices (a few hundred x a few hundred x 256)
gain nothing from more threads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

_controller: Any = None


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit the BLAS libraries loaded so far (NumPy's OpenBLAS/MKL) to one thread inside the block.

    A no-op when ``threadpoolctl`` is missing.
    """
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            _controller = False
        else:
            _controller = ThreadpoolController()
    if _controller is False:
        yield
        return
    with _controller.limit(limits=1, user_api="blas"):
        yield
