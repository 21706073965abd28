#!/usr/bin/env bash
# Builds dynn's torch-free CPU engine (lib/cpu) and its tests (tests/cpu) for aarch64 with Debian's
# cross compiler and runs them under qemu-user: the engine's portable paths (XNNPACK's NEON
# kernels, dynn's depthwise loop without the x86 ISA clones) on an ARM instruction set, without
# ARM hardware. Emulation says nothing about speed on ARM cores.
#
#   cmake/check-aarch64.sh            (from the repository root; writes build-aarch64/)
#
# Needs: g++-aarch64-linux-gnu qemu-user catch2 libfmt-dev (apt-get install -y ...) and apt access to
# the arm64 packages of XNNPACK, pthreadpool and cpuinfo: `dpkg --add-architecture arm64 && apt-get
# update` once. They are unpacked into build-aarch64/sysroot, never installed: installing
# libxnnpack-dev:arm64 would remove the amd64 one (the package is not co-installable).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$ROOT/build-aarch64}"
CXX="${CXX_AARCH64:-aarch64-linux-gnu-g++}"
for tool in "$CXX" qemu-aarch64 apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "check-aarch64: $tool not found (apt-get install -y g++-aarch64-linux-gnu qemu-user)" >&2; exit 1; }
done
[[ -f /usr/include/catch2/catch.hpp ]] || { echo "check-aarch64: Catch2 v2 header missing (apt-get install -y catch2)" >&2; exit 1; }
[[ -f /usr/include/fmt/format.h ]] || { echo "check-aarch64: fmt headers missing (apt-get install -y libfmt-dev)" >&2; exit 1; }

SYSROOT="$OUT/sysroot"
mkdir -p "$OUT/debs" "$SYSROOT"
pkgs=(libxnnpack0 libxnnpack-dev libpthreadpool0 libpthreadpool-dev libcpuinfo0)
if [[ ! -f "$SYSROOT/.complete" ]]; then
  (cd "$OUT/debs" && apt-get download "${pkgs[@]/%/:arm64}") ||
    { echo "check-aarch64: could not download the arm64 packages (dpkg --add-architecture arm64 && apt-get update?)" >&2; exit 1; }
  for d in "$OUT"/debs/*.deb; do dpkg-deb -x "$d" "$SYSROOT"; done
  touch "$SYSROOT/.complete"
fi
LIBDIR="$SYSROOT/usr/lib/aarch64-linux-gnu"

echo "== compiling lib/cpu + tests/cpu for aarch64 ($($CXX --version | head -1))"
"$CXX" -std=c++17 -O2 -Wall -Wextra -Wno-psabi -DFMT_HEADER_ONLY -DDYNN_SHARED_DIR_DEFAULT=\"/nonexistent\" \
  -I "$ROOT/include" -I "$ROOT/lib" -I "$ROOT/tests/support" -I "$SYSROOT/usr/include" \
  "$ROOT"/lib/cpu/*.cpp "$ROOT/lib/core/error.cpp" "$ROOT"/tests/cpu/*.cpp "$ROOT/tests/support/catch_main.cpp" \
  -L "$LIBDIR" -Wl,-rpath-link,"$LIBDIR" -lXNNPACK -lpthreadpool -lpthread -o "$OUT/test_cpu"
file "$OUT/test_cpu" | sed 's/, BuildID.*//'

echo "== running under qemu-aarch64"
QEMU_LD_PREFIX=/usr/aarch64-linux-gnu LD_LIBRARY_PATH="$LIBDIR" qemu-aarch64 "$OUT/test_cpu" "$@"
