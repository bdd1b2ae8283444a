"""Loader of the compiled extension ``superpoint_rt._C``.

The import is lazy so that pure-Python parts of the package (the NumPy references, the training
code) work without a build; the first op call raises a clear ImportError when it is missing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_BUILD_HINT = (
    "superpoint_rt._C is not built: run `pip install -e . --no-build-isolation` "
    "(or `python setup.py build_ext --inplace`) in the repository root; it needs CMake, a C++17 "
    "compiler and pybind11"
)

_module: ModuleType | None = None


def load_ext() -> ModuleType:
    """Returns the ``superpoint_rt._C`` module, importing it on first use.

    Raises:
        ImportError: the extension is not built (or fails to load), with build instructions.
    """
    global _module
    if _module is None:
        try:
            _module = importlib.import_module("superpoint_rt._C")
        except ImportError as exc:
            raise ImportError(f"{_BUILD_HINT} ({exc})") from exc
    return _module


def ext_available() -> bool:
    """True when ``superpoint_rt._C`` can be imported."""
    try:
        load_ext()
    except ImportError:
        return False
    return True
