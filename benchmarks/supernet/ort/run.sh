#!/usr/bin/env bash
# dynn prepared sub-networks vs ONNX Runtime (onnxruntime-node 1.30, CPU) vs static LibTorch, batch 1.
#
#   benchmarks/supernet/ort/run.sh
#
# 1. exports max224/mid192/min128 to ONNX (export_onnx.py, Debian python3-torch) unless present,
# 2. alternates `bench_supernet --json` (threads 1 and 2) and `ort_bench.mjs` (intra-op 1 and 2)
#    ROUNDS times so both see the same machine phase,
# 3. prints markdown tables: per-net medians and the ratio best-dynn / best-ORT, and ORT session
#    creation next to dynn's switch / prepare times.
# Without python3-torch, node/npm or onnxruntime-node it says so and prints dynn's numbers alone (exit 0).
#
# Environment (all optional):
#   BENCH        bench_supernet binary (default: build/bin, else build-ort/bin under the repo)
#   ORT_MODELS   ONNX output dir (default: benchmarks/supernet/ort/models, git-ignored)
#   ORT_NODE_DIR scratch dir holding node_modules/onnxruntime-node (default /tmp/ortnode; installed
#                there with `npm install --ignore-scripts onnxruntime-node@1.30` when missing)
#   ROUNDS (3)  REPS (40, dynn runs per net)  ORT_RUNS (40)  WEIGHTS (fixture supernet.pth)
#   OUT          dir for the raw JSON of every run (default: a fresh mktemp dir)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
ROUNDS="${ROUNDS:-3}"
REPS="${REPS:-40}"
ORT_RUNS="${ORT_RUNS:-40}"
ORT_MODELS="${ORT_MODELS:-$HERE/models}"
ORT_NODE_DIR="${ORT_NODE_DIR:-/tmp/ortnode}"
WEIGHTS="${WEIGHTS:-$ROOT/../shared/fixtures/ofa_mbv3_w1.0/supernet.pth}"
OUT="${OUT:-$(mktemp -d /tmp/supernet_ort.XXXXXX)}"
mkdir -p "$OUT"

if [[ -z "${BENCH:-}" ]]; then
  for b in "$ROOT/build/bin/bench_supernet" "$ROOT/build-ort/bin/bench_supernet"; do
    [[ -x "$b" ]] && { BENCH="$b"; break; }
  done
fi
if [[ -z "${BENCH:-}" || ! -x "$BENCH" ]]; then
  echo "bench_supernet not found; build it first:" >&2
  echo "  cmake -S $ROOT -B $ROOT/build-ort -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build $ROOT/build-ort --target bench_supernet" >&2
  exit 1
fi
if [[ ! -f "$WEIGHTS" ]]; then
  echo "weights not found: $WEIGHTS (set WEIGHTS)" >&2
  exit 1
fi

# ---- ONNX Runtime side: what is available? ---------------------------------------------------
ORT_OK=1
why_no_ort=""
if [[ ! -f "$ORT_MODELS/max224.onnx" || ! -f "$ORT_MODELS/mid192.onnx" || ! -f "$ORT_MODELS/min128.onnx" ]]; then
  if /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "== exporting ONNX models to $ORT_MODELS"
    /usr/bin/python3 "$HERE/export_onnx.py" --weights "$WEIGHTS" --out "$ORT_MODELS" || { ORT_OK=0; why_no_ort="export_onnx.py failed"; }
  else
    ORT_OK=0; why_no_ort="Debian python3-torch is not installed (apt-get install -y python3-torch), so the ONNX models cannot be exported"
  fi
fi
if [[ $ORT_OK == 1 ]] && ! command -v node >/dev/null; then
  ORT_OK=0; why_no_ort="node is not installed"
fi
if [[ $ORT_OK == 1 && ! -d "$ORT_NODE_DIR/node_modules/onnxruntime-node" ]]; then
  if command -v npm >/dev/null; then
    echo "== installing onnxruntime-node@1.30 into $ORT_NODE_DIR"
    mkdir -p "$ORT_NODE_DIR"
    (cd "$ORT_NODE_DIR" && { [[ -f package.json ]] || npm init -y >/dev/null; } &&
       npm install --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30 >/dev/null 2>&1) ||
      { ORT_OK=0; why_no_ort="npm install onnxruntime-node@1.30 failed (registry unreachable?)"; }
  else
    ORT_OK=0; why_no_ort="npm is not installed, so onnxruntime-node cannot be installed"
  fi
fi

# ---- interleaved runs -------------------------------------------------------------------------
echo "== $ROUNDS rounds, raw JSON in $OUT; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 1; i <= ROUNDS; ++i)); do
  for nt in 1 2; do
    "$BENCH" --weights "$WEIGHTS" --threads "$nt" --reps "$REPS" --json "$OUT/dynn_r${i}_t${nt}.json" > "$OUT/dynn_r${i}_t${nt}.txt"
  done
  if [[ $ORT_OK == 1 ]]; then
    (cd "$ORT_NODE_DIR" && node "$HERE/ort_bench.mjs" --models "$ORT_MODELS" --threads 1,2 --runs "$ORT_RUNS" \
       --json "$OUT/ort_r${i}.json" > /dev/null 2> "$OUT/ort_r${i}.txt") ||
      { ORT_OK=0; why_no_ort="ort_bench.mjs failed: $(tail -1 "$OUT/ort_r${i}.txt")"; }
  fi
  echo "   round $i done; load $(cut -d' ' -f1-3 /proc/loadavg)"
done
[[ $ORT_OK == 1 ]] || echo "** ONNX Runtime not measured: $why_no_ort. dynn numbers only."

PY=/usr/bin/python3; [[ -x $PY ]] || PY=python3  # stdlib only
"$PY" - "$OUT" "$ROUNDS" "$ORT_OK" <<'EOF'
import json, os, statistics, sys
out, rounds, ort_ok = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
nets = ["max224", "mid192", "min128"]
def load(p):
    with open(os.path.join(out, p)) as f:
        return json.load(f)
dynn = {(r, t): {n["name"]: n for n in load(f"dynn_r{r}_t{t}.json")["nets"]} for r in range(1, rounds + 1) for t in (1, 2)}
sw = {(r, t): load(f"dynn_r{r}_t{t}.json") for r in range(1, rounds + 1) for t in (1, 2)}
ort = {}
if ort_ok:
    for r in range(1, rounds + 1):
        for rec in load(f"ort_r{r}.json")["nets"]:
            ort[(r, rec["intra"], rec["name"])] = rec
def fmt(v, d=2):
    v = sorted(v)
    med = statistics.median(v)
    return f"{med:.{d}f}" if len(v) == 1 else f"{med:.{d}f} ({v[0]:.{d}f}–{v[-1]:.{d}f})"
R = range(1, rounds + 1)
print(f"\nMedians over {rounds} interleaved rounds, ms, batch 1; cells: median of the per-round medians (min–max).\n")
hdr = "| net | dynn nt=1 | dynn nt=2 | static LibTorch eager nt=1 / nt=2 |"
sep = "|---|---|---|---|"
if ort_ok:
    hdr += " ORT intra=1 | ORT intra=2 | best dynn / best ORT |"
    sep += "---|---|---|"
print(hdr); print(sep)
for n in nets:
    d1 = [dynn[(r, 1)][n]["dynn_ms"] for r in R]
    d2 = [dynn[(r, 2)][n]["dynn_ms"] for r in R]
    s1 = [dynn[(r, 1)][n]["static_ms"] for r in R]
    s2 = [dynn[(r, 2)][n]["static_ms"] for r in R]
    row = f"| {n} | {fmt(d1)} | {fmt(d2)} | {statistics.median(s1):.1f} / {statistics.median(s2):.1f} |"
    if ort_ok:
        o1 = [ort[(r, 1, n)]["median_ms"] for r in R]
        o2 = [ort[(r, 2, n)]["median_ms"] for r in R]
        ratio = [min(a, b) / min(c, e) for a, b, c, e in zip(d1, d2, o1, o2)]
        row += f" {fmt(o1)} | {fmt(o2)} | **{fmt(ratio)}** |"
    print(row)
print("\nSwitching / preparation (ms unless noted; dynn: switch between prepared sub-networks, prepare = build a")
print("sub-network's plan from the loaded supernet, cold = first in the process, warm = re-prepare; ORT: InferenceSession.create")
print("from the in-memory .onnx, cold = first, warm = median of 2 more, + its first run).\n")
swt = [sw[k]["switch_us_median"] for k in sw]
swp = [sw[k]["switch_us_p99"] for k in sw]
print(f"dynn switch: median {fmt(swt)} us, p99 {fmt(swp)} us (all runs)\n")
hdr = "| net | dynn prepare cold | dynn prepare warm |"
sep = "|---|---|---|"
if ort_ok:
    hdr += " ORT create cold intra=1 / 2 | ORT create warm intra=1 / 2 | ORT first run intra=1 / 2 |"
    sep += "---|---|---|"
print(hdr); print(sep)
for n in nets:
    pc = [dynn[k][n]["prepare_cold_ms"] for k in dynn]
    pw = [dynn[k][n]["prepare_warm_ms"] for k in dynn]
    # load() already prepares the default (max) sub-network, so its "cold" prepare is a cache hit.
    cold = fmt(pc, 1) if max(pc) >= 0.1 else "cache hit¹"
    row = f"| {n} | {cold} | {fmt(pw, 1)} |"
    if ort_ok:
        g = lambda key, t: statistics.median(ort[(r, t, n)][key] for r in R)
        row += (f" {g('create_cold_ms', 1):.1f} / {g('create_cold_ms', 2):.1f} | {g('create_warm_ms', 1):.1f} / "
                f"{g('create_warm_ms', 2):.1f} | {g('first_run_ms', 1):.1f} / {g('first_run_ms', 2):.1f} |")
    print(row)
if any(max(dynn[k][n]["prepare_cold_ms"] for k in dynn) < 0.1 for n in nets):
    print("\n¹ the supernet's load() prepares the default (largest) sub-network, so bench_supernet's cold prepare of max224 finds it cached.")

# Memory: dynn from bench_supernet's "memory:" line, ORT from process RSS around one session.
import re
mems = []
for k in sorted(dynn):
    with open(os.path.join(out, f"dynn_r{k[0]}_t{k[1]}.txt")) as f:
        m = re.search(r"memory: supernet ([\d.]+) MB, (\d+) prepared sub-networks ([\d.]+) MB.*?RSS: ([\d.]+) MB before load, "
                      r"([\d.]+) MB loaded, ([\d.]+) MB with", f.read())
    if m:
        mems.append([float(g) for g in m.groups()])
if mems:
    med = lambda i: statistics.median(x[i] for x in mems)
    print(f"\nMemory, dynn: supernet weights {med(0):.1f} MB + {int(med(1))} prepared sub-networks {med(2):.1f} MB; process RSS "
          f"{med(3):.0f} MB before load (LibTorch), {med(4):.0f} MB loaded, {med(5):.0f} MB with the 3 prepared "
          f"(+{med(5) - med(3):.0f} MB for the supernet and all three).")
if ort_ok:
    base = statistics.median(load(f"ort_r{r}.json")["rss_base_mb"] for r in R)
    parts = []
    for n in nets:
        d = [ort[(r, t, n)]["rss_with_session_mb"] - ort[(r, t, n)]["rss_before_mb"] for r in R for t in (1, 2)]
        parts.append(f"{n} +{statistics.median(d):.0f} MB")
    print(f"Memory, ORT: process RSS {base:.0f} MB before any session (node + onnxruntime); growth while one session "
          f"exists (created, run; .onnx bytes already in memory): {', '.join(parts)}. RSS is not returned on release, so later "
          f"sessions partly reuse earlier pages: rough numbers.")
EOF
echo
echo "bench_supernet: $BENCH; ONNX Runtime: $([[ $ORT_OK == 1 ]] && echo "onnxruntime-node $(node -p "require('$ORT_NODE_DIR/node_modules/onnxruntime-node/package.json').version")" || echo "not measured")"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
