"""What the built extension says about itself agrees with the package and with the binary (nothing is built here).

* One version: ``superpoint_rt.__version__`` is the installed distribution's version and ``_C.build_info()``'s.
* ``build_info()["cuda_archs"]`` names exactly the architectures whose code the ``.so`` carries: read from the
  fat binaries in its ``.nv_fatbin`` section (each entry's header records its kind, SASS or PTX, and its SM), and
  cross-checked with ``cuobjdump`` where that tool exists.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import superpoint_rt

ROOT = Path(__file__).resolve().parents[2]
FATBIN_MAGIC = 0xBA55ED50  # a fat binary's header (one per compiled .cu)
KIND_PTX, KIND_SASS = 1, 2


def _ext():
    try:
        from superpoint_rt import _C
    except ImportError as e:
        pytest.skip(f"the C++ extension is not built: {e}")
    return _C


# ---- version ---------------------------------------------------------------------------------------------------------


def test_version_has_one_source():
    assert superpoint_rt.__version__ == importlib.metadata.version("superpoint_rt")
    assert _ext().build_info()["version"] == superpoint_rt.__version__


def test_pyproject_reads_the_version_from_the_package():
    if sys.version_info < (3, 11):
        pytest.skip("tomllib needs Python 3.11")
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in meta["project"] and "version" in meta["project"]["dynamic"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "superpoint_rt.__version__"}


# ---- CUDA architectures ----------------------------------------------------------------------------------------------


def _elf_section(data: bytes, name: str) -> bytes | None:
    """The contents of an ELF64 little-endian section, or None when there is no such section."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        pytest.skip("not an ELF64 little-endian binary")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(i: int) -> tuple[int, int, int]:
        sh_name, _type, _flags, _addr, offset, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        return sh_name, offset, size

    _, str_off, _ = header(shstrndx)
    for i in range(shnum):
        sh_name, offset, size = header(i)
        end = data.index(b"\0", str_off + sh_name)
        if data[str_off + sh_name : end].decode() == name:
            return data[offset : offset + size]
    return None


def fatbin_archs(section: bytes) -> tuple[set[int], set[int]]:
    """(SMs with SASS, SMs with PTX) over all fat binaries in a ``.nv_fatbin`` section.

    Layout: a 16-byte header (magic u32, version u16, header size u16, payload size u64), then entries, each a
    header (kind u16: 1 PTX / 2 ELF, version u16, header size u32, payload size u64, ..., SM u32 at offset 28)
    followed by its payload. Fat binaries are 8-byte aligned in the section.
    """
    sass: set[int] = set()
    ptx: set[int] = set()
    pos = 0
    while pos + 16 <= len(section):
        magic, _version, header_size, size = struct.unpack_from("<IHHQ", section, pos)
        if magic != FATBIN_MAGIC:
            pos += 8  # padding between fat binaries
            continue
        p, end = pos + header_size, pos + header_size + size
        while p < end:
            kind, _v, entry_header, payload = struct.unpack_from("<HHIQ", section, p)
            sm = struct.unpack_from("<I", section, p + 28)[0]
            {KIND_PTX: ptx, KIND_SASS: sass}.get(kind, set()).add(sm)
            p += entry_header + payload
        pos = end
    return sass, ptx


def expected_archs(cuda_archs: list[str]) -> tuple[set[int], set[int]]:
    """CMake's meaning of CUDA_ARCHITECTURES entries: "80" = SASS + PTX, "80-real" SASS, "80-virtual" PTX."""
    sass: set[int] = set()
    ptx: set[int] = set()
    for entry in cuda_archs:
        m = re.fullmatch(r"(\d+)[a-z]?(-real|-virtual)?", entry)
        assert m, f"unexpected architecture entry {entry!r} in build_info()['cuda_archs']"
        sm, suffix = int(m.group(1)), m.group(2)
        if suffix != "-virtual":
            sass.add(sm)
        if suffix != "-real":
            ptx.add(sm)
    return sass, ptx


def test_cuda_archs_match_the_binary():
    ext = _ext()
    info = ext.build_info()
    so = Path(ext.__file__)
    section = _elf_section(so.read_bytes(), ".nv_fatbin")
    if not info["cuda"]:
        assert info["cuda_archs"] == [] and section is None
        return
    assert info["cuda_archs"], "a CUDA build must name its architectures"
    assert section is not None, f"{so.name} is a CUDA build without a .nv_fatbin section"
    assert fatbin_archs(section) == expected_archs(list(info["cuda_archs"]))


def test_cuda_archs_match_cuobjdump():
    ext = _ext()
    info = ext.build_info()
    tool = shutil.which("cuobjdump") or shutil.which("/usr/local/cuda/bin/cuobjdump")
    if tool is None:
        pytest.skip("cuobjdump is not installed (the .nv_fatbin reader above checks the same without it)")
    if not info["cuda"]:
        pytest.skip("a CPU-only build")
    out = subprocess.run([tool, "--list-elf", "--list-ptx", ext.__file__], capture_output=True, text=True, check=True)
    sass = {int(m) for m in re.findall(r"\.sm_(\d+)[a-z]?\.cubin", out.stdout)}
    ptx = {int(m) for m in re.findall(r"\.sm_(\d+)[a-z]?\.ptx", out.stdout)}
    assert (sass, ptx) == expected_archs(list(info["cuda_archs"]))


def test_fatbin_reader_on_a_hand_made_section():
    def entry(kind: int, sm: int, payload: bytes) -> bytes:
        head = struct.pack("<HHIQ", kind, 0x101, 64, len(payload)) + bytes(12) + struct.pack("<I", sm)
        return head.ljust(64, b"\0") + payload

    body = entry(KIND_PTX, 80, b"p" * 8) + entry(KIND_SASS, 80, b"s" * 16) + entry(KIND_SASS, 90, b"s" * 8)
    fatbin = struct.pack("<IHHQ", FATBIN_MAGIC, 1, 16, len(body)) + body
    assert fatbin_archs(fatbin + bytes(8) + fatbin) == ({80, 90}, {80})
    assert expected_archs(["80", "90-real", "100-virtual"]) == ({80, 90}, {80, 100})
