#!/usr/bin/env bash
# Instruction counts (valgrind --tool=callgrind) of one inference, per engine: stable where wall
# times are not. Counts only dynn_counted_inference() of bench_infer_once (after two warm-up runs).
# Valgrind hides AVX-512 from the program, so the kernels counted are the AVX2 ones.
#
#   benchmarks/supernet/callgrind.sh [ENGINES (default "fast aten")] [SUBNET (default min128)]
# Environment: BIN (default build/bin/bench_infer_once), WEIGHTS (default the fixture; "random" for
# the random supernet), THREADS (1).
# Engine "ort": ONNX Runtime (onnxruntime-node under ORT_NODE_DIR, default /tmp/ortnode) on
# ORT_MODELS/min128.onnx (default benchmarks/supernet/ort/models, written by ort/run.sh). Valgrind
# counts its whole node process, so the count is differential: --runs 21 minus --runs 1, over 20
# (the benchmark's JS loop included). The fixed min128 net only, whatever SUBNET says.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${BIN:-$ROOT/build/bin/bench_infer_once}"
ENGINES="${1:-fast aten}"
SUBNET="${2:-ks=33333333333333333333 e=33333333333333333333 d=22222 r=128}"
THREADS="${THREADS:-1}"
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install -y valgrind)" >&2; exit 1; }
[[ -x "$BIN" ]] || { echo "$BIN not found: build the bench_infer_once target" >&2; exit 1; }
src=()
if [[ "${WEIGHTS:-}" == random ]]; then src=(--random); elif [[ -n "${WEIGHTS:-}" ]]; then src=(--weights "$WEIGHTS"); fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| engine | instructions (Ir) of one inference | sub-network |"
echo "|---|---|---|"
ort_ir() {  # total Ir of ort_bench.mjs with --runs $1
  NODE_PATH="${ORT_NODE_DIR:-/tmp/ortnode}/node_modules" valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.ort$1" \
    node "$ROOT/benchmarks/supernet/ort/ort_bench.mjs" --models "${ORT_MODELS:-$ROOT/benchmarks/supernet/ort/models}" \
    --nets min128 --threads "$THREADS" --warmup 0 --runs "$1" > "$tmp/out.ort$1" 2> "$tmp/err.ort$1" ||
    { echo "valgrind run of ort_bench.mjs failed:" >&2; grep -v '^==[0-9]*==' "$tmp/err.ort$1" | tail -5 >&2; exit 1; }
  sed -n 's/^summary: *//p' "$tmp/cg.ort$1" | awk '{print $1}'
}
for e in $ENGINES; do
  if [[ "$e" == ort ]]; then
    a=$(ort_ir 1)
    b=$(ort_ir 21)
    printf "| ort | %d (differential: %d - %d over 20) | min128.onnx |\n" $(((b - a) / 20)) "$b" "$a"
    continue
  fi
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$e" --collect-atstart=no \
    --toggle-collect=dynn_counted_inference "$BIN" "${src[@]}" --engine "$e" --threads "$THREADS" --subnet "$SUBNET" \
    > "$tmp/out.$e" 2> "$tmp/err.$e" || { echo "valgrind run of engine $e failed:" >&2; grep -v '^==[0-9]*==' "$tmp/err.$e" | tail -5 >&2; exit 1; }
  ir=$(sed -n 's/^summary: *//p' "$tmp/cg.$e" | awk '{print $1}')
  printf "| %s | %d | %s |\n" "$e" "$ir" "$SUBNET"
done
echo
echo "valgrind $(valgrind --version | sed 's/valgrind-//'), threads $THREADS, machine: $(lscpu | sed -n 's/^Model name: *//p')"
