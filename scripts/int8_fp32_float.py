#!/usr/bin/env python
"""Run a ``superpoint-rt`` command with OpenVINO INT8's float parts in FP32, as a CPU without BF16 runs them.

On a CPU with BF16 (AMX, AVX512-BF16) the OpenVINO engine runs an INT8 IR's float parts (the detector head kept in
float, the descriptor normalisation) in BF16; on the AVX2 machines, where INT8 is the default call, they run in FP32.
This measures that default call on a BF16 machine:

    python scripts/int8_fp32_float.py eval DATA --method superpoint --backend openvino --precision int8 \\
        --threads 1 --homography-trials 10 --json OUT.json

The results' ``environment`` still names the machine (and its BF16 flags): say "float parts FP32" in ``--name``;
``SuperPoint.info()`` of a run made this way reports ``inference_precision: f32``.
"""

from __future__ import annotations

import sys


def force_fp32_float_parts() -> None:
    """Make the OpenVINO engine believe the CPU has no BF16 (its INT8 float parts then run in FP32)."""
    import superpoint_rt.backends.openvino_engine as ov_engine

    ov_engine.cpu_supports_bf16 = lambda: False


def main(argv: list[str] | None = None) -> int:
    force_fp32_float_parts()
    from superpoint_rt.apps.cli import main as cli_main

    return cli_main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
