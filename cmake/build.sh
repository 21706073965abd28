#!/usr/bin/env bash
# Configures and builds dynn (Release) into ./build. Arguments are build targets (default: all);
# extra configure options can be given in DYNN_CMAKE_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC2086
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${DYNN_CMAKE_ARGS:-}
if [ $# -gt 0 ]; then
  cmake --build build -j"$(nproc)" --target "$@"
else
  cmake --build build -j"$(nproc)"
fi
