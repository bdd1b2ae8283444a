"""scripts/test.sh (the README's second command, what CI runs) must fail when any stage fails.

Under ``set -e`` bash does not stop on a failing command that is followed by ``&&`` or ``||``: ``ruff check . &&
ruff format --check .`` let a lint error through with exit status 0 (found in the 20th session). This runs the
script's own stage lines, with each tool replaced by one that fails, in a shell with the script's options.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "test.sh"
TOOLS = ("ruff", "clang-format", "mypy")


def _stage_lines() -> list[str]:
    """The lines of test.sh between the installs and pytest: the lint, format and type stages."""
    lines = SCRIPT.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith('echo "== ruff"'))
    end = next(i for i, line in enumerate(lines) if line.startswith('echo "== pytest"'))
    return [line for line in lines[start:end] if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("failing", TOOLS)
def test_a_failing_stage_fails_the_script(tmp_path: Path, failing: str) -> None:
    if not SCRIPT.is_file() or shutil.which("bash") is None:
        pytest.skip("scripts/test.sh or bash not available (installed package)")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in TOOLS:  # stand-ins: the chosen one fails, the others pass
        stub = bindir / tool
        stub.write_text(f"#!/bin/sh\nexit {1 if tool == failing else 0}\n")
        stub.chmod(0o755)
    body = "\n".join(_stage_lines())
    assert re.search(rf"(^|\s){re.escape(failing)}(\s|$)", body), f"test.sh no longer runs {failing}"
    script = f'set -euo pipefail\nexport PATH="{bindir}:$PATH"\ncd "{tmp_path}"\n{body}\necho REACHED_PYTEST\n'
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "REACHED_PYTEST" not in done.stdout, (
        f"test.sh goes on after {failing} fails:\n{body}"
    )
