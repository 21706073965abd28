#!/usr/bin/env bash
# Hostile inputs to the example binaries: each case states the exit status it must end with, a
# text its output must contain, and (optionally) a text it must NOT contain (e.g. proof that no
# model was built before a bad option was noticed). Every case runs under a timeout, so a hang
# fails. Usage: hostile_cli.sh BIN_DIR WORK_DIR
set -uo pipefail
BIN=$1
WORK=$2
rm -rf "$WORK" && mkdir -p "$WORK"
cd "$WORK"
failures=0
cases=0

# expect STATUS 'must contain' 'must not contain' -- command...
expect() {
  local want=$1 has=$2 hasnt=$3
  shift 4
  cases=$((cases + 1))
  local out rc
  out=$(timeout 60 "$@" 2>&1 </dev/null)
  rc=$?
  local ok=1
  [ "$rc" = "$want" ] || ok=0
  [ -z "$has" ] || grep -qF -- "$has" <<<"$out" || ok=0
  [ -z "$hasnt" ] || ! grep -qF -- "$hasnt" <<<"$out" || ok=0
  if [ $ok = 0 ]; then
    failures=$((failures + 1))
    echo "FAIL: $* -> exit $rc (want $want), must contain '$has'${hasnt:+, must not contain '$hasnt'}"
    echo "$out" | tail -5 | sed 's/^/    | /'
  fi
}

have() { [ -x "$BIN/$1" ]; }

# ---- inputs: a folder of unreadable images, a symlink loop, a FIFO, /dev/zero
mkdir -p bad/class000 bad/class001
printf 'not a jpeg' >bad/class000/a.jpg
printf '\xff\xd8\xff garbage' >bad/class001/b.jpg
mkdir -p loop/class000
ln -s .. loop/class000/up
mkfifo fifo
echo '{"supernet": "ofa_mbv3_d234_e346_k357_w1.2", "levels": []}' >empty_levels.json

if have dynn-eval; then
  expect 2 "none of the 2 image(s)" "" -- "$BIN/dynn-eval" --images bad --subnet smallest@128 --no-progress --json bad.json
  grep -q '"latency_median_ms": null' bad.json 2>/dev/null || { failures=$((failures + 1)); echo "FAIL: dynn-eval JSON has no null latency"; }
  grep -q '"top1": null' bad.json 2>/dev/null || { failures=$((failures + 1)); echo "FAIL: dynn-eval JSON has no null top1"; }
  expect 2 "--json" "supernet:" -- "$BIN/dynn-eval" --images bad --json /nonexistent-dir/x.json
  expect 2 "--threads" "supernet:" -- "$BIN/dynn-eval" --images bad --threads 100000
  expect 2 "--batch" "supernet:" -- "$BIN/dynn-eval" --images bad --batch nan
  expect 2 "given twice" "" -- "$BIN/dynn-eval" --images bad --batch 1 --batch 2
  expect 2 "" "" -- "$BIN/dynn-eval" --images loop --subnet smallest@128 --no-progress
fi
if have dynn-classify; then
  expect 2 "none of the 2 image(s)" "" -- "$BIN/dynn-classify" --subnet smallest@128 --no-progress bad
  expect 2 "'largest@abc'" "supernet:" -- "$BIN/dynn-classify" --subnet largest@abc bad
  expect 2 "'largest@224xyz'" "supernet:" -- "$BIN/dynn-classify" --subnet largest@224xyz bad
  expect 2 "level" "supernet:" -- "$BIN/dynn-classify" --subnet L99999999999999999999 bad
  expect 2 "--top" "supernet:" -- "$BIN/dynn-classify" --top 5x bad
fi
if have dynn-demo; then
  expect 2 "--targets" "calibrating" -- "$BIN/dynn-demo" --targets 1,2,3
  expect 2 "--targets" "calibrating" -- "$BIN/dynn-demo" --targets 1,2,nan,4
  expect 2 "no controller named 'nope'" "calibrating" -- "$BIN/dynn-demo" --controller nope
  expect 2 "jitter_k" "calibrating" -- "$BIN/dynn-demo" --controller-params '{"jitter_k": "x"}'
  expect 2 "--out" "calibrating" -- "$BIN/dynn-demo" --out /proc/dynn-out
  expect 2 "--out" "calibrating" -- "$BIN/dynn-demo" --out empty_levels.json
  expect 2 "--threads" "calibrating" -- "$BIN/dynn-demo" --threads 442
  expect 2 "given twice" "calibrating" -- "$BIN/dynn-demo" --steps 10 --steps 20
  expect 2 "level" "calibrating" -- "$BIN/dynn-demo" --levels empty_levels.json
  expect 0 "generate images" "" -- "$BIN/dynn-demo" --write-images gen --count 240
fi
if have dynn-profile; then
  expect 2 "--population" "" -- "$BIN/dynn-profile" search --predictor missing.pth --macs --population nan
  expect 2 "--levels" "" -- "$BIN/dynn-profile" search --predictor missing.pth --macs --levels 0
  expect 2 "--mutate-prob" "" -- "$BIN/dynn-profile" search --predictor missing.pth --macs --mutate-prob 2
  expect 2 "--resolutions" "" -- "$BIN/dynn-profile" search --predictor missing.pth --macs --resolutions 160,abc
  expect 2 "--out" "" -- "$BIN/dynn-profile" search --predictor missing.pth --macs --out /nonexistent-dir/l.json
  expect 2 "given twice" "" -- "$BIN/dynn-profile" profile --cpu-table t --setting "a=1,a=2"
  expect 2 "unknown option" "" -- "$BIN/dynn-profile" lut --nope
  expect 2 "level" "" -- "$BIN/dynn-profile" predict --levels empty_levels.json
fi
if have dynn-ckpt; then
  expect 2 "--values" "" -- "$BIN/dynn-ckpt" x.pth --values abc
  expect 2 "fifo" "" -- "$BIN/dynn-ckpt" fifo
  expect 2 "/dev/zero" "" -- "$BIN/dynn-ckpt" /dev/zero
  expect 2 "no checkpoint given" "" -- "$BIN/dynn-ckpt" --values 3
fi
if have dynn-platform; then
  expect 0 "affinity" "" -- "$BIN/dynn-platform" --nvml-writes
  expect 2 "unknown option" "" -- "$BIN/dynn-platform" --frobnicate
  expect 2 "restore record" "" -- "$BIN/dynn-platform" --restore missing-record.json
  printf '{"format": "dynn-restore-record", "version": 1, "pid": 1, "entries": []}' >running.json
  expect 1 "still runs" "" -- "$BIN/dynn-platform" --restore running.json
  expect 2 "--force goes with --restore" "" -- "$BIN/dynn-platform" --force
fi

echo "hostile_cli: $cases cases, $failures failed"
[ "$failures" = 0 ]
