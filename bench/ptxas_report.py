#!/usr/bin/env python
"""Registers, spills, stack and shared memory of every CUDA kernel, per architecture, from ``ptxas -v``.

The stand-in for profiling until a GPU run exists: compiles each ``csrc/*/*.cu`` with the build's flags for
sm_80/86/89/90 and parses ptxas' report. Kernels of our own code only (CUB's sort kernels are summarised as one
line each: the largest register count among them).

    python bench/ptxas_report.py [--nvcc /usr/local/cuda/bin/nvcc] [--json bench/results/ptxas_usage.json]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCHS = ("80", "86", "89", "90")
FUNC = re.compile(r"Compiling entry function '([^']+)' for 'sm_(\d+)'")
STACK = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
USED = re.compile(
    r"Used (\d+) registers(?:, used (\d+) barriers)?(?:, (\d+) bytes cumulative stack size)?(?:, (\d+) bytes smem)?"
)
SMEM = re.compile(r"(\d+) bytes smem")


def demangle(names: list[str]) -> list[str]:
    cxxfilt = shutil.which("c++filt")
    if not cxxfilt:
        return names
    out = subprocess.run([cxxfilt], input="\n".join(names), capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def short_name(demangled: str) -> str:
    """'void sp::(anonymous namespace)::nms_sweep_kernel(...)' -> 'nms_sweep_kernel', templates kept short."""
    name = demangled.replace("(anonymous namespace)::", "").split("(")[0]
    name = name.replace("void ", "").replace("sp::", "")
    return name.replace("unsigned short", "f16").replace("<float>", "<f32>")


def parse(text: str) -> list[dict]:
    rows: list[dict] = []
    cur: dict | None = None
    for line in text.splitlines():
        m = FUNC.search(line)
        if m:
            cur = {"mangled": m.group(1), "arch": f"sm_{m.group(2)}"}
            rows.append(cur)
            continue
        if cur is None:
            continue
        m = STACK.search(line)
        if m:
            cur.update(stack_bytes=int(m.group(1)), spill_stores=int(m.group(2)), spill_loads=int(m.group(3)))
        m = USED.search(line)
        if m:
            cur["registers"] = int(m.group(1))
            sm = SMEM.search(line)
            cur["smem_bytes"] = int(sm.group(1)) if sm else 0
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nvcc", default=shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc")
    p.add_argument("--json", default=str(ROOT / "bench" / "results" / "ptxas_usage.json"))
    args = p.parse_args(argv)
    if not Path(args.nvcc).exists():
        print(f"nvcc not found at {args.nvcc}", file=sys.stderr)
        return 2
    version = subprocess.run([args.nvcc, "--version"], capture_output=True, text=True).stdout.strip().splitlines()[-1]
    rows: list[dict] = []
    gencode = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in ARCHS]
    with tempfile.TemporaryDirectory() as tmp:
        for cu in sorted((ROOT / "csrc").glob("*/*.cu")):
            cmd = [
                args.nvcc,
                "-std=c++17",
                "-O3",
                "--expt-relaxed-constexpr",
                f"-I{ROOT / 'csrc'}",
                *gencode,
                "-Xptxas",
                "-v",
                "-c",
                str(cu),
                "-o",
                str(Path(tmp) / (cu.stem + ".o")),
            ]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                print(res.stderr, file=sys.stderr)
                return res.returncode
            for r in parse(res.stderr):
                r["source"] = str(cu.relative_to(ROOT))
                rows.append(r)
    for r, d in zip(rows, demangle([r["mangled"] for r in rows])):
        r["kernel"] = short_name(d)
        r["cub"] = "cub::" in d or "CUB_" in d
    ours = [r for r in rows if not r["cub"]]
    cub: dict[str, dict] = {}
    for r in rows:
        if r["cub"]:
            c = cub.setdefault(r["arch"], {"arch": r["arch"], "kernels": 0, "max_registers": 0, "spills": 0})
            c["kernels"] += 1
            c["max_registers"] = max(c["max_registers"], r.get("registers", 0))
            c["spills"] += r.get("spill_stores", 0) + r.get("spill_loads", 0)
    print(f"# ptxas -v ({version})\n")
    print("| kernel | source | arch | registers | stack B | spill st/ld B | smem B |")
    print("|---|---|---|---:|---:|---:|---:|")
    for r in sorted(ours, key=lambda r: (r["source"], r["kernel"], r["arch"])):
        print(
            f"| {r['kernel']} | {r['source']} | {r['arch']} | {r.get('registers', '?')} | {r.get('stack_bytes', 0)} "
            f"| {r.get('spill_stores', 0)}/{r.get('spill_loads', 0)} | {r.get('smem_bytes', 0)} |"
        )
    for c in cub.values():
        print(
            f"| CUB radix sort ({c['kernels']} kernels) | detect/detect.cu | {c['arch']} "
            f"| <= {c['max_registers']} | | {c['spills']} | |"
        )
    out = {
        "nvcc": version,
        "kernels": [{k: v for k, v in r.items() if k != "mangled"} for r in ours],
        "cub": list(cub.values()),
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
