#!/usr/bin/python3
"""Export static OFA MobileNetV3 w1.0 sub-networks to ONNX for the ONNX Runtime comparison.

Builds each sub-network in plain PyTorch from the supernet checkpoint (prefix-sliced weights,
kernel transforms 7->5->3 with M^T, BN, SE, h_swish via F.hardswish or --ops ofa), checks it against
the fixture golden logits where a case with the same sub-network exists, and writes
<out>/<name>.onnx (opset 13, dynamic batch axis, eval mode) plus <name>_input.f32 / <name>_logits.f32 (PyTorch
output on a fixed random input) for the runtime side to check against.

Needs Debian's python3-torch (run with /usr/bin/python3). Not part of the dynn build.

  /usr/bin/python3 export_onnx.py [--weights supernet.pth] [--cases cases.json] [--out DIR] [--nets max224,mid192]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_FIXTURES = os.path.normpath(os.path.join(HERE, "../../../../shared/fixtures/ofa_mbv3_w1.0"))

# Uniform sub-networks benchmarked by bench_supernet (name -> ks, e, d, r).
NETS = {
    "max224": (7, 6, 4, 224),
    "mid192": (5, 4, 3, 192),
    "min128": (3, 3, 2, 128),
}

STAGE_WIDTHS = [24, 40, 80, 112, 160]

# --ops ofa: the OFA modules' literal arithmetic (Hswish = x * relu6(x + 3) / 6, Hsigmoid = relu6(x + 3) / 6,
# global pooling = mean(3).mean(2)), i.e. what exporting OFA's own nn.Modules gives; --ops torch (default)
# uses F.hardswish / F.hardsigmoid / adaptive_avg_pool2d, which export as HardSigmoid(+Mul) or HardSwish
# (opset >= 14) and GlobalAveragePool.
OPS = {"style": "torch"}


def hswish(x):
    return x * F.relu6(x + 3.0) / 6.0 if OPS["style"] == "ofa" else F.hardswish(x)


def hsigmoid(x):
    return F.relu6(x + 3.0) / 6.0 if OPS["style"] == "ofa" else F.hardsigmoid(x)


def gpool(x):
    return x.mean(3, keepdim=True).mean(2, keepdim=True) if OPS["style"] == "ofa" else F.adaptive_avg_pool2d(x, 1)
STAGE_STRIDES = [2, 2, 2, 1, 2]
STAGE_HSWISH = [False, False, True, True, True]
STAGE_SE = [False, True, False, True, True]


def make_divisible(v, divisor=8, min_val=None):
    if min_val is None:
        min_val = divisor
    new_v = max(min_val, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def load_state_dict(path):
    obj = torch.load(path, map_location="cpu")
    sd = obj["state_dict"] if isinstance(obj, dict) and "state_dict" in obj else obj
    # Older OFA checkpoints name the block body "mobile_inverted_conv" (spec H11).
    return {k.replace(".mobile_inverted_conv.", ".conv."): v.float() if v.is_floating_point() else v
            for k, v in sd.items()}


def get(sd, key):
    if key not in sd:
        raise KeyError(f"checkpoint has no key '{key}'")
    return sd[key]


def bn_from(sd, prefix, n):
    bn = nn.BatchNorm2d(n, eps=1e-5)
    with torch.no_grad():
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(bn, name).copy_(get(sd, f"{prefix}.{name}")[:n])
    return bn


def conv_from(weight, stride=1, groups=1, bias=None):
    o, i, kh, kw = weight.shape
    conv = nn.Conv2d(i * groups, o, kh, stride=stride, padding=kh // 2, groups=groups, bias=bias is not None)
    with torch.no_grad():
        conv.weight.copy_(weight)
        if bias is not None:
            conv.bias.copy_(bias)
    return conv


def active_dw_kernel(sd, prefix, k, mid):
    """Depthwise kernel of size k for the first `mid` channels: crop + transform chain 7->5->3 (spec 2.2)."""
    w = get(sd, f"{prefix}.conv.conv.weight")[:mid]
    if k == 7:
        return w.clone()
    k5 = w[:, :, 1:6, 1:6].reshape(mid, 25)
    k5 = F.linear(k5, get(sd, f"{prefix}.conv.7to5_matrix")).reshape(mid, 1, 5, 5)
    if k == 5:
        return k5
    k3 = k5[:, :, 1:4, 1:4].reshape(mid, 9)
    return F.linear(k3, get(sd, f"{prefix}.conv.5to3_matrix")).reshape(mid, 1, 3, 3)


class SE(nn.Module):
    def __init__(self, sd, prefix, mid):
        super().__init__()
        sm = make_divisible(mid // 4, 8)
        self.reduce = conv_from(get(sd, f"{prefix}.fc.reduce.weight")[:sm, :mid], bias=get(sd, f"{prefix}.fc.reduce.bias")[:sm])
        self.expand = conv_from(get(sd, f"{prefix}.fc.expand.weight")[:mid, :sm], bias=get(sd, f"{prefix}.fc.expand.bias")[:mid])

    def forward(self, x):
        z = gpool(x)
        z = F.relu(self.reduce(z))
        return x * hsigmoid(self.expand(z))


class MBBlock(nn.Module):
    def __init__(self, sd, idx, cin, cout, k, e, stride, use_hswish, se, shortcut):
        super().__init__()
        p = f"blocks.{idx}.conv"
        mid = make_divisible(round(cin * e), 8)
        self.act = hswish if use_hswish else F.relu
        self.expand = conv_from(get(sd, f"{p}.inverted_bottleneck.conv.conv.weight")[:mid, :cin])
        self.expand_bn = bn_from(sd, f"{p}.inverted_bottleneck.bn.bn", mid)
        self.dw = conv_from(active_dw_kernel(sd, f"{p}.depth_conv", k, mid), stride=stride, groups=mid)
        self.dw_bn = bn_from(sd, f"{p}.depth_conv.bn.bn", mid)
        self.se = SE(sd, f"{p}.depth_conv.se", mid) if se else None
        self.proj = conv_from(get(sd, f"{p}.point_linear.conv.conv.weight")[:cout, :mid])
        self.proj_bn = bn_from(sd, f"{p}.point_linear.bn.bn", cout)
        self.shortcut = shortcut

    def forward(self, x):
        y = self.act(self.expand_bn(self.expand(x)))
        y = self.act(self.dw_bn(self.dw(y)))
        if self.se is not None:
            y = self.se(y)
        y = self.proj_bn(self.proj(y))
        return y + x if self.shortcut else y


class StaticSubnet(nn.Module):
    def __init__(self, sd, ks, e, d):
        super().__init__()
        self.first = conv_from(get(sd, "first_conv.conv.weight"), stride=2)
        self.first_bn = bn_from(sd, "first_conv.bn", 16)
        self.b0_dw = conv_from(get(sd, "blocks.0.conv.depth_conv.conv.weight"), groups=16)
        self.b0_dw_bn = bn_from(sd, "blocks.0.conv.depth_conv.bn", 16)
        self.b0_pw = conv_from(get(sd, "blocks.0.conv.point_linear.conv.weight"))
        self.b0_pw_bn = bn_from(sd, "blocks.0.conv.point_linear.bn", 16)
        blocks, cin = [], 16
        for s in range(5):
            for q in range(d[s]):
                idx = 1 + 4 * s + q
                blocks.append(MBBlock(sd, idx, cin, STAGE_WIDTHS[s], ks[idx - 1], e[idx - 1],
                                      STAGE_STRIDES[s] if q == 0 else 1, STAGE_HSWISH[s], STAGE_SE[s], q > 0))
                cin = STAGE_WIDTHS[s]
        self.blocks = nn.ModuleList(blocks)
        self.final = conv_from(get(sd, "final_expand_layer.conv.weight"))
        self.final_bn = bn_from(sd, "final_expand_layer.bn", 960)
        self.mix = conv_from(get(sd, "feature_mix_layer.conv.weight"))
        self.classifier = nn.Linear(1280, 1000)
        with torch.no_grad():
            self.classifier.weight.copy_(get(sd, "classifier.linear.weight"))
            self.classifier.bias.copy_(get(sd, "classifier.linear.bias"))

    def forward(self, x):
        x = hswish(self.first_bn(self.first(x)))
        x = self.b0_pw_bn(self.b0_pw(F.relu(self.b0_dw_bn(self.b0_dw(x))))) + x
        for b in self.blocks:
            x = b(x)
        x = hswish(self.final_bn(self.final(x)))
        x = gpool(x)
        x = hswish(self.mix(x))
        return self.classifier(torch.flatten(x, 1))


def uniform(ks, e, d):
    return [ks] * 20, [e] * 20, [d] * 5


def check_golden(sd, cases_path):
    """Check every fixture case whose sub-network is one of NETS; returns {name: rel_err}."""
    folder = os.path.dirname(cases_path)
    cases = json.load(open(cases_path))["cases"]
    out = {}
    for name, (k, e, d, r) in NETS.items():
        want = dict(zip(("ks", "e", "d"), uniform(k, e, d)), r=r)
        for c in cases:
            if c["subnet"] != want:
                continue
            x = torch.from_numpy(np.fromfile(os.path.join(folder, c["input"]), dtype="<f4").reshape(c["input_shape"]))
            ref = torch.from_numpy(np.fromfile(os.path.join(folder, c["logits"]), dtype="<f4").reshape(c["logits_shape"]))
            net = StaticSubnet(sd, *uniform(k, e, d)).eval()
            with torch.no_grad():
                y = net(x)
            rel = float((y - ref).abs().max() / ref.abs().max())
            same_argmax = bool((y.argmax(1) == ref.argmax(1)).all())
            ok = rel <= 5e-4 and same_argmax
            print(f"golden {c['name']} ({name}): max|y-ref|/max|ref| = {rel:.2e}, argmax equal: {same_argmax} -> "
                  f"{'OK' if ok else 'FAIL'}")
            if not ok:
                raise SystemExit(f"{name} does not match fixture {c['name']} (rel {rel:.2e}, tolerance 5e-4)")
            out[name] = rel
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=os.path.join(DEFAULT_FIXTURES, "supernet.pth"))
    ap.add_argument("--cases", default=None, help="cases.json (default: next to --weights)")
    ap.add_argument("--out", default=os.path.join(HERE, "models"))
    ap.add_argument("--nets", default=",".join(NETS), help="comma-separated subset of " + ",".join(NETS))
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--ops", choices=("torch", "ofa"), default="torch",
                    help="torch: F.hardswish/hardsigmoid + GlobalAveragePool (default); ofa: OFA's literal arithmetic")
    args = ap.parse_args()
    OPS["style"] = args.ops

    if not os.path.isfile(args.weights):
        sys.exit(f"weights file not found: {args.weights}")
    names = [n for n in args.nets.split(",") if n]
    for n in names:
        if n not in NETS:
            sys.exit(f"unknown sub-network '{n}' (known: {', '.join(NETS)})")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    sd = load_state_dict(args.weights)
    cases = args.cases or os.path.join(os.path.dirname(args.weights), "cases.json")
    if os.path.isfile(cases):
        check_golden(sd, cases)
    else:
        print(f"no {cases}: golden check skipped")

    os.makedirs(args.out, exist_ok=True)
    for n in names:
        k, e, d, r = NETS[n]
        net = StaticSubnet(sd, *uniform(k, e, d)).eval()
        x = torch.randn(1, 3, r, r, generator=torch.Generator().manual_seed(0))
        path = os.path.join(args.out, f"{n}.onnx")
        with torch.no_grad():
            torch.onnx.export(net, x, path, opset_version=args.opset, input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
        # A reference pair so the ONNX Runtime side can check it runs the same function.
        with torch.no_grad():
            y = net(x)
        x.numpy().astype("<f4").tofile(os.path.join(args.out, f"{n}_input.f32"))
        y.numpy().astype("<f4").tofile(os.path.join(args.out, f"{n}_logits.f32"))
        print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB) and its reference input/logits")


if __name__ == "__main__":
    main()
