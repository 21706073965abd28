// The OFA MobileNetV3 sub-network on dynn's XNNPACK engine (lib/cpu): BN folded and the weights
// sliced straight from the supernet's shared tensors into one reused scratch buffer, which
// XNNPACK packs; no intermediate tensors. Same arithmetic as the ATen path: conv + BN folded,
// ReLU fused into the conv, hardswish in place, SE as pool + two FCs (hardsigmoid folded into the
// second: relu6(x + 3) / 6 = clamp(x / 6 + 1/2, 0, 1)) + channel scale, the residual add in place.
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "dynn/error.hpp"
#include "internal.hpp"

namespace dynn::ofa {
namespace {

// What one BN fold reads: a conv weight view w [O, I, kh, kw] (any strides, O = c) and the BN's
// statistics and affine parameters (first c used). Views are taken on the building thread, so a
// fold elsewhere only reads memory.
struct FoldSource {
  at::Tensor w, mean, var, gamma, beta;
  int64_t c = 0;
};

// BN folded into the weights, written as XNNPACK's OHWI: w' = w * g/sqrt(v+eps) (scale in double,
// product in float, as the ATen path), b' = beta - mean * scale.
void fold_into(const FoldSource& s, std::vector<float>& weight, std::vector<float>& bias) {
  const at::Tensor& w = s.w;
  const int64_t c = s.c;
  const float* mean = s.mean.data_ptr<float>();
  const float* var = s.var.data_ptr<float>();
  const float* g = s.gamma.data_ptr<float>();
  const float* beta = s.beta.data_ptr<float>();
  const int64_t O = w.size(0), I = w.size(1), kh = w.size(2), kw = w.size(3);
  if (O != c) throw Error(ErrorCode::Internal, fmt::format("BN fold: {} output channels, BN of {}", O, c));
  const int64_t s0 = w.stride(0), s1 = w.stride(1), s2 = w.stride(2), s3 = w.stride(3);
  const float* src = w.data_ptr<float>();
  weight.resize(static_cast<size_t>(O * I * kh * kw));
  bias.resize(static_cast<size_t>(O));
  float* dst = weight.data();
  for (int64_t o = 0; o < O; ++o) {
    const double scale = static_cast<double>(g[o]) / std::sqrt(static_cast<double>(var[o]) + 1e-5);
    const float sf = static_cast<float>(scale);
    bias[static_cast<size_t>(o)] = static_cast<float>(static_cast<double>(beta[o]) - static_cast<double>(mean[o]) * scale);
    if (kh == 1 && kw == 1 && s1 == 1) {  // 1x1 convs, most of the weights: a contiguous row
      const float* row = src + o * s0;
      for (int64_t ci = 0; ci < I; ++ci) dst[ci] = row[ci] * sf;
      dst += I;
      continue;
    }
    for (int64_t y = 0; y < kh; ++y)
      for (int64_t x = 0; x < kw; ++x)
        for (int64_t ci = 0; ci < I; ++ci) *dst++ = src[o * s0 + ci * s1 + y * s2 + x * s3] * sf;
  }
}

// Folds in the network's BN order (the index of a BnOverride's statistics): at once into its own
// buffers, or later, for a deferred conv, on whichever thread creates it.
class Folder {
 public:
  explicit Folder(const BnOverride* stats) : m_stats(stats) {}

  void operator()(const at::Tensor& w, const Bn& bn, int64_t c) { fold_into(source(w, bn, c), weight, bias); }
  cpu::Graph::Fill deferred(const at::Tensor& w, const Bn& bn, int64_t c) {
    return [s = source(w, bn, c)](std::vector<float>& k, std::vector<float>& b) { fold_into(s, k, b); };
  }
  std::vector<float> weight, bias;

 private:
  FoldSource source(const at::Tensor& w, const Bn& bn, int64_t c) {
    auto [mean, var] = bn_mean_var(m_stats, m_next++, bn, c);
    return {w, std::move(mean), std::move(var), bn.weight, bn.bias, c};
  }
  const BnOverride* m_stats;
  size_t m_next = 0;
};

// A 2-D view as a dense [O][I] matrix, scaled: out = w * a (SE and head FC weights).
const float* dense(const at::Tensor& w, std::vector<float>& out, float a = 1.f) {
  const int64_t O = w.size(0), I = w.size(1), s0 = w.stride(0), s1 = w.stride(1);
  const float* src = w.data_ptr<float>();
  out.resize(static_cast<size_t>(O * I));
  for (int64_t o = 0; o < O; ++o) {
    float* dst = out.data() + o * I;
    if (s1 == 1) {  // rows contiguous (all of MobileNetV3's): vectorised
      const float* row = src + o * s0;
      for (int64_t i = 0; i < I; ++i) dst[i] = row[i] * a;
    } else {
      for (int64_t i = 0; i < I; ++i) dst[i] = src[o * s0 + i * s1] * a;
    }
  }
  return out.data();
}

}  // namespace

std::shared_ptr<const XnnHead> build_xnn_head(const Weights& w) {
  auto h = std::make_shared<XnnHead>();
  h->source = &w;
  std::vector<float> buf;
  const at::Tensor fm = w.fm_w.select(3, 0).select(2, 0);
  h->feature_mix = std::make_shared<cpu::SharedFullyConnected>(static_cast<int>(fm.size(1)), static_cast<int>(fm.size(0)),
                                                               dense(fm, buf), nullptr,
                                                               -std::numeric_limits<float>::infinity(),
                                                               std::numeric_limits<float>::infinity());
  h->classifier = std::make_shared<cpu::SharedFullyConnected>(
      static_cast<int>(w.cls_w.size(1)), static_cast<int>(w.cls_w.size(0)), dense(w.cls_w, buf), w.cls_b.data_ptr<float>(),
      -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity());
  return h;
}

std::unique_ptr<cpu::Graph> build_xnn_graph(const Weights& w, const SubnetConfig& cfg, const BnOverride* stats,
                                            const XnnHead& head, int threads) {
  auto g = std::make_unique<cpu::Graph>();
  using cpu::Act;
  Folder fold(stats);
  const int c0 = w.arch.widths[0], c1 = w.arch.widths[1];
  cpu::Graph::Value x = g->input(cfg.r, cfg.r, 3);
  // The dense convs (nearly all the weights) are folded and packed by create_deferred() below,
  // on `threads` threads; depthwise and SE weights are small and done here.
  cpu::Graph::Value y = g->conv_deferred(x, fold.deferred(w.first_w, w.first_bn, c0), c0, 3, 2, Act::Hardswish);
  g->mark_layer();
  fold(w.b0_dw_w, w.b0_dw_bn, c0);
  cpu::Graph::Value t = g->depthwise(y, fold.weight.data(), fold.bias.data(), 3, 1, Act::Relu);
  t = g->conv_deferred(t, fold.deferred(w.b0_pw_w, w.b0_pw_bn, c1), c1, 1, 1, Act::None);
  g->add(t, y);
  y = t;
  g->mark_layer();
  std::vector<float> fc;
  for (const auto& b : w.blocks) {
    if (b.pos >= cfg.d[static_cast<size_t>(b.stage)]) continue;
    const int k = cfg.ks[static_cast<size_t>(b.index - 1)];
    const int mid = b.mid(cfg.e[static_cast<size_t>(b.index - 1)]);
    const Act act = b.hswish ? Act::Hardswish : Act::Relu;
    cpu::Graph::Value h = g->conv_deferred(y, fold.deferred(b.expand_w.narrow(0, 0, mid), b.expand_bn, mid), mid, 1, 1, act);
    fold(b.dw_k[static_cast<size_t>(k)].narrow(0, 0, mid), b.dw_bn, mid);
    h = g->depthwise(h, fold.weight.data(), fold.bias.data(), k, b.stride, act);
    if (b.se) {
      const int sm = Block::se_mid(mid);
      cpu::Graph::Value z = g->global_avg_pool(h);
      const at::Tensor rw = b.se_rw.narrow(0, 0, sm).narrow(1, 0, mid).select(3, 0).select(2, 0);
      z = g->fully_connected(z, dense(rw, fc), b.se_rb.data_ptr<float>(), sm, Act::Relu);
      const at::Tensor ew = b.se_ew.narrow(0, 0, mid).narrow(1, 0, sm).select(3, 0).select(2, 0);
      dense(ew, fc, 1.f / 6.f);
      std::vector<float> eb(static_cast<size_t>(mid));
      const float* src = b.se_eb.data_ptr<float>();
      for (int i = 0; i < mid; ++i) eb[static_cast<size_t>(i)] = src[i] / 6.f + 0.5f;
      z = g->fully_connected(z, fc.data(), eb.data(), mid, 0.f, 1.f);
      g->multiply_channels(h, z);
    }
    cpu::Graph::Value p = g->conv_deferred(h, fold.deferred(b.proj_w.narrow(1, 0, mid), b.proj_bn, b.cout), b.cout, 1, 1, Act::None);
    if (b.shortcut) g->add(p, y);
    y = p;
    g->mark_layer();
  }
  const int fe = w.arch.widths[7];
  y = g->conv_deferred(y, fold.deferred(w.fe_w, w.fe_bn, fe), fe, 1, 1, Act::Hardswish);
  g->mark_layer();
  y = g->global_avg_pool(y);
  g->mark_layer();
  y = g->fully_connected(y, head.feature_mix, Act::Hardswish);
  g->mark_layer();
  y = g->fully_connected(y, head.classifier, Act::None);
  g->mark_layer();
  g->set_output(y);
  g->create_deferred(threads);
  return g;
}

}  // namespace dynn::ofa
