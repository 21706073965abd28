#!/usr/bin/env bash
# Installs the Debian 12 packages dynn needs to build and test; installs only what is missing.
# Idempotent; run as root (or with sudo available). Nothing else is downloaded.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config python3
  libtorch-dev            # LibTorch 1.13.1, CPU
  libopenblas0-pthread    # without it Debian's LibTorch falls back to reference BLAS (~30x slower GEMM)
  libxnnpack-dev libpthreadpool-dev  # the CPU engine's kernels (lib/cpu)
  libeigen3-dev libfmt-dev catch2 nlohmann-json3-dev libturbojpeg0-dev
  libjpeg62-turbo-dev     # libjpeg API: the fallback decoder for JPEGs the TurboJPEG API refuses
  python3-pil python3-numpy  # test-time only: the Pillow reference of the image pipeline test
  librsvg2-bin            # test-time only: rsvg-convert renders the telemetry plots (SVG) in a test
  chromium                # test-time only: the same plots load in a headless browser in a test
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: missing ${missing[*]}; run as root to install them" >&2; exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
