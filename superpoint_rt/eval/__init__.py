"""Evaluation with the SuperPoint paper's metrics on HPatches-format data.

    from superpoint_rt.eval import evaluate, OpenCVMethod, markdown_table
    result = evaluate("path/to/hpatches", OpenCVMethod("orb"))
    print(markdown_table([result]))

Modules: ``hpatches`` (reader/writer), ``metrics``, ``methods`` (protocol, OpenCV baselines, SuperPoint
adapter), ``runner`` (evaluate, tables, JSON), ``plots``, ``generate`` (benchmark from photos),
``photos`` (offline photo sources and the train / held-out split), ``compare`` (precision guard),
``cli`` (the ``eval`` subcommand).
"""

from superpoint_rt.eval.hpatches import Sequence, list_sequences, load_sequence
from superpoint_rt.eval.methods import Method, OpenCVMethod, get_method, superpoint_method
from superpoint_rt.eval.runner import BUNDLED_BENCHMARK, EvalConfig, EvalResult, evaluate, markdown_table, write_json

__all__ = [
    "BUNDLED_BENCHMARK",
    "EvalConfig",
    "EvalResult",
    "Method",
    "OpenCVMethod",
    "Sequence",
    "evaluate",
    "get_method",
    "list_sequences",
    "load_sequence",
    "markdown_table",
    "superpoint_method",
    "write_json",
]
