"""Compatibility shim: the benchmark moved to :mod:`superpoint_rt.apps.bench` (its command line to
:mod:`superpoint_rt.apps.bench.cli`) and the machine description to :mod:`superpoint_rt.sysinfo`.

This module goes away once ``superpoint_rt.cli.SUBCOMMAND_MODULES`` names ``superpoint_rt.apps.bench.cli``; import
from the new modules.
"""

from __future__ import annotations

from .apps.bench.cli import main, register
from .apps.bench.timing import timing_stats
from .sysinfo import cpu_description, machine_load, versions

__all__ = ["cpu_description", "machine_load", "main", "register", "timing_stats", "versions"]
