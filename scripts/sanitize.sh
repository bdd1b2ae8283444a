#!/usr/bin/env bash
# Build superpoint_rt._C with AddressSanitizer + UndefinedBehaviorSanitizer and run the fuzz and
# bad-input tests against it.
#
# Usage: scripts/sanitize.sh [extra pytest args]
#
# The sanitized module is built in build/sanitize/ and imported from a temporary copy of the
# package, so the normal build (superpoint_rt/_C*.so in the source tree) is never replaced: other
# processes using the tree keep working, and nothing needs restoring afterwards.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
BUILD="$REPO/build/sanitize"

LIBASAN="$(gcc -print-file-name=libasan.so)"
if [[ ! -e "$LIBASAN" ]]; then
  echo "sanitize.sh: libasan.so not found (gcc -print-file-name=libasan.so gave '$LIBASAN')" >&2
  exit 2
fi

echo "== building the sanitized extension in $BUILD"
cd "$REPO"
SUPERPOINT_RT_SANITIZE=1 SUPERPOINT_RT_CUDA=0 SUPERPOINT_RT_BUILD_TYPE=RelWithDebInfo \
  "$PYTHON" setup.py -q build_ext --build-temp "$BUILD/temp" --build-lib "$BUILD/lib"
SO="$(ls "$BUILD"/lib/superpoint_rt/_C*.so)"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/superpoint_rt"
# The package's Python sources (no compiled modules, no caches) + the sanitized extension.
(cd "$REPO/superpoint_rt" && find . -name __pycache__ -prune -o -type f ! -name '*.so' -print0 |
  xargs -0 -I{} cp --parents {} "$TMP/superpoint_rt/")
cp "$SO" "$TMP/superpoint_rt/"

# libstdc++ is preloaded too: Python itself does not link it, and ASan's __cxa_throw interceptor
# must find the real one at start-up, or the first C++ exception aborts ("real___cxa_throw").
LIBSTDCXX="$(readlink -f "$(g++ -print-file-name=libstdc++.so)")"
export LD_PRELOAD="$LIBASAN:$LIBSTDCXX"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

cd "$TMP"  # `python -m` puts the working directory first on sys.path: the copy is imported
SP_SANITIZE_DIR="$TMP" "$PYTHON" - <<'EOF'
import os
import superpoint_rt
from superpoint_rt import ops
info = ops.build_info()
print("== module:", superpoint_rt.__file__, info)
if not info["sanitize"] or not superpoint_rt.__file__.startswith(os.environ["SP_SANITIZE_DIR"]):
    raise SystemExit("sanitize.sh: the sanitized module is not the one imported")
EOF

echo "== running the fuzz and error tests under ASan + UBSan"
"$PYTHON" -m pytest -q -p no:cacheprovider "$REPO/tests/ops/test_ops_fuzz.py" "$REPO/tests/ops/test_ops_errors.py" "$REPO/tests/ops/test_ops_fastpaths.py" \
  "$REPO/tests/gpu/test_cuda_ops.py" "$REPO/tests/gpu/test_cuda_pipeline.py" "$@"
echo "== sanitize.sh: OK (the normal build in the source tree was not touched)"
