"""``superpoint-rt export --tensorrt``: the argparse glue around :func:`superpoint_rt.backends.tensorrt.build_engine`.

The backend knows nothing of argparse; this module reads the command's options and prints what was built.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..weights import Weights


def build_engine_cli(weights: Weights, args: argparse.Namespace) -> Path:
    """Build (or find cached) the TensorRT engine for the command's profile; prints a line about it, returns the plan.

    Reads ``args.min_shape``, ``args.opt_shape``, ``args.max_shape`` (BxHxW), and when present ``args.precision``
    (default fp16), ``args.device`` (default cuda), ``args.engine_cache`` (default the engine cache folder).
    """
    from ..backends.tensorrt import build_engine, describe_plan

    plan = build_engine(
        weights,
        precision=getattr(args, "precision", None) or "fp16",
        min_shape=args.min_shape,
        opt_shape=args.opt_shape,
        max_shape=args.max_shape,
        cache_dir=getattr(args, "engine_cache", None),
        device=getattr(args, "device", None) or "cuda",
    )
    print(describe_plan(plan))
    return plan
