"""Command line of the training pipeline.

``superpoint-rt train <command>`` (via :func:`register`) or ``python -m superpoint_rt.train <command>``:

    magicpoint --config configs/magicpoint.yaml --run-dir DIR [--resume] [--max-steps N] [--time-limit MIN]
    adapt      --weights W --images DIR --out DIR [--num-homographies 100] [--size 240 320] ...
    superpoint --config configs/superpoint.yaml --run-dir DIR [--resume] [--max-steps N] [--time-limit MIN]
    export     --run-dir DIR [--checkpoint PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _add_train_args(p: argparse.ArgumentParser, default_config: str) -> None:
    p.add_argument("--config", default=default_config, help=f"YAML stage config (default {default_config})")
    p.add_argument("--run-dir", required=True, help="output directory (checkpoints, logs, export)")
    p.add_argument("--resume", action="store_true", help="continue from <run-dir>/checkpoints/last.pt")
    p.add_argument("--max-steps", type=int, default=None, help="override the config's max_steps")
    p.add_argument("--time-limit", type=float, default=None, metavar="MIN", help="stop cleanly after MIN minutes")
    p.add_argument("--init-weights", default=None, help="override the config's init_weights")
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16", "fp16"),
        default=None,
        help="override the config's precision; auto: bf16 where the CPU has native BF16 (AMX / AVX512-BF16), else "
        "fp32 (BF16 autocast is emulated and slower without it); fp16 on CUDA only",
    )
    p.add_argument(
        "--memory-format",
        choices=("auto", "channels-last", "contiguous"),
        default=None,
        help="override the config's channels_last; auto: NHWC on CUDA, on the CPU the faster layout timed at start",
    )
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")


def _run_train(args: argparse.Namespace, stage: str) -> int:
    from superpoint_rt.train.config import load_config
    from superpoint_rt.train.trainer import Trainer

    cfg = load_config(args.config)
    if cfg.stage != stage:
        raise SystemExit(f"{args.config} is a {cfg.stage!r} config, not {stage!r}")
    if args.init_weights:
        cfg.init_weights = args.init_weights
    if args.precision == "auto":
        from superpoint_rt.backends import cpu_supports_bf16

        cfg.precision = "bf16" if cpu_supports_bf16() else "fp32"
    elif args.precision:
        cfg.precision = args.precision
    if args.memory_format:
        layouts: dict[str, bool | str] = {"auto": "auto", "channels-last": True, "contiguous": False}
        cfg.channels_last = layouts[args.memory_format]
    trainer = Trainer(cfg, args.run_dir, args.resume, args.max_steps, args.time_limit, not args.no_progress)
    trainer.install_stop_handlers()  # `kill -TERM <pid>`: checkpoint + export, then exit
    trainer.run()
    return 0


def _cmd_magicpoint(args: argparse.Namespace) -> int:
    return _run_train(args, "magicpoint")


def _cmd_superpoint(args: argparse.Namespace) -> int:
    return _run_train(args, "superpoint")


def _cmd_export(args: argparse.Namespace) -> int:
    from superpoint_rt.train.checkpoint import export_weights, load_checkpoint

    run = Path(args.run_dir)
    ckpt = Path(args.checkpoint) if args.checkpoint else run / "checkpoints" / "last.pt"
    state = load_checkpoint(ckpt)
    out = Path(args.out) if args.out else run / "export" / "weights.pth"
    meta: dict[str, Any] = {"stage": state.get("stage"), "step": state.get("step"), "config": state.get("config")}
    export_weights(state["model"], out, meta)
    print(f"exported step {state.get('step')} of {ckpt} -> {out}")
    return 0


def _cmd_adapt(args: argparse.Namespace) -> int:
    from superpoint_rt.train.adaptation import run_adaptation_cli

    return run_adaptation_cli(args)


def _add_commands(sub: Any) -> None:
    p = sub.add_parser("magicpoint", help="train MagicPoint on Synthetic Shapes")
    _add_train_args(p, "configs/magicpoint.yaml")
    p.set_defaults(func=_cmd_magicpoint)

    p = sub.add_parser("superpoint", help="train SuperPoint on image pairs with pseudo ground truth")
    _add_train_args(p, "configs/superpoint.yaml")
    p.set_defaults(func=_cmd_superpoint)

    p = sub.add_parser("adapt", help="Homographic Adaptation: pseudo ground-truth points for a folder of images")
    p.add_argument(
        "--weights", required=True, help="a packaged name (superpoint-rt), .npz, trainer checkpoint or weights.pth"
    )
    p.add_argument("--images", required=True, help="folder of images (searched recursively)")
    p.add_argument("--out", required=True, help="output folder of .npz shards")
    p.add_argument("--num-homographies", type=int, default=100)
    p.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"))
    p.add_argument("--batch-size", type=int, default=25, help="warps per network call")
    p.add_argument("--threshold", type=float, default=0.015)
    p.add_argument("--nms-radius", type=int, default=4)
    p.add_argument("--top-k", type=int, default=600)
    p.add_argument("--border", type=int, default=4)
    p.add_argument("--shard-size", type=int, default=100, help="images per .npz shard")
    p.add_argument("--max-images", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16", "int8"),
        default="bf16",
        help="int8: OpenVINO with the IR shipped beside packaged weights or --int8-model (2-3x FP32 on AVX2 CPUs)",
    )
    p.add_argument("--int8-model", default=None, help="INT8 OpenVINO IR of these weights (superpoint-rt quantize)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument(
        "--engine",
        choices=("torch", "openvino", "onnxruntime"),
        default="openvino",
        help="what runs the warps: openvino (default, BF16 where the CPU has it), onnxruntime, torch",
    )
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_adapt)

    p = sub.add_parser("export", help="fold batch norm of a checkpoint -> <run-dir>/export/weights.pth")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--checkpoint", default=None, help="default <run-dir>/checkpoints/last.pt")
    p.add_argument("--out", default=None, help="default <run-dir>/export/weights.pth")
    p.set_defaults(func=_cmd_export)


def register(subparsers: Any) -> None:
    """Add ``train`` (with magicpoint / adapt / superpoint / export) to a top-level argparse subparsers."""
    p = subparsers.add_parser("train", help="self-supervised training (MagicPoint, adaptation, SuperPoint)")
    sub = p.add_subparsers(dest="train_command", required=True)
    _add_commands(sub)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m superpoint_rt.train", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="train_command", required=True)
    _add_commands(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))
