"""What a measurement ran on: the CPU and its fast-path flags, package versions, and the machine's load.

Benchmarks, evaluation scripts and probes record these next to their numbers, so that a result can be read (and
distrusted) later: a timing taken on a shared host, or on a CPU without native BF16, says so in its JSON.
"""

from __future__ import annotations

import os
import platform
from typing import Any

__all__ = ["cpu_description", "machine_load", "versions"]


def cpu_description() -> dict[str, Any]:
    """CPU model string, family/model numbers and the flags that decide the fast paths (AVX2, FMA, AVX-512, VNNI,
    AVX512-BF16, AMX), plus what ``backend="auto"`` runs on it (:mod:`superpoint_rt.backends.auto`)."""
    from .backends.auto import cpu_flags, cpu_id, cpu_model, cpuinfo

    flags = cpu_flags()
    ids = cpuinfo()
    out: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_family": ids.get("cpu family"),
        "cpu_model": ids.get("model"),
        "cpu_id": cpu_id(),
        "cpu_mhz": ids.get("cpu MHz"),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "avx2": "avx2" in flags,
        "fma": "fma" in flags,
        "avx512f": "avx512f" in flags,
        "avx_vnni": "avx_vnni" in flags,
        "amx": bool(flags & {"amx_tile", "amx_bf16", "amx_int8"}),
        "avx512_bf16": "avx512_bf16" in flags,
        "avx512_vnni": "avx512_vnni" in flags,
        "hypervisor": "hypervisor" in flags,
    }
    try:
        import openvino as ov

        out["openvino_cpu_name"] = ov.Core().get_property("CPU", "FULL_DEVICE_NAME")
        out["openvino_capabilities"] = list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    except Exception:
        pass
    try:
        from .backends import cpu_supports_bf16

        out["native_bf16"] = cpu_supports_bf16()
    except Exception:
        out["native_bf16"] = False
    try:
        from .backends import auto_choice
        from .weights import load_weights

        out["auto_default"] = auto_choice(load_weights(None)).as_dict()
    except Exception as e:
        out["auto_default"] = f"none ({type(e).__name__})"
    return out


def versions() -> dict[str, str | None]:
    """Versions of Python and of the packages that run the benchmark (None when not installed)."""
    from . import __version__

    out: dict[str, str | None] = {"python": platform.python_version(), "superpoint_rt": __version__}
    for name in ("numpy", "torch", "openvino", "onnxruntime", "cv2"):
        try:
            mod = __import__(name)
            out["opencv" if name == "cv2" else name] = str(getattr(mod, "__version__", "unknown"))
        except ImportError:
            out["opencv" if name == "cv2" else name] = None
    return out


def machine_load() -> dict[str, Any]:
    """Load averages (1, 5, 15 min), CPU count, this process's niceness and autogroup, the busiest other processes."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "loadavg": load,
        "cpu_count": os.cpu_count(),
        "nice": os.nice(0) if hasattr(os, "nice") else None,
        "autogroup": _autogroup(),
        "busiest_processes": _busiest_processes(),
    }


def _autogroup() -> str | None:
    """This process's scheduler autogroup and its nice value (Linux, ``/proc/self/autogroup``): with autogroups on,
    the CPU is shared between sessions first, so a process's own niceness does not rank it against other sessions."""
    try:
        with open("/proc/self/autogroup", encoding="utf-8") as f:
            return f.read().strip() or None
    except OSError:
        return None


def _busiest_processes(n: int = 3) -> list[str]:
    """``ps`` lines (pid, nice, %cpu over the process lifetime, command) of the busiest other processes."""
    import shutil
    import subprocess

    ps = shutil.which("ps")
    if ps is None:
        return []
    try:
        out = subprocess.run(
            [ps, "-eo", "pid,ni,pcpu,args", "--sort=-pcpu"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    me = os.getpid()
    rows = []
    for line in out.splitlines()[1:]:
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[0].isdigit() and int(parts[0]) != me:
            rows.append(" ".join(parts)[:120])
        if len(rows) == n:
            break
    return rows
