#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this):
#   1. Release build, every test;
#   2. Debug build with AddressSanitizer + UndefinedBehaviorSanitizer, every test;
#   3. ThreadSanitizer build of the tests labelled `tsan` (the shared-memory ring).
# Tests that need ../shared skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
jobs=$(nproc)

echo "== Release" >&2
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$jobs"
ctest --test-dir build/release --output-on-failure -j"$jobs"

echo "== Debug + ASan + UBSan" >&2
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
MG_TEST_TIMEOUT_MULTIPLIER=4 cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DMOEGEN_SANITIZE=ON >/dev/null
cmake --build build/asan -j"$jobs"
ctest --test-dir build/asan --output-on-failure -j"$jobs"

echo "== ThreadSanitizer (label tsan)" >&2
MG_TEST_TIMEOUT_MULTIPLIER=4 cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOEGEN_TSAN=ON >/dev/null
cmake --build build/tsan -j"$jobs" --target mg_tsan_tests
if [ -n "$(ctest --test-dir build/tsan -N -L tsan | grep 'Test *#')" ]; then
  ctest --test-dir build/tsan --output-on-failure -L tsan
fi
