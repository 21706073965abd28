#!/usr/bin/env bash
# dynn prepared sub-networks (engines "fast" = XNNPACK and "aten" = LibTorch/oneDNN, the same-run
# baseline) vs ONNX Runtime (onnxruntime-node 1.30, CPU), batch 1 and 8.
#
#   benchmarks/supernet/ort/run.sh
#
# 1. exports max224/mid192/min128 to ONNX (export_onnx.py, Debian python3-torch; dynamic batch axis)
#    unless present,
# 2. alternates `bench_supernet --json` (engines fast and aten, threads 1 and 2) and `ort_bench.mjs`
#    (intra-op 1 and 2) for every batch size, ROUNDS times, so all see the same machine phase,
# 3. prints markdown tables per batch: medians, dynn fast / ORT at 1 and at 2 threads and best dynn /
#    best ORT, and ORT session creation next to dynn's switch / prepare times.
# Without python3-torch, node/npm or onnxruntime-node it says so and prints dynn's numbers alone (exit 0).
#
# Environment (all optional):
#   BENCH        bench_supernet binary (default: build/bin, else build-ort/bin under the repo)
#   ORT_MODELS   ONNX output dir (default: benchmarks/supernet/ort/models, git-ignored)
#   ORT_NODE_DIR scratch dir holding node_modules/onnxruntime-node (default /tmp/ortnode; installed
#                there with `npm install --ignore-scripts onnxruntime-node@1.30` when missing)
#   ROUNDS (3)  REPS (40, dynn runs per net)  ORT_RUNS (40)  WEIGHTS (fixture supernet.pth)
#   BATCHES ("1 8")  ENGINES ("fast aten")
#   ONEDNN       the oneDNN prototype (default: bench_onednn_proto next to BENCH, when built); batch 1
#                only, a column of its own, timing only (benchmarks/supernet_onednn)
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
BATCHES="${BATCHES:-1 8}"
ENGINES="${ENGINES:-fast aten}"
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

ONEDNN="${ONEDNN:-$(dirname "$BENCH")/bench_onednn_proto}"
[[ -x "$ONEDNN" ]] || ONEDNN=""

# ---- ONNX Runtime side: what is available? ---------------------------------------------------
ORT_OK=1
why_no_ort=""
# The stamp marks an export with a dynamic batch axis (older exports were batch 1 only).
if [[ ! -f "$ORT_MODELS/max224.onnx" || ! -f "$ORT_MODELS/mid192.onnx" || ! -f "$ORT_MODELS/min128.onnx" ||
      ! -f "$ORT_MODELS/dynamic_batch.stamp" ]]; then
  if /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "== exporting ONNX models to $ORT_MODELS"
    if /usr/bin/python3 "$HERE/export_onnx.py" --weights "$WEIGHTS" --out "$ORT_MODELS"; then
      touch "$ORT_MODELS/dynamic_batch.stamp"
    else
      ORT_OK=0; why_no_ort="export_onnx.py failed"
    fi
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
  for b in $BATCHES; do
    for e in $ENGINES; do
      for nt in 1 2; do
        "$BENCH" --weights "$WEIGHTS" --engine "$e" --threads "$nt" --batch "$b" --reps "$REPS" --no-static \
          --json "$OUT/dynn_${e}_b${b}_r${i}_t${nt}.json" > "$OUT/dynn_${e}_b${b}_r${i}_t${nt}.txt"
      done
    done
    if [[ -n "$ONEDNN" && $b == 1 ]]; then
      for nt in 1 2; do "$ONEDNN" --threads "$nt" --reps "$REPS" > "$OUT/onednn_r${i}_t${nt}.txt"; done
    fi
    if [[ $ORT_OK == 1 ]]; then
      (cd "$ORT_NODE_DIR" && node "$HERE/ort_bench.mjs" --models "$ORT_MODELS" --threads 1,2 --runs "$ORT_RUNS" \
         --batch "$b" --json "$OUT/ort_b${b}_r${i}.json" > /dev/null 2> "$OUT/ort_b${b}_r${i}.txt") ||
        { ORT_OK=0; why_no_ort="ort_bench.mjs failed: $(tail -1 "$OUT/ort_b${b}_r${i}.txt")"; }
    fi
  done
  echo "   round $i done; load $(cut -d' ' -f1-3 /proc/loadavg)"
done
[[ $ORT_OK == 1 ]] || echo "** ONNX Runtime not measured: $why_no_ort. dynn numbers only."

PY=/usr/bin/python3; [[ -x $PY ]] || PY=python3  # stdlib only
"$PY" - "$OUT" "$ROUNDS" "$ORT_OK" "$BATCHES" "$ENGINES" <<'EOF'
import json, os, re, statistics, sys
out, rounds, ort_ok = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
batches, engines = [int(b) for b in sys.argv[4].split()], sys.argv[5].split()
nets = ["max224", "mid192", "min128"]
R = range(1, rounds + 1)
def load(p):
    with open(os.path.join(out, p)) as f:
        return json.load(f)
# dynn[(engine, batch, round, threads)][net] and ort[(batch, round, intra, net)]
runs = {(e, b, r, t): load(f"dynn_{e}_b{b}_r{r}_t{t}.json") for e in engines for b in batches for r in R for t in (1, 2)}
dynn = {k: {n["name"]: n for n in v["nets"]} for k, v in runs.items()}
# oneDNN prototype (batch 1): onednn[(round, threads)][net] = (run ms, build cold ms, build warm ms)
onednn = {}
for r in R:
    for t in (1, 2):
        p = os.path.join(out, f"onednn_r{r}_t{t}.txt")
        if os.path.isfile(p):
            with open(p) as f:
                for m in re.finditer(r"^(\w+) ([\d.]+) ms \(again ([\d.]+)\); build cold ([\d.]+) ms, warm ([\d.]+) ms", f.read(), re.M):
                    onednn.setdefault((r, t), {})[m.group(1)] = (statistics.median([float(m.group(2)), float(m.group(3))]),
                                                              float(m.group(4)), float(m.group(5)))
has_onednn = len(onednn) == 2 * rounds
ort = {}
if ort_ok:
    for b in batches:
        for r in R:
            for rec in load(f"ort_b{b}_r{r}.json")["nets"]:
                ort[(b, r, rec["intra"], rec["name"])] = rec
def fmt(v, d=2):
    v = sorted(v)
    med = statistics.median(v)
    return f"{med:.{d}f}" if len(v) == 1 else f"{med:.{d}f} ({v[0]:.{d}f}–{v[-1]:.{d}f})"
first = engines[0]
for b in batches:
    print(f"\nBatch {b}: ms per inference of the whole batch, medians over {rounds} interleaved rounds; cells: median of "
          "the per-round medians (min–max).\n")
    hdr, sep = "| net |", "|---|"
    for e in engines:
        hdr += f" dynn {e} nt=1 | dynn {e} nt=2 |"
        sep += "---|---|"
    proto = has_onednn and b == 1
    if proto:
        hdr += " oneDNN prototype nt=1 | nt=2 |"
        sep += "---|---|"
    if ort_ok:
        hdr += f" ORT intra=1 | ORT intra=2 | {first} / ORT nt=1 | {first} / ORT nt=2 | best dynn / best ORT |"
        sep += "---|---|---|---|---|"
    print(hdr); print(sep)
    for n in nets:
        d = {(e, t): [dynn[(e, b, r, t)][n]["dynn_ms"] for r in R] for e in engines for t in (1, 2)}
        row = f"| {n} |" + "".join(f" {fmt(d[(e, 1)])} | {fmt(d[(e, 2)])} |" for e in engines)
        if proto:
            row += "".join(f" {fmt([onednn[(r, t)][n][0] for r in R])} |" for t in (1, 2))
        if ort_ok:
            o = {t: [ort[(b, r, t, n)]["median_ms"] for r in R] for t in (1, 2)}
            per_t = {t: [x / y for x, y in zip(d[(first, t)], o[t])] for t in (1, 2)}
            best = [min(d[(e, t)][i] for e in engines for t in (1, 2)) / min(o[1][i], o[2][i]) for i in range(rounds)]
            row += f" {fmt(o[1])} | {fmt(o[2])} | {fmt(per_t[1])} | {fmt(per_t[2])} | **{fmt(best)}** |"
        print(row)

b0 = batches[0]
print(f"\nSwitching / preparation, batch {b0} (ms unless noted; dynn: switch between prepared sub-networks, prepare = build a")
print("sub-network's plan from the loaded supernet, cold = first in the process, warm = re-prepare; ORT: InferenceSession.create")
print("from the in-memory .onnx, cold = first, warm = median of 2 more, + its first run).\n")
for e in engines:
    sws = [runs[(e, b0, r, t)] for r in R for t in (1, 2)]
    print(f"dynn {e} switch: median {fmt([s['switch_us_median'] for s in sws])} us, "
          f"p99 {fmt([s['switch_us_p99'] for s in sws])} us (all runs)")
print()
hdr = "| net |" + "".join(f" dynn {e} prepare cold | dynn {e} prepare warm |" for e in engines)
sep = "|---|" + "---|---|" * len(engines)
if ort_ok:
    hdr += " ORT create cold intra=1 / 2 | ORT create warm intra=1 / 2 | ORT first run intra=1 / 2 |"
    sep += "---|---|---|"
print(hdr); print(sep)
for n in nets:
    row = f"| {n} |"
    for e in engines:
        ks = [(e, b0, r, t) for r in R for t in (1, 2)]
        pc = [dynn[k][n]["prepare_cold_ms"] for k in ks]
        pw = [dynn[k][n]["prepare_warm_ms"] for k in ks]
        row += f" {fmt(pc, 1)} | {fmt(pw, 1)} |"
    if ort_ok:
        g = lambda key, t: statistics.median(ort[(b0, r, t, n)][key] for r in R)
        row += (f" {g('create_cold_ms', 1):.1f} / {g('create_cold_ms', 2):.1f} | {g('create_warm_ms', 1):.1f} / "
                f"{g('create_warm_ms', 2):.1f} | {g('first_run_ms', 1):.1f} / {g('first_run_ms', 2):.1f} |")
    print(row)

if has_onednn:
    print("\noneDNN prototype, building a sub-network (primitive descriptors + JIT + weight reorders; warm = same "
          "shapes again, primitive cache hit): " + ", ".join(
              f"{n} {fmt([onednn[k][n][1] for k in onednn], 0)} / {fmt([onednn[k][n][2] for k in onednn], 0)} ms" for n in nets))

# Memory: dynn from bench_supernet's "memory:" lines, ORT from process RSS around one session.
for e in engines:
    mems, ratios = [], []
    for r in R:
        for t in (1, 2):
            with open(os.path.join(out, f"dynn_{e}_b{b0}_r{r}_t{t}.txt")) as f:
                text = f.read()
            m = re.search(r"memory: supernet ([\d.]+) MB, (\d+) prepared sub-networks ([\d.]+) MB.*?RSS: ([\d.]+) MB before load, "
                          r"([\d.]+) MB loaded, ([\d.]+) MB with.*?workspace ([\d.]+) MB(?:; shared head ([\d.]+) MB)?", text)
            if m:
                mems.append([float(g or 0) for g in m.groups()])
            m = re.search(r"prepared bytes / own sliced weights: (.*)", text)
            if m:
                ratios.append(m.group(1))
    if mems:
        med = lambda i: statistics.median(x[i] for x in mems)
        print(f"\nMemory, dynn {e}: supernet weights {med(0):.1f} MB + {int(med(1))} prepared sub-networks {med(2):.1f} MB "
              f"(+ workspace {med(6):.1f} MB, + the head all of them share {med(7):.1f} MB); process RSS {med(3):.0f} MB before load (LibTorch), {med(4):.0f} MB loaded, "
              f"{med(5):.0f} MB with the 3 prepared (+{med(5) - med(3):.0f} MB for the supernet and all three).")
    if ratios:
        print(f"Prepared bytes / own sliced weights ({e}): {ratios[0]}")
if ort_ok:
    base = statistics.median(load(f"ort_b{b0}_r{r}.json")["rss_base_mb"] for r in R)
    parts = []
    for n in nets:
        d = [ort[(b0, r, t, n)]["rss_with_session_mb"] - ort[(b0, r, t, n)]["rss_before_mb"] for r in R for t in (1, 2)]
        parts.append(f"{n} +{statistics.median(d):.0f} MB")
    print(f"Memory, ORT: process RSS {base:.0f} MB before any session (node + onnxruntime); growth while one session "
          f"exists (created, run; .onnx bytes already in memory): {', '.join(parts)}. RSS is not returned on release, so later "
          f"sessions partly reuse earlier pages: rough numbers.")
EOF
echo
echo "oneDNN prototype: ${ONEDNN:-not built}"
echo "bench_supernet: $BENCH; ONNX Runtime: $([[ $ORT_OK == 1 ]] && echo "onnxruntime-node $(node -p "require('$ORT_NODE_DIR/node_modules/onnxruntime-node/package.json').version")" || echo "not measured")"
isa=$(grep -o -m1 -w -E 'avx512f' /proc/cpuinfo || grep -o -m1 -w -E 'avx2|asimd' /proc/cpuinfo || echo "baseline")
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, widest vector ISA: $isa; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
