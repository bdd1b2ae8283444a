"""Build the C++/CUDA extension ``superpoint_rt._C`` with CMake.

Environment:
    SUPERPOINT_RT_CUDA   "auto" (default: build the CUDA sources when nvcc is found), "1" (require), "0" (skip).
    SUPERPOINT_RT_SANITIZE  "1": build with AddressSanitizer + UndefinedBehaviorSanitizer.
    SUPERPOINT_RT_BUILD_TYPE  CMake build type (default Release).
    CUDAARCHS   CMake's own: the CUDA architectures to compile, e.g. "90" or "80;90" (default 80;86;89;90);
                ``_C.build_info()["cuda_archs"]`` reports the list compiled.

The package version has one source, ``superpoint_rt/__init__.py`` (``__version__``, read by setuptools through
pyproject.toml's ``[tool.setuptools.dynamic]``); it is passed from here to CMake for ``_C.build_info()["version"]``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        import pybind11

        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(self.build_temp).resolve() / ext.name
        build_dir.mkdir(parents=True, exist_ok=True)
        cmake = shutil.which("cmake")
        try:
            import cmake as cmake_pkg  # the PyPI wheel, when installed

            cmake = str(Path(cmake_pkg.CMAKE_BIN_DIR) / "cmake")
        except ImportError:
            pass
        if cmake is None:
            raise RuntimeError("CMake is required to build superpoint_rt._C (pip install cmake)")
        cfg = os.environ.get("SUPERPOINT_RT_BUILD_TYPE", "Release")
        args = [
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={out_dir}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DCMAKE_BUILD_TYPE={cfg}",
            f"-DSUPERPOINT_RT_CUDA={os.environ.get('SUPERPOINT_RT_CUDA', 'auto')}",
            f"-DSUPERPOINT_RT_SANITIZE={os.environ.get('SUPERPOINT_RT_SANITIZE', '0')}",
            f"-DSUPERPOINT_RT_VERSION={self.distribution.get_version()}",
        ]
        subprocess.run([cmake, str(ROOT), *args], cwd=build_dir, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        subprocess.run([cmake, "--build", ".", "--config", cfg, "-j", jobs], cwd=build_dir, check=True)


setup(ext_modules=[CMakeExtension("superpoint_rt._C")], cmdclass={"build_ext": CMakeBuild})
