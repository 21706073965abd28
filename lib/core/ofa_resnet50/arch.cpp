#include "dynn/ofa_resnet50/arch.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/json_strict.hpp"
#include "dynn/error.hpp"
#include "dynn/make_divisible.hpp"
#include "dynn/parse.hpp"

namespace dynn::ofa_resnet50 {
namespace {

[[noreturn]] void invalid(const std::string& msg) { throw Error(ErrorCode::InvalidArgument, msg); }

// Index of e in kExpandRatios (exact to 1e-9: JSON writes 0.35 as the nearest double), -1 if none.
int ratio_index(double e) {
  for (size_t i = 0; i < kExpandRatios.size(); ++i)
    if (std::fabs(e - kExpandRatios[i]) < 1e-9) return static_cast<int>(i);
  return -1;
}

int stage_of(int block) {
  int first = 0;
  for (int s = 0; s < kNumStages; ++s) {
    if (block < first + kBlocksPerStage[static_cast<size_t>(s)]) return s;
    first += kBlocksPerStage[static_cast<size_t>(s)];
  }
  return -1;
}

int first_block(int stage) {
  int first = 0;
  for (int s = 0; s < stage; ++s) first += kBlocksPerStage[static_cast<size_t>(s)];
  return first;
}

int halve(int h) { return (h + 1) / 2; }  // 3x3/s2/p1 conv, max pool and ceil-mode 2x2 avg pool alike

template <size_t N>
void json_ints(const nlohmann::json& j, const char* key, std::array<int, N>& out) {
  if (!j.is_array() || j.size() != N)
    invalid(fmt::format("ofa_resnet50 subnet JSON: '{}' must be an array of {} integers{}", key, N,
                        j.is_array() ? fmt::format(", got {} entries", j.size()) : ""));
  for (size_t i = 0; i < N; ++i)
    out[i] = static_cast<int>(json_strict::integer(j[i], fmt::format("ofa_resnet50 subnet JSON: {}[{}]", key, i), -1000000, 1000000));
}

}  // namespace

Subnet Subnet::largest(int r) {
  Subnet s;
  s.d.fill(kMaxExtraDepth);
  s.e.fill(kExpandRatios.back());
  s.w.fill(static_cast<int>(kWidthMults.size()) - 1);
  s.r = r;
  s.validate();
  return s;
}

Subnet Subnet::smallest(int r) {
  Subnet s;
  s.d.fill(0);
  s.e.fill(kExpandRatios.front());
  s.w.fill(0);
  s.r = r;
  s.validate();
  return s;
}

void Subnet::validate() const {
  for (size_t i = 0; i < d.size(); ++i)
    if (d[i] < 0 || d[i] > kMaxExtraDepth)
      invalid(fmt::format("ofa_resnet50 subnet: d[{}] = {} is not one of [0, 1, 2]", i, d[i]));
  for (size_t i = 0; i < e.size(); ++i)
    if (ratio_index(e[i]) < 0)
      invalid(fmt::format("ofa_resnet50 subnet: e[{}] = {} is not one of [0.2, 0.25, 0.35]", i, e[i]));
  for (size_t i = 0; i < w.size(); ++i)
    if (w[i] < 0 || w[i] >= static_cast<int>(kWidthMults.size()))
      invalid(fmt::format("ofa_resnet50 subnet: w[{}] = {} is not one of [0, 1, 2] (indexes into width multipliers "
                          "[0.65, 0.8, 1.0])", i, w[i]));
  if (r < kMinResolution || r > kMaxResolution)
    invalid(fmt::format("ofa_resnet50 subnet: resolution r = {} outside the supported range {}..{}", r,
                        kMinResolution, kMaxResolution));
}

bool Subnet::block_active(int block) const {
  const int s = stage_of(block);
  if (s < 0) return false;
  return block - first_block(s) < kBaseDepth[static_cast<size_t>(s)] + d[static_cast<size_t>(1 + s)];
}

Subnet Subnet::canonical() const {
  Subnet c = *this;
  if (c.d[0] != kMaxExtraDepth) c.d[0] = 0;
  for (int b = 0; b < kNumBlocks; ++b) {
    auto& e_b = c.e[static_cast<size_t>(b)];
    if (!block_active(b)) e_b = kExpandRatios.front();
    else if (const int i = ratio_index(e_b); i >= 0) e_b = kExpandRatios[static_cast<size_t>(i)];
  }
  return c;
}

Subnet Subnet::from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = json_strict::parse(text, "ofa_resnet50 subnet JSON");
  } catch (const Error& e) {
    invalid(e.what());
  }
  if (!j.is_object()) invalid("ofa_resnet50 subnet JSON: expected an object like {\"d\":[5 ints],\"e\":[18 numbers],\"w\":[6 ints],\"r\":224}");
  // Unknown keys first: a sub-network of another family is named as such, not by its first bad value.
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (key == "d" || key == "e" || key == "w" || key == "r" || key == "image_size" || key == "family") continue;
    invalid(fmt::format("ofa_resnet50 subnet JSON: unknown key '{}' (expected d, e, w, r){}", ellipsize(key),
                        key == "ks" ? "; 'ks' is an ofa_mbv3 key, this model is ofa_resnet50" : ""));
  }
  Subnet s;
  bool have_d = false, have_e = false, have_w = false, have_r = false;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& v = it.value();
    if (key == "d") {
      json_ints(v, "d", s.d);
      have_d = true;
    } else if (key == "w") {
      json_ints(v, "w", s.w);
      have_w = true;
    } else if (key == "e") {
      if (!v.is_array() || v.size() != s.e.size())
        invalid(fmt::format("ofa_resnet50 subnet JSON: 'e' must be an array of {} numbers (one per block){}", s.e.size(),
                            v.is_array() ? fmt::format(", got {} entries", v.size()) : ""));
      for (size_t i = 0; i < s.e.size(); ++i)
        s.e[i] = json_strict::number(v[i], fmt::format("ofa_resnet50 subnet JSON: e[{}]", i), 0, 1);
      have_e = true;
    } else if (key == "r" || key == "image_size") {
      if (have_r) invalid("ofa_resnet50 subnet JSON: both 'r' and 'image_size' given");
      const nlohmann::json* rv = &v;
      if (v.is_array()) {
        if (v.size() != 1) invalid(fmt::format("ofa_resnet50 subnet JSON: '{}' as a list must have exactly one element", key));
        rv = &v[0];
      }
      s.r = static_cast<int>(json_strict::integer(*rv, fmt::format("ofa_resnet50 subnet JSON: '{}'", key), 1, 1000000));
      have_r = true;
    } else {  // "family"
      if (!v.is_string() || v.get<std::string>() != kFamily)
        invalid(fmt::format("ofa_resnet50 subnet JSON: 'family' is {}, expected \"{}\"", ellipsize(v.dump()), kFamily));
    }
  }
  if (!have_d) invalid("ofa_resnet50 subnet JSON: missing 'd' (5 depths)");
  if (!have_e) invalid("ofa_resnet50 subnet JSON: missing 'e' (18 expand ratios)");
  if (!have_w) invalid("ofa_resnet50 subnet JSON: missing 'w' (6 width indexes)");
  if (!have_r) invalid("ofa_resnet50 subnet JSON: missing 'r' (resolution)");
  s.validate();
  return s;
}

std::string Subnet::to_json() const {
  std::string e_text;
  for (size_t i = 0; i < e.size(); ++i) {
    const int k = ratio_index(e[i]);
    e_text += (i ? "," : "") + (k == 0 ? std::string("0.2") : k == 1 ? std::string("0.25") : k == 2 ? std::string("0.35")
                                                                                            : fmt::format("{}", e[i]));
  }
  return fmt::format("{{\"d\":[{}],\"e\":[{}],\"w\":[{}],\"r\":{}}}", fmt::join(d, ","), e_text, fmt::join(w, ","), r);
}

std::string Subnet::to_string() const {
  std::string ed;
  for (double v : e) ed += static_cast<char>('0' + std::max(ratio_index(v), 0));
  return fmt::format("d={} e={} w={} r={}", fmt::join(d, ""), ed, fmt::join(w, ""), r);
}

size_t Subnet::hash() const {
  const Subnet c = canonical();
  size_t h = 1469598103934665603ull;
  auto mix = [&](int v) { h = (h ^ static_cast<size_t>(v + 0x9e37)) * 1099511628211ull; };
  for (int v : c.d) mix(v);
  for (double v : c.e) mix(ratio_index(v));
  for (int v : c.w) mix(v);
  mix(c.r);
  return h;
}

bool operator==(const Subnet& a, const Subnet& b) {
  const Subnet ca = a.canonical(), cb = b.canonical();
  return ca.d == cb.d && ca.e == cb.e && ca.w == cb.w && ca.r == cb.r;
}

int Widths::stem_out(int wi) const { return make_divisible(stem * kWidthMults.at(static_cast<size_t>(wi)), 8); }
int Widths::stem_mid_out(int wi) const { return make_divisible(static_cast<double>(stem_out(wi) / 2), 8); }
int Widths::stage_out(int s, int wi) const {
  return make_divisible(stage.at(static_cast<size_t>(s)) * kWidthMults.at(static_cast<size_t>(wi)), 8);
}
int Widths::middle(int out, double e) {
  // Python's round() of the product: half to even, which std::nearbyint does in the default mode.
  return make_divisible(std::nearbyint(static_cast<double>(out) * e), 8);
}
int Widths::mid_max(int s) const { return middle(stage.at(static_cast<size_t>(s)), kExpandRatios.back()); }

Widths Widths::published() {
  Widths w;
  w.stem = 64;
  w.stem_mid = 32;
  w.stage = {256, 512, 1024, 2048};
  w.num_classes = 1000;
  return w;
}

ActiveNet resolve(const Widths& widths, const Subnet& s) {
  s.validate();
  ActiveNet n;
  n.stem_mid = widths.stem_mid_out(s.w[0]);
  n.stem = widths.stem_out(s.w[1]);
  n.stem_residual = s.d[0] == kMaxExtraDepth;
  n.h_stem = halve(s.r);
  n.h_pool = halve(n.h_stem);
  int cin = n.stem, h = n.h_pool;
  for (int st = 0; st < kNumStages; ++st) {
    const int cout = widths.stage_out(st, s.w[static_cast<size_t>(2 + st)]);
    const int runs = kBaseDepth[static_cast<size_t>(st)] + s.d[static_cast<size_t>(1 + st)];
    for (int i = 0; i < runs; ++i) {
      ActiveBlock b;
      b.block = first_block(st) + i;
      b.stage = st;
      b.cin = cin;
      b.cout = cout;
      b.mid = Widths::middle(cout, s.e[static_cast<size_t>(b.block)]);
      b.stride = i == 0 ? kStageStride[static_cast<size_t>(st)] : 1;
      b.downsample = i == 0;
      b.h_in = h;
      b.h_out = b.stride == 2 ? halve(h) : h;
      n.blocks.push_back(b);
      cin = cout;
      h = b.h_out;
    }
  }
  n.features = cin;
  return n;
}

int64_t macs(const Widths& widths, const Subnet& s) {
  const ActiveNet n = resolve(widths, s);
  auto conv = [](int64_t h, int64_t cin, int64_t cout, int64_t k) { return h * h * cin * cout * k * k; };
  int64_t m = conv(n.h_stem, 3, n.stem_mid, 3);
  if (n.stem_residual) m += conv(n.h_stem, n.stem_mid, n.stem_mid, 3);
  m += conv(n.h_stem, n.stem_mid, n.stem, 3);
  for (const ActiveBlock& b : n.blocks) {
    m += conv(b.h_in, b.cin, b.mid, 1) + conv(b.h_out, b.mid, b.mid, 3) + conv(b.h_out, b.mid, b.cout, 1);
    if (b.downsample) m += conv(b.h_out, b.cin, b.cout, 1);
  }
  return m + int64_t(n.features) * widths.num_classes;
}

int64_t parameters(const Widths& widths, const Subnet& s) {
  const ActiveNet n = resolve(widths, s);
  auto conv_bn = [](int64_t cin, int64_t cout, int64_t k) { return cin * cout * k * k + 2 * cout; };
  int64_t p = conv_bn(3, n.stem_mid, 3) + conv_bn(n.stem_mid, n.stem, 3);
  if (n.stem_residual) p += conv_bn(n.stem_mid, n.stem_mid, 3);
  for (const ActiveBlock& b : n.blocks) {
    p += conv_bn(b.cin, b.mid, 1) + conv_bn(b.mid, b.mid, 3) + conv_bn(b.mid, b.cout, 1);
    if (b.downsample) p += conv_bn(b.cin, b.cout, 1);
  }
  return p + int64_t(n.features) * widths.num_classes + widths.num_classes;
}

std::vector<std::pair<std::string, int>> bn_layout(const Widths& widths, const Subnet& s) {
  const ActiveNet n = resolve(widths, s);
  std::vector<std::pair<std::string, int>> out{{"input_stem.0.bn", n.stem_mid}};
  if (n.stem_residual) out.emplace_back("input_stem.1.conv.bn", n.stem_mid);
  out.emplace_back(n.stem_residual ? "input_stem.2.bn" : "input_stem.1.bn", n.stem);
  for (size_t k = 0; k < n.blocks.size(); ++k) {
    const ActiveBlock& b = n.blocks[k];
    out.emplace_back(fmt::format("blocks.{}.conv1.bn", k), b.mid);
    out.emplace_back(fmt::format("blocks.{}.conv2.bn", k), b.mid);
    out.emplace_back(fmt::format("blocks.{}.conv3.bn", k), b.cout);
    if (b.downsample) out.emplace_back(fmt::format("blocks.{}.downsample.bn", k), b.cout);
  }
  return out;
}

std::string canonical_key(const std::string& key_as_written) {
  // A DataParallel checkpoint's "module." prefix is dropped.
  const std::string key = key_as_written.rfind("module.", 0) == 0 ? key_as_written.substr(7) : key_as_written;
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  // Length of the module path that ends in the dynamic wrapper (conv / bn / linear).
  size_t module = 0;
  if (parts.size() >= 3 && parts[0] == "input_stem" && (parts[1] == "0" || parts[1] == "2")) module = 3;
  else if (parts.size() >= 4 && parts[0] == "input_stem" && parts[1] == "1" && parts[2] == "conv") module = 4;
  else if (parts.size() >= 4 && parts[0] == "blocks") module = 4;
  else if (parts.size() >= 2 && parts[0] == "classifier" && parts[1] == "linear") module = 2;
  if (module == 0 || parts.size() <= module) return key;
  const std::string& kind = parts[module - 1];
  if (kind != "conv" && kind != "bn" && kind != "linear") return key;
  if (parts[module] == kind) return key;  // already the dynamic spelling
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += '.';
    if (i == module) out += kind + ".";
    out += parts[i];
  }
  return out;
}

bool looks_like(const StateDict& sd) {
  bool stem = false, bottleneck = false;
  for (const auto& [written, t] : sd.entries) {
    (void)t;
    const std::string key = canonical_key(written);
    if (key.rfind("input_stem.", 0) == 0) stem = true;
    if (key.rfind("blocks.", 0) == 0 && key.find(".conv1.") != std::string::npos) bottleneck = true;
  }
  return stem && bottleneck;
}

Widths widths_from_state_dict(const StateDict& sd) {
  std::map<std::string, const TensorData*> by_key;
  for (const auto& [key, t] : sd.entries) by_key[canonical_key(key)] = &t;
  auto dim0 = [&](const std::string& key, size_t rank) {
    auto it = by_key.find(key);
    if (it == by_key.end()) invalid(fmt::format("ofa_resnet50 checkpoint: missing '{}'", key));
    const auto& shape = it->second->shape;
    if (shape.size() != rank || shape[0] < 1 || shape[0] > 1000000)
      invalid(fmt::format("ofa_resnet50 checkpoint: '{}' has shape {}, expected a {}-D tensor", key,
                          it->second->shape_string(), rank));
    return static_cast<int>(shape[0]);
  };
  Widths w;
  w.stem_mid = dim0("input_stem.0.conv.conv.weight", 4);
  w.stem = dim0("input_stem.2.conv.conv.weight", 4);
  if (w.stem % 8 != 0 || w.stem_mid_out(2) != w.stem_mid)
    invalid(fmt::format("ofa_resnet50 checkpoint: input_stem.0 has {} output channels and input_stem.2 {}; an OFA ResNet "
                        "with {} stem channels has {} in input_stem.0", w.stem_mid, w.stem, w.stem, w.stem % 8 ? -1 : w.stem_mid_out(2)));
  for (int s = 0; s < kNumStages; ++s) {
    w.stage[static_cast<size_t>(s)] = dim0(fmt::format("blocks.{}.conv3.conv.conv.weight", first_block(s)), 4);
    if (w.stage[static_cast<size_t>(s)] % 8 != 0)
      invalid(fmt::format("ofa_resnet50 checkpoint: stage {} has {} channels, not a multiple of 8", s, w.stage[static_cast<size_t>(s)]));
  }
  w.num_classes = dim0("classifier.linear.linear.weight", 2);
  return w;
}

std::vector<TensorSpec> expected_tensors(const Widths& w) {
  std::vector<TensorSpec> out;
  auto conv = [&](const std::string& name, int64_t cout, int64_t cin, int64_t k) {
    out.push_back({name + ".conv.weight", {cout, cin, k, k}, false});
  };
  auto bn = [&](const std::string& name, int64_t c) {
    for (const char* p : {"weight", "bias", "running_mean", "running_var"}) out.push_back({name + ".bn." + p, {c}, false});
    out.push_back({name + ".bn.num_batches_tracked", {}, true});
  };
  conv("input_stem.0.conv", w.stem_mid, 3, 3);
  bn("input_stem.0.bn", w.stem_mid);
  conv("input_stem.1.conv.conv", w.stem_mid, w.stem_mid, 3);
  bn("input_stem.1.conv.bn", w.stem_mid);
  conv("input_stem.2.conv", w.stem, w.stem_mid, 3);
  bn("input_stem.2.bn", w.stem);
  int cin = w.stem;
  for (int s = 0; s < kNumStages; ++s) {
    const int cout = w.stage[static_cast<size_t>(s)], mid = w.mid_max(s);
    for (int i = 0; i < kBlocksPerStage[static_cast<size_t>(s)]; ++i) {
      const std::string b = fmt::format("blocks.{}", first_block(s) + i);
      conv(b + ".conv1.conv", mid, cin, 1);
      bn(b + ".conv1.bn", mid);
      conv(b + ".conv2.conv", mid, mid, 3);
      bn(b + ".conv2.bn", mid);
      conv(b + ".conv3.conv", cout, mid, 1);
      bn(b + ".conv3.bn", cout);
      if (i == 0) {
        conv(b + ".downsample.conv", cout, cin, 1);
        bn(b + ".downsample.bn", cout);
      }
      cin = cout;
    }
  }
  out.push_back({"classifier.linear.linear.weight", {w.num_classes, cin}, false});
  out.push_back({"classifier.linear.linear.bias", {w.num_classes}, false});
  return out;
}

}  // namespace dynn::ofa_resnet50
