#!/usr/bin/env bash
# tools/gpu-check.sh — the checks that need a GPU, in one run of at most 8
# minutes: build with CUDA for the present GPU only, run the tests labelled
# `gpu` (CUDA ops against the CPU references, and any engine parity tests
# with that label), then the kernel benchmark on the CPU and on GPU 0.
#
#   tools/gpu-check.sh [BUILD_DIR]      (default build-gpu)
#
# Results: BUILD_DIR/gpu-check/{ctest.log,bench-kernels.txt,env.txt}, and
# copied to $OUT when that is set (the device machine's export folder).
# Exit status: 0 all passed; 1 a build, test or benchmark failed; 2 no GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-gpu}
res="$build/gpu-check"
mkdir -p "$res"
start=$(date +%s)
left() { echo $((480 - ($(date +%s) - start))); }

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no GPU visible (nvidia-smi -L failed)" >&2
  exit 2
fi
{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv
  nvcc --version | tail -1
  lscpu | grep -E 'Model name|^CPU\(s\)'
} >"$res/env.txt" 2>&1
cat "$res/env.txt"
# Only the present GPU's architecture: a fraction of the default build time.
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
jobs=$(nproc)

status=0
echo "== build (sm_$arch)"
if ! timeout "$(left)" cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMOEGEN_CUDA=ON \
      -DMOEGEN_CUDA_ARCHS="$arch" >"$res/configure.log" 2>&1; then
  tail -20 "$res/configure.log"; echo "gpu-check: configure failed" >&2; exit 1
fi
if ! grep -q "CUDA backend ON" "$res/configure.log"; then
  echo "gpu-check: CMake did not enable the CUDA backend (see $res/configure.log)" >&2; exit 1
fi
if ! timeout "$(left)" cmake --build "$build" -j"$jobs" >"$res/build.log" 2>&1; then
  grep -E 'error|Error' "$res/build.log" | head -20
  echo "gpu-check: build failed (see $res/build.log)" >&2; exit 1
fi

echo "== ctest -L gpu"
if ! timeout "$(left)" ctest --test-dir "$build" -L gpu --output-on-failure >"$res/ctest.log" 2>&1; then
  status=1
fi
tail -15 "$res/ctest.log"
# ctest hides a passing test's output, so run the CUDA parity suite once more
# verbosely: a test that skipped means the device was not usable from it.
if [ -x "$build/tests/kernels/test_cuda_ops" ]; then
  timeout "$(left)" "$build/tests/kernels/test_cuda_ops" --verbose --jobs=1 \
    >"$res/test_cuda_ops.log" 2>&1 || status=1
  grep -E "^\[(PASS|FAIL|SKIP|ERR)" "$res/test_cuda_ops.log" || true
  if grep -q "SKIP" "$res/test_cuda_ops.log"; then
    echo "gpu-check: CUDA tests skipped although a GPU is visible" >&2; status=1
  fi
else
  echo "gpu-check: test_cuda_ops was not built" >&2; status=1
fi

echo "== bench-kernels (CPU, then GPU 0)"
t=$(left)
if [ "$t" -gt 30 ]; then
  min_ms=$([ "$t" -gt 240 ] && echo 100 || echo 30)
  if ! timeout "$((t - 10))" "$build/moegen-cuda" bench-kernels --cuda --min-ms "$min_ms" \
        >"$res/bench-kernels.txt" 2>&1; then
    status=1
  fi
  cat "$res/bench-kernels.txt"
else
  echo "gpu-check: no time left for the benchmark" >&2; status=1
fi

if [ -n "${OUT:-}" ] && [ -d "${OUT}" ]; then cp "$res"/*.txt "$res"/*.log "$OUT"/ 2>/dev/null; fi
echo "gpu-check: $([ $status = 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start )) s"
exit $status
