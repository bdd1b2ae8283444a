"""The command-line tests' runner: ``run(argv, capsys) -> (exit code, stdout, stderr)`` of ``superpoint-rt argv``."""

from __future__ import annotations

import warnings
from typing import Any

from superpoint_rt.apps.cli import main


def run(argv: list[str], capsys: Any) -> tuple[int, str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights warn
        rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err
