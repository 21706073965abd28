#!/usr/bin/python3
"""Export static OFA ResNet-50 sub-networks to ONNX for the ONNX Runtime comparison.

Builds each sub-network in plain PyTorch from a supernet state dict (prefix-sliced weights, as
OFA's get_active_subnet: stem convs, the optional input_stem.1 residual, max pool, bottlenecks with
the avg-pool + 1x1 conv shortcut, global average pool, linear), checks the builder against the
golden logits of ../shared/fixtures/ofa_resnet50_narrow, and writes <out>/<name>.onnx (opset 13,
dynamic batch axis, eval mode) plus <name>_input.f32 / <name>_logits.f32 (PyTorch output on a
fixed random input) for the runtime sides to check against.

Without --weights it makes a deterministic random supernet of the published full-size layout
(every key and shape of ../shared/docs/ofa_resnet50_keys.txt; speed does not depend on the
values) and saves it as <out>/supernet_random.pth, so dynn runs the very same weights.

Needs Debian's python3-torch (run with /usr/bin/python3). Not part of the dynn build.

  /usr/bin/python3 export_onnx.py [--weights supernet.pth] [--out DIR] [--nets max224,mid192,min128]
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
SHARED = os.path.normpath(os.path.join(HERE, "../../../../shared"))

# The sub-networks bench_resnet50 times (d, e, w, r).
NETS = {
    "max224": ([2] * 5, [0.35] * 18, [2] * 6, 224),
    "mid192": ([0, 1, 1, 1, 1], [0.25] * 18, [1] * 6, 192),
    "min128": ([0] * 5, [0.2] * 18, [0] * 6, 128),
}
WIDTH_MULTS = [0.65, 0.8, 1.0]
BASE_DEPTH = [2, 2, 4, 2]
BLOCKS_PER_STAGE = [4, 4, 6, 4]
STAGE_STRIDE = [1, 2, 2, 2]


def make_divisible(v, divisor=8, min_val=None):
    if min_val is None:
        min_val = divisor
    new_v = max(min_val, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def dynamic_key(k):
    """The dynamic-module spelling of a key (static 'conv.weight' -> 'conv.conv.weight', ...)."""
    k = k[7:] if k.startswith("module.") else k
    for static, dyn in ((".conv.weight", ".conv.conv.weight"), (".bn.weight", ".bn.bn.weight"), (".bn.bias", ".bn.bn.bias"),
                        (".bn.running_mean", ".bn.bn.running_mean"), (".bn.running_var", ".bn.bn.running_var"),
                        (".bn.num_batches_tracked", ".bn.bn.num_batches_tracked"), ("linear.weight", "linear.linear.weight"),
                        ("linear.bias", "linear.linear.bias")):
        if k.endswith(static) and not k.endswith(dyn):
            return k[: -len(static)] + dyn
    return k


def load_state_dict(path):
    obj = torch.load(path, map_location="cpu")
    sd = obj["state_dict"] if isinstance(obj, dict) and "state_dict" in obj else obj
    return {dynamic_key(k): v.float() if v.is_floating_point() else v for k, v in sd.items()}


def random_state_dict(seed=50):
    """Every key and shape of the published layout: He-normal convs, non-trivial BN statistics."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    with open(os.path.join(SHARED, "docs/ofa_resnet50_keys.txt")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, shape, dtype = line.rstrip("\n").split("\t")
            shape = json.loads(shape)
            if dtype == "int64":
                sd[name] = torch.zeros(shape, dtype=torch.int64)
            elif name.endswith("conv.weight") or name.endswith("linear.weight"):
                fan_in = int(np.prod(shape[1:]))
                sd[name] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
            elif name.endswith("running_var"):
                sd[name] = torch.rand(shape, generator=g) + 0.5
            elif name.endswith("bn.weight"):
                sd[name] = 1.0 + 0.1 * torch.randn(shape, generator=g)
            else:  # BN bias, running_mean, linear bias
                sd[name] = 0.1 * torch.randn(shape, generator=g)
    return sd


def conv_bn(sd, conv_prefix, bn_prefix, out, inp, stride, relu):
    w = sd[f"{conv_prefix}.conv.weight"][:out, :inp]
    k = w.shape[2]
    conv = nn.Conv2d(inp, out, k, stride=stride, padding=k // 2, bias=False)
    bn = nn.BatchNorm2d(out, eps=1e-5)
    with torch.no_grad():
        conv.weight.copy_(w)
        for n in ("weight", "bias", "running_mean", "running_var"):
            getattr(bn, n).copy_(sd[f"{bn_prefix}.bn.{n}"][:out])
    return nn.Sequential(conv, bn, nn.ReLU()) if relu else nn.Sequential(conv, bn)


class Bottleneck(nn.Module):
    def __init__(self, sd, b, cin, mid, cout, stride, downsample):
        super().__init__()
        p = f"blocks.{b}"
        self.conv1 = conv_bn(sd, f"{p}.conv1.conv", f"{p}.conv1.bn", mid, cin, 1, True)
        self.conv2 = conv_bn(sd, f"{p}.conv2.conv", f"{p}.conv2.bn", mid, mid, stride, True)
        self.conv3 = conv_bn(sd, f"{p}.conv3.conv", f"{p}.conv3.bn", cout, mid, 1, False)
        self.down = None
        if downsample:
            pool = [nn.AvgPool2d(stride, stride, 0, ceil_mode=True, count_include_pad=False)] if stride > 1 else []
            self.down = nn.Sequential(*pool, conv_bn(sd, f"{p}.downsample.conv", f"{p}.downsample.bn", cout, cin, 1, False))

    def forward(self, x):
        res = self.down(x) if self.down is not None else x
        return F.relu(self.conv3(self.conv2(self.conv1(x))) + res)


class StemResidual(nn.Module):
    def __init__(self, conv):
        super().__init__()
        self.conv = conv

    def forward(self, x):
        return self.conv(x) + x


class SubNet(nn.Module):
    def __init__(self, sd, d, e, w):
        super().__init__()
        stem = sd["input_stem.2.conv.conv.weight"].shape[0]  # at width 1.0
        stages = [sd[f"blocks.{sum(BLOCKS_PER_STAGE[:s])}.conv3.conv.conv.weight"].shape[0] for s in range(4)]
        stem_out = make_divisible(stem * WIDTH_MULTS[w[1]], 8)
        stem_mid = make_divisible(make_divisible(stem * WIDTH_MULTS[w[0]], 8) // 2, 8)
        layers = [conv_bn(sd, "input_stem.0.conv", "input_stem.0.bn", stem_mid, 3, 2, True)]
        if d[0] == 2:
            layers.append(StemResidual(conv_bn(sd, "input_stem.1.conv.conv", "input_stem.1.conv.bn", stem_mid, stem_mid, 1, True)))
        layers.append(conv_bn(sd, "input_stem.2.conv", "input_stem.2.bn", stem_out, stem_mid, 1, True))
        layers.append(nn.MaxPool2d(3, 2, 1))
        cin = stem_out
        for s in range(4):
            cout = make_divisible(stages[s] * WIDTH_MULTS[w[2 + s]], 8)
            first = sum(BLOCKS_PER_STAGE[:s])
            for i in range(BASE_DEPTH[s] + d[1 + s]):
                mid = make_divisible(round(cout * e[first + i]), 8)
                layers.append(Bottleneck(sd, first + i, cin, mid, cout, STAGE_STRIDE[s] if i == 0 else 1, i == 0))
                cin = cout
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(cin, sd["classifier.linear.linear.weight"].shape[0])
        with torch.no_grad():
            self.classifier.weight.copy_(sd["classifier.linear.linear.weight"][:, :cin])
            self.classifier.bias.copy_(sd["classifier.linear.linear.bias"])

    def forward(self, x):
        return self.classifier(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


def check_against_fixture():
    """The builder against the OFA reference's golden logits of the narrow fixture."""
    d = os.path.join(SHARED, "fixtures/ofa_resnet50_narrow")
    if not os.path.exists(os.path.join(d, "cases.json")):
        print("builder check skipped: no fixture at", d)
        return
    sd = load_state_dict(os.path.join(d, "supernet.pth"))
    worst = 0.0
    for c in json.load(open(os.path.join(d, "cases.json")))["cases"]:
        s = c["subnet"]
        net = SubNet(sd, s["d"], s["e"], s["w"]).eval()
        x = torch.from_numpy(np.fromfile(os.path.join(d, c["input"]), dtype=np.float32).reshape(c["input_shape"]))
        ref = np.fromfile(os.path.join(d, c["logits"]), dtype=np.float32)
        with torch.no_grad():
            y = net(x).numpy().ravel()
        rel = float(np.abs(y - ref).max() / np.abs(ref).max())
        worst = max(worst, rel)
        if rel > 5e-4:
            sys.exit(f"builder differs from the OFA reference on {c['name']}: rel {rel:.2e}")
    print(f"builder matches the OFA reference on the narrow fixture (worst max|dy|/max|y| {worst:.1e})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="")
    ap.add_argument("--out", default=os.path.join(HERE, "models"))
    ap.add_argument("--nets", default=",".join(NETS))
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    check_against_fixture()
    os.makedirs(args.out, exist_ok=True)
    if args.weights:
        sd = load_state_dict(args.weights)
    else:
        sd = random_state_dict()
        torch.save({"state_dict": sd}, os.path.join(args.out, "supernet_random.pth"))
        print("wrote", os.path.join(args.out, "supernet_random.pth"))
    for name in args.nets.split(","):
        d, e, w, r = NETS[name]
        net = SubNet(sd, d, e, w).eval()
        x = torch.from_numpy(np.random.default_rng(7).standard_normal((1, 3, r, r)).astype(np.float32))
        y = net(x)
        x.numpy().tofile(os.path.join(args.out, f"{name}_input.f32"))
        y.numpy().astype(np.float32).tofile(os.path.join(args.out, f"{name}_logits.f32"))
        torch.onnx.export(net, x, os.path.join(args.out, f"{name}.onnx"), opset_version=13, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        print(f"{name}: r={r}, {sum(p.numel() for p in net.parameters()) / 1e6:.2f} M parameters -> {name}.onnx")


if __name__ == "__main__":
    main()
