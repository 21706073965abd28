// Supernet weights: key canonicalisation, shape checks, width inference, random init.
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "dynn/error.hpp"
#include "dynn/ofa_mbv3_arch.hpp"
#include "internal.hpp"

namespace dynn::ofa {

int Block::mid(int e) const {
  // Python round() is half-to-even; cin*e is an integer here, so rounding never matters.
  return ofa_mbv3::make_divisible(std::nearbyint(static_cast<double>(cin) * e), 8);
}

int Block::se_mid(int mid) { return ofa_mbv3::make_divisible(mid / 4, 8); }

namespace {

using ofa_mbv3::kBaseWidths;
using ofa_mbv3::make_divisible;

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

// Canonical spelling: "module." prefix dropped, blocks.N.mobile_inverted_conv -> blocks.N.conv,
// nested .bn.bn./.conv.conv./.linear.linear. collapsed (spec 4.1, H11).
std::string canonical_key(std::string k) {
  if (k.rfind("module.", 0) == 0) k = k.substr(7);
  if (k.rfind("blocks.", 0) == 0) {
    const auto dot = k.find('.', 7);
    if (dot != std::string::npos && k.compare(dot + 1, 21, "mobile_inverted_conv.") == 0)
      k = k.substr(0, dot + 1) + "conv." + k.substr(dot + 22);
  }
  for (int i = 0; i < 2; ++i) {
    k = replace_all(k, ".bn.bn.", ".bn.");
    k = replace_all(k, ".conv.conv.", ".conv.");
    k = replace_all(k, ".linear.linear.", ".linear.");
  }
  return k;
}

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

std::string shape_str(const std::vector<int64_t>& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

at::Tensor to_tensor(const TensorData& td) {
  std::vector<float> v = td.to_float();
  at::Tensor t = at::empty(td.shape, at::kFloat);
  if (!v.empty()) std::memcpy(t.data_ptr<float>(), v.data(), v.size() * sizeof(float));
  return t;
}

class KeyTable {
 public:
  explicit KeyTable(const StateDict& sd) {
    for (const auto& [key, td] : sd.entries) {
      if (ends_with(key, "num_batches_tracked")) continue;  // unused at inference
      std::string c = canonical_key(key);
      auto [it, inserted] = m_map.emplace(c, Entry{key, &td, false});
      if (!inserted)
        throw Error(ErrorCode::InvalidArgument,
                    fmt::format("checkpoint: keys '{}' and '{}' name the same tensor", it->second.original, key));
    }
  }

  // Takes a tensor with the expected shape; missing or wrong shape is an error naming the key.
  at::Tensor take(const std::string& canon, const std::vector<int64_t>& expected) {
    const TensorData& td = find(canon);
    if (td.shape != expected)
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("checkpoint: '{}' has shape {} but the supernet needs {}", original(canon),
                              td.shape_string(), shape_str(expected)));
    m_map.at(canon).used = true;
    at::Tensor t = to_tensor(td);
    // A NaN or inf weight would give normal-looking logits in the fast engine (its clamps and max()
    // drop NaN), so a checkpoint with one is refused here rather than run.
    if (!at::isfinite(t).all().item<bool>())
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("checkpoint: '{}' holds {} non-finite value(s) (NaN or inf)", original(canon),
                              (~at::isfinite(t)).sum().item<int64_t>()));
    return t;
  }

  std::string original_name(const std::string& canon) const { return original(canon); }

  const TensorData& find(const std::string& canon) const {
    auto it = m_map.find(canon);
    if (it == m_map.end())
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("checkpoint: missing key '{}' (spelling with .mobile_inverted_conv. also accepted)", canon));
    return *it->second.td;
  }

  int64_t dim(const std::string& canon, size_t d) const {
    const TensorData& td = find(canon);
    if (td.shape.size() <= d)
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("checkpoint: '{}' has shape {}, expected at least {} dimensions", original(canon),
                              td.shape_string(), d + 1));
    return td.shape[d];
  }

  void check_all_used() const {
    std::vector<std::string> extra;
    for (const auto& [c, e] : m_map)
      if (!e.used) extra.push_back(e.original);
    if (!extra.empty()) {
      std::sort(extra.begin(), extra.end());
      if (extra.size() > 5) extra.resize(5);
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("checkpoint: unexpected key(s) for an OFA MobileNetV3 supernet: {}", fmt::join(extra, ", ")));
    }
  }

 private:
  struct Entry {
    std::string original;
    const TensorData* td;
    bool used;
  };
  std::string original(const std::string& canon) const {
    auto it = m_map.find(canon);
    return it == m_map.end() ? canon : it->second.original;
  }
  std::map<std::string, Entry> m_map;
};

Bn take_bn(KeyTable& t, const std::string& prefix, int64_t c) {
  Bn bn;
  bn.weight = t.take(prefix + ".weight", {c});
  bn.bias = t.take(prefix + ".bias", {c});
  bn.mean = t.take(prefix + ".running_mean", {c});
  bn.var = t.take(prefix + ".running_var", {c});
  if ((bn.var < 0).any().item<bool>())
    throw Error(ErrorCode::InvalidArgument, fmt::format("checkpoint: '{}' has {} negative variance(s)",
                                                        t.original_name(prefix + ".running_var"),
                                                        (bn.var < 0).sum().item<int64_t>()));
  return bn;
}

double infer_width_mult(const std::vector<int>& widths) {
  for (double w : {0.35, 0.5, 0.75, 1.0, 1.2, 1.25, 1.3, 1.5, 1.75, 2.0}) {
    bool ok = true;
    for (int i = 0; i < 9 && ok; ++i) {
      int expect = make_divisible(kBaseWidths[static_cast<size_t>(i)] * w, 8);
      if (i >= 7) expect = i == 7 ? make_divisible(kBaseWidths[6] * w, 8) * 6 : make_divisible(kBaseWidths[8] * w, 8);
      ok = widths[static_cast<size_t>(i)] == expect;
    }
    if (ok) return w;
  }
  return 0;
}

void fill_block_meta(Block& b, int index, int cin, int cout, int mid_max, int e_max) {
  b.index = index;
  b.stage = (index - 1) / 4;
  b.pos = (index - 1) % 4;
  b.cin = cin;
  b.cout = cout;
  b.stride = b.pos == 0 ? ofa_mbv3::kStageStride[static_cast<size_t>(b.stage)] : 1;
  b.hswish = ofa_mbv3::kStageHSwish[static_cast<size_t>(b.stage)];
  b.se = ofa_mbv3::kStageSE[static_cast<size_t>(b.stage)];
  b.shortcut = b.stride == 1 && cin == cout && b.pos > 0;
  b.mid_max = mid_max;
  b.se_max = b.se ? Block::se_mid(mid_max) : 0;
  if (b.mid(e_max) != mid_max)
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("checkpoint: block {} expand width {} does not match make_divisible({} x {}) = {}", index,
                            mid_max, cin, e_max, b.mid(e_max)));
}

size_t tensor_bytes(const at::Tensor& t) { return t.defined() ? static_cast<size_t>(t.numel()) * t.element_size() : 0; }

// Learnable parameters as OFA counts them: conv/linear weights and biases, BN weight and bias,
// kernel-transform matrices (running statistics excluded). w1.0: 7,678,880.
size_t parameter_count(const Weights& w) {
  auto n = [](const at::Tensor& t) { return t.defined() ? static_cast<size_t>(t.numel()) : size_t(0); };
  auto bn = [&](const Bn& b) { return n(b.weight) + n(b.bias); };
  size_t s = n(w.first_w) + bn(w.first_bn) + n(w.b0_dw_w) + bn(w.b0_dw_bn) + n(w.b0_pw_w) + bn(w.b0_pw_bn) + n(w.fe_w) +
             bn(w.fe_bn) + n(w.fm_w) + n(w.cls_w) + n(w.cls_b);
  for (const auto& b : w.blocks)
    s += n(b.expand_w) + bn(b.expand_bn) + n(b.dw_w) + n(b.m7to5) + n(b.m5to3) + bn(b.dw_bn) + n(b.se_rw) + n(b.se_rb) +
         n(b.se_ew) + n(b.se_eb) + n(b.proj_w) + bn(b.proj_bn);
  return s;
}

size_t weights_bytes(const Weights& w) {
  size_t s = tensor_bytes(w.first_w) + tensor_bytes(w.b0_dw_w) + tensor_bytes(w.b0_pw_w) + tensor_bytes(w.fe_w) +
             tensor_bytes(w.fm_w) + tensor_bytes(w.cls_w) + tensor_bytes(w.cls_b);
  auto bn = [](const Bn& b) { return 4 * tensor_bytes(b.weight); };
  s += bn(w.first_bn) + bn(w.b0_dw_bn) + bn(w.b0_pw_bn) + bn(w.fe_bn);
  for (const auto& b : w.blocks) {
    s += tensor_bytes(b.expand_w) + tensor_bytes(b.dw_w) + tensor_bytes(b.m7to5) + tensor_bytes(b.m5to3) +
         tensor_bytes(b.se_rw) + tensor_bytes(b.se_rb) + tensor_bytes(b.se_ew) + tensor_bytes(b.se_eb) +
         tensor_bytes(b.proj_w) + bn(b.expand_bn) + bn(b.dw_bn) + bn(b.proj_bn);
    for (int k : {3, 5}) s += tensor_bytes(b.dw_k[static_cast<size_t>(k)]);
  }
  return s;
}

}  // namespace

void precompute_kernels(Weights& w) {
  for (auto& b : w.blocks) {
    const int64_t m = b.mid_max;
    b.dw_k[7] = b.dw_w;
    // 7 -> 5: centre crop, flatten row-major, multiply by M^T (F.linear), reshape (spec 2.2).
    at::Tensor k5 = b.dw_w.slice(2, 1, 6).slice(3, 1, 6).contiguous().view({m, 25});
    k5 = at::linear(k5, b.m7to5).view({m, 1, 5, 5});
    // 5 -> 3 starts from the transformed 5x5.
    at::Tensor k3 = k5.slice(2, 1, 4).slice(3, 1, 4).contiguous().view({m, 9});
    k3 = at::linear(k3, b.m5to3).view({m, 1, 3, 3});
    b.dw_k[5] = k5.contiguous();
    b.dw_k[3] = k3.contiguous();
  }
}

std::shared_ptr<Weights> weights_from_state_dict(const StateDict& sd, const SearchSpace& space) {
  KeyTable t(sd);
  auto w = std::make_shared<Weights>();
  const int e_max = space.e_values.back();
  const int c0 = static_cast<int>(t.dim("first_conv.conv.weight", 0));
  const int c1 = static_cast<int>(t.dim("blocks.0.conv.point_linear.conv.weight", 0));
  std::vector<int> stage_w(5);
  for (int s = 0; s < 5; ++s)
    stage_w[static_cast<size_t>(s)] = static_cast<int>(t.dim(fmt::format("blocks.{}.conv.point_linear.conv.weight", 1 + 4 * s), 0));
  const int c_fe = static_cast<int>(t.dim("final_expand_layer.conv.weight", 0));
  const int c_mix = static_cast<int>(t.dim("feature_mix_layer.conv.weight", 0));
  const int n_cls = static_cast<int>(t.dim("classifier.linear.weight", 0));
  for (int v : {c0, c1, c_fe, c_mix, n_cls})
    if (v <= 0 || v > 100000) throw Error(ErrorCode::InvalidArgument, fmt::format("checkpoint: implausible width {}", v));
  if (c0 != c1)
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("checkpoint: first block must keep its width (first conv {} vs first block {})", c0, c1));

  w->arch.widths = {c0, c1};
  for (int s : stage_w) w->arch.widths.push_back(s);
  w->arch.widths.push_back(c_fe);
  w->arch.widths.push_back(c_mix);
  w->arch.num_classes = n_cls;
  w->arch.width_mult = infer_width_mult(w->arch.widths);

  w->first_w = t.take("first_conv.conv.weight", {c0, 3, 3, 3});
  w->first_bn = take_bn(t, "first_conv.bn", c0);
  w->b0_dw_w = t.take("blocks.0.conv.depth_conv.conv.weight", {c0, 1, 3, 3});
  w->b0_dw_bn = take_bn(t, "blocks.0.conv.depth_conv.bn", c0);
  w->b0_pw_w = t.take("blocks.0.conv.point_linear.conv.weight", {c1, c0, 1, 1});
  w->b0_pw_bn = take_bn(t, "blocks.0.conv.point_linear.bn", c1);

  int cin = c1;
  for (int i = 1; i <= 20; ++i) {
    Block b;
    const std::string p = fmt::format("blocks.{}.conv.", i);
    const int cout = stage_w[static_cast<size_t>((i - 1) / 4)];
    const int mid_max = static_cast<int>(t.dim(p + "inverted_bottleneck.conv.weight", 0));
    fill_block_meta(b, i, cin, cout, mid_max, e_max);
    b.expand_w = t.take(p + "inverted_bottleneck.conv.weight", {mid_max, cin, 1, 1});
    b.expand_bn = take_bn(t, p + "inverted_bottleneck.bn", mid_max);
    b.dw_w = t.take(p + "depth_conv.conv.weight", {mid_max, 1, 7, 7});
    b.m5to3 = t.take(p + "depth_conv.conv.5to3_matrix", {9, 9});
    b.m7to5 = t.take(p + "depth_conv.conv.7to5_matrix", {25, 25});
    b.dw_bn = take_bn(t, p + "depth_conv.bn", mid_max);
    if (b.se) {
      b.se_rw = t.take(p + "depth_conv.se.fc.reduce.weight", {b.se_max, mid_max, 1, 1});
      b.se_rb = t.take(p + "depth_conv.se.fc.reduce.bias", {b.se_max});
      b.se_ew = t.take(p + "depth_conv.se.fc.expand.weight", {mid_max, b.se_max, 1, 1});
      b.se_eb = t.take(p + "depth_conv.se.fc.expand.bias", {mid_max});
    }
    b.proj_w = t.take(p + "point_linear.conv.weight", {cout, mid_max, 1, 1});
    b.proj_bn = take_bn(t, p + "point_linear.bn", cout);
    w->blocks.push_back(std::move(b));
    cin = cout;
  }
  w->fe_w = t.take("final_expand_layer.conv.weight", {c_fe, cin, 1, 1});
  w->fe_bn = take_bn(t, "final_expand_layer.bn", c_fe);
  w->fm_w = t.take("feature_mix_layer.conv.weight", {c_mix, c_fe, 1, 1});
  w->cls_w = t.take("classifier.linear.weight", {n_cls, c_mix});
  w->cls_b = t.take("classifier.linear.bias", {n_cls});
  t.check_all_used();

  w->arch.parameter_count = parameter_count(*w);
  precompute_kernels(*w);
  w->bytes = weights_bytes(*w);
  return w;
}

namespace {

// splitmix64 + Box-Muller: the same numbers on every machine and LibTorch version.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
  double normal() {
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  at::Tensor normal(std::vector<int64_t> shape, double stddev, double mean = 0) {
    at::Tensor t = at::empty(shape, at::kFloat);
    float* p = t.data_ptr<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(mean + stddev * normal());
    return t;
  }
  at::Tensor uniform(std::vector<int64_t> shape, double lo, double hi) {
    at::Tensor t = at::empty(shape, at::kFloat);
    float* p = t.data_ptr<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(lo + (hi - lo) * uniform());
    return t;
  }
};

at::Tensor he_conv(Rng& r, std::vector<int64_t> shape) {
  // kaiming_normal_(mode='fan_out') as OFA initialises convs.
  const double fan_out = static_cast<double>(shape[0] * shape[2] * shape[3]);
  return r.normal(std::move(shape), std::sqrt(2.0 / fan_out));
}

Bn random_bn(Rng& r, int64_t c) {
  return Bn{r.uniform({c}, 0.8, 1.2), r.normal({c}, 0.05), r.normal({c}, 0.05), r.uniform({c}, 0.5, 1.5)};
}

}  // namespace

std::shared_ptr<Weights> random_weights(double width_mult, uint64_t seed, const SearchSpace& space) {
  if (!(width_mult >= 0.25 && width_mult <= 4.0))
    throw Error(ErrorCode::InvalidArgument, fmt::format("random supernet: width multiplier {} outside 0.25..4", width_mult));
  Rng r{seed};
  auto w = std::make_shared<Weights>();
  std::vector<int> widths;
  for (int i = 0; i < 9; ++i) widths.push_back(make_divisible(kBaseWidths[static_cast<size_t>(i)] * width_mult, 8));
  widths[7] = widths[6] * 6;  // final expand = 6 x last stage (as OFA builds it)
  widths[1] = widths[0];
  w->arch.widths = widths;
  w->arch.num_classes = 1000;
  w->arch.width_mult = width_mult;
  const int c0 = widths[0];
  w->first_w = he_conv(r, {c0, 3, 3, 3});
  w->first_bn = random_bn(r, c0);
  w->b0_dw_w = he_conv(r, {c0, 1, 3, 3});
  w->b0_dw_bn = random_bn(r, c0);
  w->b0_pw_w = he_conv(r, {c0, c0, 1, 1});
  w->b0_pw_bn = random_bn(r, c0);
  int cin = c0;
  const int e_max = space.e_values.back();
  for (int i = 1; i <= 20; ++i) {
    Block b;
    const int cout = widths[static_cast<size_t>(2 + (i - 1) / 4)];
    Block probe;
    probe.cin = cin;
    fill_block_meta(b, i, cin, cout, probe.mid(e_max), e_max);
    const int m = b.mid_max;
    b.expand_w = he_conv(r, {m, cin, 1, 1});
    b.expand_bn = random_bn(r, m);
    b.dw_w = he_conv(r, {m, 1, 7, 7});
    b.m7to5 = at::eye(25, at::kFloat) + r.normal({25, 25}, 0.05);
    b.m5to3 = at::eye(9, at::kFloat) + r.normal({9, 9}, 0.05);
    b.dw_bn = random_bn(r, m);
    if (b.se) {
      b.se_rw = he_conv(r, {b.se_max, m, 1, 1});
      b.se_rb = r.normal({b.se_max}, 0.05);
      b.se_ew = he_conv(r, {m, b.se_max, 1, 1});
      b.se_eb = r.normal({m}, 0.05);
    }
    b.proj_w = he_conv(r, {cout, m, 1, 1});
    b.proj_bn = random_bn(r, cout);
    // Residual blocks: damp the branch so activations stay bounded through 20 blocks.
    if (b.shortcut) b.proj_bn.weight.mul_(0.3);
    w->blocks.push_back(std::move(b));
    cin = cout;
  }
  w->fe_w = he_conv(r, {widths[7], cin, 1, 1});
  w->fe_bn = random_bn(r, widths[7]);
  w->fm_w = he_conv(r, {widths[8], widths[7], 1, 1});
  w->cls_w = r.normal({1000, widths[8]}, 0.01);
  w->cls_b = at::zeros({1000}, at::kFloat);
  w->arch.parameter_count = parameter_count(*w);
  precompute_kernels(*w);
  w->bytes = weights_bytes(*w);
  return w;
}

std::shared_ptr<Weights> Weights::to(const at::Device& dev) const {
  auto out = std::make_shared<Weights>(*this);
  auto mv = [&](at::Tensor& t) {
    if (t.defined()) t = t.to(dev);
  };
  auto mvbn = [&](Bn& b) { mv(b.weight); mv(b.bias); mv(b.mean); mv(b.var); };
  mv(out->first_w); mvbn(out->first_bn); mv(out->b0_dw_w); mv(out->b0_pw_w); mvbn(out->b0_dw_bn); mvbn(out->b0_pw_bn);
  for (auto& b : out->blocks) {
    mv(b.expand_w); mvbn(b.expand_bn); mv(b.dw_w); mv(b.m7to5); mv(b.m5to3); mvbn(b.dw_bn);
    for (auto& k : b.dw_k) mv(k);
    mv(b.se_rw); mv(b.se_rb); mv(b.se_ew); mv(b.se_eb); mv(b.proj_w); mvbn(b.proj_bn);
  }
  mv(out->fe_w); mvbn(out->fe_bn); mv(out->fm_w); mv(out->cls_w); mv(out->cls_b);
  return out;
}

}  // namespace dynn::ofa
