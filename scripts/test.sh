#!/usr/bin/env bash
# Install the package with its test dependencies into .venv and run the whole suite:
# lint (ruff), format checks (ruff format, clang-format), types (mypy), then pytest.
# This is the README's second command and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e '.[test]'
# one command per line: under `set -e` a failure inside an `a && b` list does not stop the script (it hid lint errors)
echo "== ruff"
ruff check .
ruff format --check .
echo "== clang-format"; clang-format --dry-run --Werror $(find csrc -name '*.h' -o -name '*.cpp' -o -name '*.cu')
echo "== mypy"; mypy
echo "== pytest"
set +e
python -m pytest -q -ra "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
