#!/usr/bin/env python3
"""Baselines for the GPU benchmark: the same static OFA sub-networks in the machine's PyTorch
(eager, float32, TF32 off as in dynn) and, when its CUDA provider is present, ONNX Runtime CUDA.
Builds the sub-networks from the spec with benchmarks/supernet/ort/export_onnx.py's StaticSubnet.

  python3 torch_eager.py --weights supernet.pth --out results.json [--reps 60]
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "supernet", "ort"))
import export_onnx  # noqa: E402  (StaticSubnet, load_state_dict, NETS)


def time_it(fn, reps):
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ts.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--reps", type=int, default=60)
    args = ap.parse_args()
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda:0")
    sd = export_onnx.load_state_dict(args.weights)
    res = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0), "nets": {}}
    try:
        import onnxruntime as ort
        providers = ort.get_available_providers()
    except Exception as e:  # noqa: BLE001
        ort, providers = None, [f"onnxruntime not importable: {e}"]
    res["ort_providers"] = providers
    for name, (k, e, d, r) in export_onnx.NETS.items():
        net = export_onnx.StaticSubnet(sd, [k] * 20, [e] * 20, [d] * 5).eval().to(dev)
        entry = {}
        for batch in (1, 8):
            x = torch.randn(batch, 3, r, r, device=dev)
            with torch.no_grad():
                entry[f"eager_b{batch}_ms"] = time_it(lambda: net(x).cpu(), args.reps)
                xc = x.contiguous(memory_format=torch.channels_last)
                netc = net.to(memory_format=torch.channels_last)
                entry[f"eager_cl_b{batch}_ms"] = time_it(lambda: netc(xc).cpu(), args.reps)
                net = net.to(memory_format=torch.contiguous_format)
            if ort is not None and "CUDAExecutionProvider" in providers:
                path = f"/tmp/{name}_b{batch}.onnx"
                torch.onnx.export(net.cpu(), x.cpu(), path, opset_version=13)
                net = net.to(dev)
                sess = ort.InferenceSession(path, providers=["CUDAExecutionProvider"])
                xi = x.cpu().numpy()
                iname = sess.get_inputs()[0].name
                entry[f"ort_cuda_b{batch}_ms"] = time_it(lambda: sess.run(None, {iname: xi}), args.reps)
        res["nets"][name] = entry
        print(name, json.dumps(entry), flush=True)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
