"""Load the scripts under test by path: they are files of the checkout (scripts/), not modules of the package."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module; skips where the tests run without a checkout (an installed package)."""
    path = SCRIPTS / f"{name}.py"
    if not path.is_file():
        pytest.skip("scripts/ is not next to the tests (installed package)")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
