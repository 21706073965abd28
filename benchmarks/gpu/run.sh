#!/usr/bin/env bash
# GPU check and benchmark (issue 9), one command on a machine with an NVIDIA GPU and a CUDA PyTorch:
# builds dynn against that PyTorch's LibTorch, runs the CUDA tests, then the benchmark (three
# sub-networks at batch 1 and 8, switching) against PyTorch eager (and ONNX Runtime CUDA where its
# CUDA provider exists), all in one run. Results go to $OUT (default ./gpu-out).
#   Optional: .gpu-deps/root/usr (Eigen, fmt, nlohmann-json, Catch2 unpacked from Debian packages,
#   for machines without them; copied to /usr/local), .gpu-deps/tj/usr (libturbojpeg, whose
#   pkg-config file names /usr; copied to /usr without overwriting) and .gpu-deps/shared (the
#   fixture subset of ../shared).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_log.txt") 2>&1
SHARED=${DYNN_SHARED_DIR:-$PWD/../shared}
[ -d .gpu-deps/shared ] && SHARED=$PWD/.gpu-deps/shared
[ -d .gpu-deps/root/usr ] && cp -rn .gpu-deps/root/usr/. /usr/local/
[ -d .gpu-deps/tj/usr ] && cp -rn .gpu-deps/tj/usr/. /usr/
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
TORCH_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
t0=$(date +%s)
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;/usr/local" \
      -DDYNN_SHARED_DIR="$SHARED" -DDYNN_BUILD_EXAMPLES=OFF -DDYNN_INSTALL=OFF -DDYNN_FMT_HEADER_ONLY=ON || exit 1
cmake --build build-gpu -j"$(nproc)" --target test_cuda test_supernet bench_supernet || exit 1
echo "build: $(( $(date +%s) - t0 )) s"
ctest --test-dir build-gpu -R '^(cuda|cuda_shared)$' --output-on-failure -j2
W="$SHARED/fixtures/ofa_mbv3_w1.0/supernet.pth"
for b in 1 8; do
  build-gpu/bin/bench_supernet --weights "$W" --device cuda:0 --batch $b --reps 60 --json "$OUT/dynn_b$b.json"
done
python3 benchmarks/gpu/torch_eager.py --weights "$W" --out "$OUT/eager.json"
python3 benchmarks/gpu/report.py "$OUT" | tee "$OUT/gpu_results.md"
