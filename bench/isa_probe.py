#!/usr/bin/env python
"""Per-cycle arithmetic of this CPU core: AVX2 FP32 FMA against AVX2 INT8 (no VNNI), in instructions per second.

Why INT8 gains little over FP32 on some AVX2-only CPUs: without VNNI, an INT8 multiply-accumulate of 32 u8 x s8 pairs
into 32-bit sums takes three instructions (``vpmaddubsw`` u8 x s8 -> s16 pairs, ``vpmaddwd`` with ones -> s32,
``vpaddd``), as oneDNN's AVX2 INT8 kernels do, while FP32 does 8 multiply-adds in one ``vfmadd231ps``. Which of them
a core issues how often per cycle decides the two peaks. This script compiles (with ``cc``, ``-O2``) a loop of 12
independent instances of each, in inline assembly (so the compiler cannot fold or reorder them), runs each for
~10 ms, alternately, 20 times on one pinned core, keeps the best rate; then once more on every CPU this process may
use at the same time (one pinned copy each: the machine's limit with all cores busy, which can be lower per core
than one core alone), and writes ``bench/results/isa_probe_<name>.json``:

* ``fma_per_s``: ``vfmadd231ps ymm`` per second (8 FP32 multiply-adds = 16 FLOP each);
* ``int8_seq_per_s``: ``vpmaddubsw`` + ``vpmaddwd`` + ``vpaddd`` sequences per second (32 MACs = 64 OP each);
* ``vpmaddubsw_per_s``, ``vpmaddwd_per_s``: each alone;
* per-cycle figures taking the FMA rate as 2 per cycle (two FMA pipes on Zen 2 and on Intel cores since Haswell;
  the clock of a cloud vCPU is not known, but it is the same for all four loops);
* ``int8_over_fp32``: the INT8 peak over the FP32 peak (OP/s over FLOP/s) of this core;
* ``all_cpus``: the same rates per CPU with every CPU busy, and their sums (``fp32_gflops``, ``int8_gops``).

    python bench/isa_probe.py [--name zen2] [--cpu 0]

x86-64 with AVX2 and a C compiler only; elsewhere it says why and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from superpoint_rt.sysinfo import cpu_description, machine_load  # noqa: E402

SOURCE = r"""
#include <stdio.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define K 300000L
#define R12(X) X("0") X("1") X("2") X("3") X("4") X("5") X("6") X("7") X("8") X("9") X("10") X("11")
#define CLOB "xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm8","xmm9","xmm10","xmm11","xmm12",\
             "xmm13","xmm14","xmm15","cc"
#define FMA(i) "vfmadd231ps %%ymm12,%%ymm13,%%ymm" i "\n"
#define MUB(i) "vpmaddubsw %%ymm13,%%ymm12,%%ymm" i "\n"
#define MWD(i) "vpmaddwd %%ymm13,%%ymm12,%%ymm" i "\n"
/* one INT8 step: u8 x s8 -> s16 pairs into a temporary, pairs -> s32 with ones, accumulate; temporaries rotate
   over ymm8..11 (renamed, no false dependency), accumulators ymm0..7 */
#define SEQ(T,A) "vpmaddubsw %%ymm13,%%ymm12,%%ymm" T "\n vpmaddwd %%ymm14,%%ymm" T ",%%ymm" T "\n" \
                 " vpaddd %%ymm" T ",%%ymm" A ",%%ymm" A "\n"
static double fma_loop(void){long n=K;double t=now();
  __asm__ volatile("vxorps %%ymm12,%%ymm12,%%ymm12\n vxorps %%ymm13,%%ymm13,%%ymm13\n"
                   "1:\n" R12(FMA) "dec %0\n jnz 1b\n" : "+r"(n) :: CLOB); return K*12/(now()-t);}
static double mub_loop(void){long n=K;double t=now();
  __asm__ volatile("1:\n" R12(MUB) "dec %0\n jnz 1b\n" : "+r"(n) :: CLOB); return K*12/(now()-t);}
static double mwd_loop(void){long n=K;double t=now();
  __asm__ volatile("1:\n" R12(MWD) "dec %0\n jnz 1b\n" : "+r"(n) :: CLOB); return K*12/(now()-t);}
static double seq_loop(void){long n=K;double t=now();
  __asm__ volatile("1:\n" SEQ("8","0") SEQ("9","1") SEQ("10","2") SEQ("11","3") SEQ("8","4") SEQ("9","5")
                   SEQ("10","6") SEQ("11","7") SEQ("8","0") SEQ("9","1") SEQ("10","2") SEQ("11","3")
                   "dec %0\n jnz 1b\n" : "+r"(n) :: CLOB); return K*12/(now()-t);}
int main(void){
  double f=0,s=0,m=0,w=0;
  for(int r=0;r<20;r++){double a=fma_loop(),b=seq_loop(),c=mub_loop(),d=mwd_loop();
    if(a>f)f=a; if(b>s)s=b; if(c>m)m=c; if(d>w)w=d;}
  printf("{\"fma_per_s\": %.6g, \"int8_seq_per_s\": %.6g, \"vpmaddubsw_per_s\": %.6g, \"vpmaddwd_per_s\": %.6g}\n",
         f, s, m, w);
  return 0;
}
"""


def _run_pinned(exes: list[Path], cpus: list[int]) -> list[str]:
    """Start one copy of each executable pinned to its CPU, all at once; their outputs."""
    procs = []
    for exe, cpu in zip(exes, cpus, strict=True):
        pre = (lambda c=cpu: os.sched_setaffinity(0, {c})) if hasattr(os, "sched_setaffinity") else None
        procs.append(subprocess.Popen([str(exe)], stdout=subprocess.PIPE, text=True, preexec_fn=pre))
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError(f"the probe failed: {[p.returncode for p in procs]}")
    return outs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", default="this_cpu", help="file name part: isa_probe_<name>.json")
    ap.add_argument("--cpu", type=int, default=0, help="the core to pin to (default 0)")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default bench/results/isa_probe_<name>.json)")
    args = ap.parse_args()
    cpu = cpu_description()
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cpu["machine"] not in ("x86_64", "AMD64") or not cpu.get("avx2") or cc is None:
        print(f"needs x86-64 with AVX2 and a C compiler (machine {cpu['machine']}, avx2 {cpu.get('avx2')}, cc {cc})")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = Path(tmp) / "isa.c", Path(tmp) / "isa"
        src.write_text(SOURCE)
        subprocess.run([cc, "-O2", str(src), "-o", str(exe)], check=True)
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [args.cpu]
        load = machine_load()
        t0 = time.time()
        out = json.loads(_run_pinned([exe], [args.cpu])[0])
        together = [json.loads(o) for o in _run_pinned([exe] * len(cpus), cpus)]
    fma = out["fma_per_s"]
    per_cycle = {k.removesuffix("_per_s"): round(2 * v / fma, 3) for k, v in out.items()}
    result = {
        "benchmark": "isa_probe",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(time.time() - t0, 2),
        "pinned_cpu": args.cpu,
        "cpu": cpu,
        "load": load,
        "rates": out,
        "per_cycle_if_fma_is_2": per_cycle,
        "fp32_gflops_per_core": round(fma * 16 / 1e9, 2),
        "int8_gops_per_core": round(out["int8_seq_per_s"] * 64 / 1e9, 2),
        "int8_over_fp32": round(out["int8_seq_per_s"] * 64 / (fma * 16), 3),
        "clock_ghz_if_fma_is_2": round(fma / 2 / 1e9, 3),
        "all_cpus": {
            "cpus": cpus,
            "rates": together,
            "fp32_gflops": round(sum(r["fma_per_s"] for r in together) * 16 / 1e9, 2),
            "int8_gops": round(sum(r["int8_seq_per_s"] for r in together) * 64 / 1e9, 2),
        },
        "method": "inline-asm loops of 12 independent instructions, best of 20 alternated ~10 ms runs, one core",
    }
    path = args.out or ROOT / "bench" / "results" / f"isa_probe_{args.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    keys = ("rates", "per_cycle_if_fma_is_2", "int8_over_fp32", "fp32_gflops_per_core", "int8_gops_per_core")
    print(json.dumps({k: result[k] for k in keys}, indent=1))
    print(
        f"all {len(cpus)} CPUs at once: {result['all_cpus']['fp32_gflops']} GFLOP/s FP32, "
        f"{result['all_cpus']['int8_gops']} GOP/s INT8"
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
