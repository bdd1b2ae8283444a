"""``superpoint-rt bench``: the command line of the benchmark.

``register(subparsers)`` adds the subcommand to ``superpoint-rt``; ``main(argv)`` runs it stand-alone (the
``bench/bench_cpu.py`` script of a checkout calls it with that checkout's folders as defaults). Output goes to
``--out``, by default ``bench_results/`` under the current directory.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from .report import print_summary, write_results
from .run import ALL_BATCHES, ALL_RESOLUTIONS, BenchConfig, run_benchmark

#: where results go unless ``--out`` says otherwise: relative to the current directory
DEFAULT_OUT = "bench_results"
#: what ``--images`` defaults to when no paths are given
BUNDLED_IMAGES_NOTE = "the package's bundled benchmark photos, superpoint_rt/data/benchmark/v_*/1.jpg"


def _parse_resolutions(text: str) -> tuple[tuple[int, int], ...]:
    out = []
    for part in text.split(","):
        try:
            h, w = (int(v) for v in part.lower().split("x"))
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"resolution must be HxW (e.g. 480x640), got {part!r}") from e
        out.append((h, w))
    return tuple(out)


def _parse_engines(text: str) -> tuple[tuple[str, str | None], ...]:
    out: list[tuple[str, str | None]] = []
    for part in text.split(","):
        part = part.strip()
        if part in ("default", "auto"):
            out.append(("auto", None))
        elif ":" in part:
            b, p = part.split(":", 1)
            out.append((b, p or None))
        else:
            out.append((part, None))
    return tuple(out)


def add_arguments(
    p: argparse.ArgumentParser,
    *,
    out: str | os.PathLike[str] = DEFAULT_OUT,
    images: Sequence[str] | None = None,
    images_note: str = BUNDLED_IMAGES_NOTE,
) -> None:
    """The bench options. ``out``, ``images`` (and ``images_note``, how the help names them): the defaults of
    ``--out`` and ``--images``."""
    p.add_argument(
        "--weights", default=None, help="weights (default: the package's; 'random' for seeded random weights)"
    )
    p.add_argument("--quick", action="store_true", help="480x640, batch 1, 20 iterations (also the default)")
    p.add_argument("--full", action="store_true", help="every resolution (240x320, 480x640, 720x1280) x batch (1, 8)")
    p.add_argument("--resolutions", type=_parse_resolutions, default=None, help="HxW[,HxW...] (default 480x640)")
    p.add_argument("--batches", default=None, help="B[,B...] (default 1)")
    p.add_argument("--iters", type=int, default=20, help="timed iterations per configuration (default 20)")
    p.add_argument("--warmup", type=int, default=2, help="untimed iterations first (engine compilation) (default 2)")
    p.add_argument(
        "--engines",
        type=_parse_engines,
        default=None,
        help="ours, comma separated backend:precision or 'default' (default: "
        "default,openvino:int8,openvino:bf16,openvino:fp32,onnxruntime:fp32; those this CPU lacks are skipped)",
    )
    p.add_argument(
        "--isolation",
        choices=("process", "none"),
        default="process",
        help="process (default): each pipeline in a process of its own, rounds interleaved; none: all in this one",
    )
    p.add_argument(
        "--peak-seconds",
        type=float,
        default=1.0,
        help="seconds per GEMM probe of the machine's peak (0: no probe, no efficiency) (default 1)",
    )
    p.add_argument("--no-reference", action="store_true", help="skip the reference-style pipeline")
    p.add_argument("--no-agreement", action="store_true", help="skip the BF16/INT8 vs FP32 keypoint agreement")
    p.add_argument(
        "--images",
        nargs="+",
        default=list(images) if images else None,
        help=f"image files or folders (default: {images_note})",
    )
    p.add_argument("--conf-threshold", type=float, default=None, help="fixed threshold (default: see --target)")
    p.add_argument("--target", type=int, default=1500, help="random weights: pixels passing the per-image threshold")
    p.add_argument(
        "--threads", type=int, default=None, help="CPU threads of every pipeline, the reference's too (default: all)"
    )
    p.add_argument("--out", default=str(out), help="output folder, created if needed (default: %(default)s)")
    p.add_argument("--name", default=None, help="file stem (default cpu_quick / cpu_full / cpu_custom)")
    p.add_argument("--no-chart", action="store_true", help="JSON only")


def config_from_args(args: argparse.Namespace) -> tuple[BenchConfig, str]:
    """BenchConfig and the output file stem from parsed options."""
    resolutions = args.resolutions or (ALL_RESOLUTIONS if args.full else ((480, 640),))
    if args.batches:
        try:
            batches = tuple(int(b) for b in str(args.batches).split(","))
        except ValueError as e:
            raise ValueError(f"--batches must be integers like 1,8, got {args.batches!r}") from e
    else:
        batches = ALL_BATCHES if args.full else (1,)
    custom = args.resolutions is not None or args.batches is not None
    name = args.name or ("cpu_custom" if custom else "cpu_full" if args.full else "cpu_quick")
    cfg = BenchConfig(
        weights=args.weights,
        resolutions=resolutions,
        batches=batches,
        iterations=args.iters,
        warmup=args.warmup,
        engines=args.engines or BenchConfig().engines,
        reference=not args.no_reference,
        images=tuple(args.images or ()),
        conf_threshold=args.conf_threshold,
        target_candidates=args.target,
        num_threads=args.threads,
        agreement=not args.no_agreement,
        isolation=args.isolation,
        peak_seconds=args.peak_seconds,
    )
    return cfg, name


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark from parsed options, write its files, print the summary."""
    cfg, name = config_from_args(args)
    if hasattr(os, "nice") and os.nice(0) > 0:
        print(f"warning: running at niceness {os.nice(0)}; timings are affected", file=sys.stderr)
    result = run_benchmark(cfg)
    paths = write_results(result, args.out, name, chart=not args.no_chart)
    print_summary(result)
    for p in paths:
        print(f"wrote {p}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``superpoint-rt bench``."""
    p = subparsers.add_parser("bench", help="benchmark: per-stage latency/FPS vs a reference-style pipeline")
    add_arguments(p)
    p.set_defaults(func=cmd_bench)


def main(
    argv: list[str] | None = None,
    *,
    prog: str = "superpoint-rt bench",
    out: str | os.PathLike[str] = DEFAULT_OUT,
    images: Sequence[str] | None = None,
    images_note: str = BUNDLED_IMAGES_NOTE,
) -> int:
    """Stand-alone entry point; ``out``, ``images``, ``images_note``: as :func:`add_arguments`."""
    from . import __doc__ as package_doc

    parser = argparse.ArgumentParser(prog=prog, description=package_doc.split("\n\n")[0] if package_doc else None)
    add_arguments(parser, out=out, images=images, images_note=images_note)
    return cmd_bench(parser.parse_args(argv))
