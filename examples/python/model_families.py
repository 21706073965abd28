#!/usr/bin/env python3
"""Both model families through the family-agnostic C handle from Python (standard library only):
loads each shared fixture supernet (the family detected from its keys), runs every golden case
and checks the logits against the OFA reference, shows that a bad sub-network names its key, and
runs the ResNet-50 model under the runtime manager on the simulated Xavier NX.

  DYNN_C_LIBRARY=build/capi/libdynn_c.so python3 examples/python/model_families.py [--shared DIR]
"""
import argparse
import array
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dynn_ctypes as dynn  # noqa: E402


def read_f32(path):
    a = array.array("f")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    return a


def check(y, ref, classes):
    max_ref = max(abs(v) for v in ref)
    max_diff = max(abs(a - b) for a, b in zip(y, ref))
    rows = len(ref) // classes
    same = all(max(range(classes), key=lambda k: y[r * classes + k]) == max(range(classes), key=lambda k: ref[r * classes + k])
               for r in range(rows))
    return max_diff <= 5e-4 * max_ref and same, max_diff / max_ref


def under_manager(m):
    """Two ResNet-50 points (recorded reference latencies) under the pareto controller: a loose
    target runs the large one, a tight one the small one; the manager switches the model itself."""
    def point(pid, d, e, w, r, ms, acc):
        return {"id": pid, "subnet": {"d": [d] * 5, "e": [e] * 18, "w": [w] * 6, "r": r}, "device": "cpu", "hardware": {},
                "latency_ms": ms, "latency_p90_ms": ms, "accuracy": acc, "accuracy_source": "predicted", "macs": 0}
    prof = {"format": "dynn-profile", "version": 1, "device_name": "sim", "supernet": "ofa_resnet50", "family": "ofa_resnet50",
            "created": "", "points": [point("small", 0, 0.2, 0, 128, 5, 0.7), point("large", 2, 0.35, 2, 224, 20, 0.8)]}
    failed = 0
    with dynn.Platform.simulated("xavier-nx") as plat, dynn.Profile.from_json(json.dumps(prof)) as p, \
            dynn.Controller.builtin("pareto") as ctl, dynn.Manager(plat, p, ctl, model=m, target_latency_ms=100) as mgr:
        ran = []
        for target in (100, 10):
            mgr.set_targets(latency_ms=target)
            res = mgr.infer()
            ran.append(mgr.point_id(res.point))
        ok = ran == ["large", "small"] and mgr.point_family(0) == "ofa_resnet50" and '"r":128' in m.subnet()
        failed += not ok
        print(f"ofa_resnet50 under the manager (simulated Xavier NX): ran {ran}, {mgr.point_subnet(1)[:40]}... "
              f"{'ok' if ok else 'FAILED'}")
    return failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.environ.get("DYNN_SHARED_DIR", os.path.join(os.path.dirname(__file__), "../../../shared")))
    args = ap.parse_args()
    failed = 0
    for fixture in ("ofa_resnet50_narrow", "ofa_mbv3_w1.0"):
        d = os.path.join(args.shared, "fixtures", fixture)
        if not os.path.exists(os.path.join(d, "cases.json")):
            print(f"{fixture}: skipped (no shared fixtures at {args.shared})")
            return 77
        with dynn.Model.load(os.path.join(d, "supernet.pth"), num_threads=1) as m:
            cases = json.load(open(os.path.join(d, "cases.json")))["cases"]
            for c in cases:
                sub = json.dumps(c["subnet"])
                m.set_subnet(sub)
                n, _, r, _ = c["input_shape"]
                x = read_f32(os.path.join(d, c["input"]))
                image = (dynn.c_float * len(x)).from_buffer(x)
                ok, rel = check(m.infer(image, n, r), read_f32(os.path.join(d, c["logits"])), m.num_classes)
                failed += not ok
                macs, params = m.subnet_info()
                print(f"{m.family} {c['name']}: r={m.resolution()} {macs / 1e6:.1f} MMACs {params / 1e6:.2f} M params,"
                      f" max|dy|/max|y| {rel:.1e} {'ok' if ok else 'FAILED'}")
            try:
                m.set_subnet('{"d":[2,2,2,2,2],"e":[0.3],"w":[2,2,2,2,2,2],"r":224}')
                print("bad sub-network accepted: FAILED")
                failed += 1
            except dynn.DynnError as e:
                print(f"{m.family}: bad sub-network refused as expected: {e}")
            if m.family == "ofa_resnet50":
                failed += under_manager(m)
    print("failed:", failed) if failed else print("all cases match the OFA reference")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
