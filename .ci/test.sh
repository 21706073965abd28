#!/usr/bin/env bash
# Builds dynn (Release) and runs the whole test suite, then the ASan+UBSan build of the torch-free
# core tests, then the ThreadSanitizer build of the core runtime, platform and plan-cache tests. This is the
# README's test command; CI runs it through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash cmake/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"

echo "== ASan + UBSan: dynn::core tests =="
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDYNN_WITH_TORCH=OFF -DDYNN_SANITIZE=ON \
      -DDYNN_BUILD_EXAMPLES=OFF -DDYNN_BUILD_BENCHMARKS=OFF
cmake --build build-asan -j"$(nproc)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
echo "== TSan: dynn::core runtime and platform tests and the plan cache (shared across threads) =="
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDYNN_WITH_TORCH=OFF -DDYNN_SANITIZE_THREAD=ON \
      -DDYNN_BUILD_EXAMPLES=OFF -DDYNN_BUILD_BENCHMARKS=OFF -DDYNN_INSTALL=OFF
cmake --build build-tsan -j"$(nproc)" --target test_runtime test_platform test_families
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir build-tsan --output-on-failure -j"$(nproc)" -R '^(runtime|platform)/|^families/plan cache'
echo "all tests passed"
