#!/usr/bin/env python3
"""Turns the GPU run's JSON files into the markdown table of docs/benchmarks.md."""
import json
import os
import sys

out = sys.argv[1]
eager = json.load(open(os.path.join(out, "eager.json")))
print(f"GPU: {eager['gpu']}, PyTorch {eager['torch']}; ONNX Runtime providers: {', '.join(eager['ort_providers'])}\n")
print("| sub-network | batch | dynn prepared (ms) | dynn static-LibTorch baseline (ms) | PyTorch eager NCHW (ms) | PyTorch eager channels-last (ms) | ORT CUDA (ms) | dynn / best PyTorch |")
print("|---|---|---|---|---|---|---|---|")
switch = {}
for b in (1, 8):
    p = os.path.join(out, f"dynn_b{b}.json")
    if not os.path.exists(p):
        continue
    d = json.load(open(p))
    switch[b] = (d["switch_us_median"], d["switch_us_p99"])
    for n in d["nets"]:
        e = eager["nets"].get(n["name"], {})
        best = min(v for v in (e.get(f"eager_b{b}_ms"), e.get(f"eager_cl_b{b}_ms")) if v)
        ortv = e.get(f"ort_cuda_b{b}_ms")
        print(f"| {n['name']} | {b} | {n['dynn_ms']:.3f} | {n['static_ms']:.3f} | {e.get(f'eager_b{b}_ms', 0):.3f} | "
              f"{e.get(f'eager_cl_b{b}_ms', 0):.3f} | {('%.3f' % ortv) if ortv else 'n/a'} | {n['dynn_ms'] / best:.2f} |")
print()
for b, (m, p99) in switch.items():
    print(f"switch between prepared sub-networks (batch {b} run): median {m:.2f} us, p99 {p99:.2f} us")
