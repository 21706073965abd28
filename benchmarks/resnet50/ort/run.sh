#!/usr/bin/env bash
# OFA ResNet-50 sub-networks: dynn's engines ("fast" = XNNPACK, "aten" = LibTorch/oneDNN, the
# same-run baseline) against ONNX Runtime (onnxruntime-node 1.30, CPU), batch 1, 1 and 2 threads,
# on the same weights: a deterministic random supernet of the published full-size layout
# (export_onnx.py writes it with the ONNX models; speed does not depend on the values).
#
#   benchmarks/resnet50/ort/run.sh
#
# 1. exports max224/mid192/min128 (export_onnx.py, Debian python3-torch) unless present; the
#    exporter checks its PyTorch builder against the OFA reference's golden logits first,
# 2. alternates `bench_resnet50 --check` (dynn's logits against PyTorch's on the same input) and
#    ../../supernet/ort/ort_bench.mjs (ORT's against PyTorch's), ROUNDS times,
# 3. prints a markdown table of medians over the rounds and the ratios best dynn / best ORT.
# Without python3-torch, node/npm or onnxruntime-node it says so and exits 0 after dynn's numbers.
#
# Environment (all optional): BENCH (bench_resnet50; default build/bin), ORT_MODELS (default
#   benchmarks/resnet50/ort/models, git-ignored), ORT_NODE_DIR (default /tmp/ortnode), ROUNDS (3),
#   RUNS (10, dynn inferences per point), ORT_RUNS (10), OUT (raw JSON; default a mktemp dir)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
ROUNDS="${ROUNDS:-3}"
RUNS="${RUNS:-10}"
ORT_RUNS="${ORT_RUNS:-10}"
ORT_MODELS="${ORT_MODELS:-$HERE/models}"
ORT_NODE_DIR="${ORT_NODE_DIR:-/tmp/ortnode}"
BENCH="${BENCH:-$ROOT/build/bin/bench_resnet50}"
OUT="${OUT:-$(mktemp -d /tmp/resnet50_ort.XXXXXX)}"
mkdir -p "$OUT"
if [[ ! -x "$BENCH" ]]; then
  echo "bench_resnet50 not found at $BENCH; build it first: cmake --build $ROOT/build --target bench_resnet50" >&2
  exit 1
fi

ORT_OK=1
why_no_ort=""
if [[ ! -f "$ORT_MODELS/supernet_random.pth" || ! -f "$ORT_MODELS/min128.onnx" ]]; then
  if /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "== exporting the ONNX models and their supernet to $ORT_MODELS"
    /usr/bin/python3 "$HERE/export_onnx.py" --out "$ORT_MODELS" || { ORT_OK=0; why_no_ort="export_onnx.py failed"; }
  else
    ORT_OK=0; why_no_ort="Debian python3-torch is not installed (apt-get install -y python3-torch), so the models cannot be exported"
  fi
fi
if [[ $ORT_OK == 0 ]]; then
  echo "** ONNX Runtime not measured: $why_no_ort. dynn numbers alone (random full-size supernet):"
  "$BENCH" --engines fast,aten --runs "$RUNS"
  exit 0
fi
if ! command -v node >/dev/null; then
  ORT_OK=0; why_no_ort="node is not installed"
elif [[ ! -d "$ORT_NODE_DIR/node_modules/onnxruntime-node" ]]; then
  if command -v npm >/dev/null; then
    mkdir -p "$ORT_NODE_DIR"
    (cd "$ORT_NODE_DIR" && { [[ -f package.json ]] || npm init -y >/dev/null; } &&
       npm install --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30 >/dev/null 2>&1) ||
      { ORT_OK=0; why_no_ort="npm install onnxruntime-node@1.30 failed (registry unreachable?)"; }
  else
    ORT_OK=0; why_no_ort="npm is not installed"
  fi
fi

echo "== $ROUNDS rounds, raw JSON in $OUT; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 1; i <= ROUNDS; ++i)); do
  "$BENCH" --weights "$ORT_MODELS/supernet_random.pth" --engines fast,aten --check "$ORT_MODELS" --runs "$RUNS" \
    --json "$OUT/dynn_r${i}.json" > "$OUT/dynn_r${i}.txt"
  if [[ $ORT_OK == 1 ]]; then
    (cd "$ORT_NODE_DIR" && node "$ROOT/benchmarks/supernet/ort/ort_bench.mjs" --models "$ORT_MODELS" --threads 1,2 \
       --runs "$ORT_RUNS" --warmup 2 --json "$OUT/ort_r${i}.json" > /dev/null 2> "$OUT/ort_r${i}.txt") ||
      { ORT_OK=0; why_no_ort="ort_bench.mjs failed: $(tail -1 "$OUT/ort_r${i}.txt")"; }
  fi
  echo "   round $i done; load $(cut -d' ' -f1-3 /proc/loadavg)"
done
[[ $ORT_OK == 1 ]] || echo "** ONNX Runtime not measured: $why_no_ort. dynn numbers only."
grep -h "^--check" "$OUT"/dynn_r*.txt | tail -1

PY=/usr/bin/python3; [[ -x $PY ]] || PY=python3  # stdlib only
"$PY" - "$OUT" "$ROUNDS" "$ORT_OK" <<'PYEOF'
import json, os, statistics, sys
out, rounds, ort_ok = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
nets = ["max224", "mid192", "min128"]
med = lambda v: statistics.median(v)
dynn = {}  # (net, engine, threads) -> [ms per round]
switch, switch_tagged = [], []
for r in range(1, rounds + 1):
    for e in json.load(open(os.path.join(out, f"dynn_r{r}.json"))):
        if "switch_us" in e:
            switch.append(e["switch_us"]); switch_tagged.append(e["switch_tagged_us"]); continue
        for t in (1, 2):
            dynn.setdefault((e["subnet"], e["engine"], t), []).append(e[f"ms_{t}t"])
ort = {}
if ort_ok:
    for r in range(1, rounds + 1):
        for e in json.load(open(os.path.join(out, f"ort_r{r}.json")))["nets"]:
            ort.setdefault((e["name"], e["intra"]), []).append(e["median_ms"])
print("\n| sub-network | dynn fast 1t | dynn aten 1t | ORT 1t | dynn fast 2t | dynn aten 2t | ORT 2t | best dynn / best ORT 1t | 2t |")
print("|---|---|---|---|---|---|---|---|---|")
for n in nets:
    f1, a1, f2, a2 = (med(dynn[(n, e, t)]) for e, t in (("fast", 1), ("aten", 1), ("fast", 2), ("aten", 2)))
    o1, o2 = (med(ort[(n, t)]) if ort else float("nan") for t in (1, 2))
    print(f"| {n} | {f1:.1f} | {a1:.1f} | {o1:.1f} | {f2:.1f} | {a2:.1f} | {o2:.1f} | {min(f1, a1) / o1:.2f} | {min(f2, a2) / o2:.2f} |")
print(f"\nms, medians of {rounds} rounds (each a median of its runs). Switch between prepared sub-networks (fast): "
      f"{med(switch):.2f} us typed, {med(switch_tagged):.2f} us as dynn::Subnet.")
PYEOF
