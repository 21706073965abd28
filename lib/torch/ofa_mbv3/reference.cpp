// The exact reference forward (ofa_spec.md sections 1-3, unfused, float32) and BN layouts.
#include <fmt/format.h>

#include "dynn/error.hpp"
#include "internal.hpp"

namespace dynn::ofa {

std::vector<std::pair<std::string, int>> bn_layout(const Weights& w, const SubnetConfig& cfg) {
  std::vector<std::pair<std::string, int>> out;
  const std::string mic = ".mobile_inverted_conv.";
  out.emplace_back("first_conv.bn", w.arch.widths[0]);
  out.emplace_back("blocks.0" + mic + "depth_conv.bn", w.arch.widths[0]);
  out.emplace_back("blocks.0" + mic + "point_linear.bn", w.arch.widths[1]);
  int k = 1;
  for (const auto& b : w.blocks) {
    if (b.pos >= cfg.d[static_cast<size_t>(b.stage)]) continue;
    const int mid = b.mid(cfg.e[static_cast<size_t>(b.index - 1)]);
    const std::string p = fmt::format("blocks.{}{}", k++, mic);
    out.emplace_back(p + "inverted_bottleneck.bn", mid);
    out.emplace_back(p + "depth_conv.bn", mid);
    out.emplace_back(p + "point_linear.bn", b.cout);
  }
  out.emplace_back("final_expand_layer.bn", w.arch.widths[7]);
  return out;
}

namespace {

struct BnRunner {
  const BnOverride* stats;
  std::vector<std::pair<at::Tensor, at::Tensor>>* calib;
  size_t next = 0;

  at::Tensor operator()(const at::Tensor& x, const Bn& bn, int64_t c) {
    const size_t i = next++;
    at::Tensor w = bn.weight.narrow(0, 0, c), b = bn.bias.narrow(0, 0, c);
    at::Tensor mean, var;
    if (calib) {
      // OFA set_running_statistics: batch mean over (N, H, W) as successive means, biased variance.
      mean = x.mean(0, true).mean(2, true).mean(3, true);
      var = (x - mean).pow(2).mean(0, true).mean(2, true).mean(3, true);
      mean = mean.flatten();
      var = var.flatten();
      calib->emplace_back(mean, var);
    } else if (stats) {
      if (i >= stats->size()) throw Error(ErrorCode::Internal, "BN statistics list shorter than the sub-network");
      mean = (*stats)[i].first;
      var = (*stats)[i].second;
    } else {
      mean = bn.mean.narrow(0, 0, c);
      var = bn.var.narrow(0, 0, c);
    }
    return at::batch_norm(x, w, b, mean, var, false, 0.1, 1e-5, true);
  }
};

at::Tensor pool_wh(const at::Tensor& x) { return x.mean(3, true).mean(2, true); }  // W then H (H6)

}  // namespace

at::Tensor reference_forward(const Weights& w, const SubnetConfig& cfg, const at::Tensor& x, const BnOverride* stats,
                             std::vector<std::pair<at::Tensor, at::Tensor>>* calib) {
  BnRunner bn{stats, calib};
  const int64_t c0 = w.arch.widths[0];
  at::Tensor y = at::conv2d(x, w.first_w, {}, 2, 1);
  y = at::hardswish(bn(y, w.first_bn, c0));
  // First block: dw 3x3 + BN + ReLU, pw + BN, identity shortcut.
  at::Tensor t = at::relu(bn(at::conv2d(y, w.b0_dw_w, {}, 1, 1, 1, c0), w.b0_dw_bn, c0));
  t = bn(at::conv2d(t, w.b0_pw_w), w.b0_pw_bn, w.arch.widths[1]);
  y = t + y;

  for (const auto& b : w.blocks) {
    if (b.pos >= cfg.d[static_cast<size_t>(b.stage)]) continue;
    const int k = cfg.ks[static_cast<size_t>(b.index - 1)];
    const int64_t mid = b.mid(cfg.e[static_cast<size_t>(b.index - 1)]);
    auto act = [&](const at::Tensor& v) { return b.hswish ? at::hardswish(v) : at::relu(v); };
    at::Tensor h = at::conv2d(y, b.expand_w.narrow(0, 0, mid));
    h = act(bn(h, b.expand_bn, mid));
    h = at::conv2d(h, b.dw_k[static_cast<size_t>(k)].narrow(0, 0, mid), {}, b.stride, k / 2, 1, mid);
    h = act(bn(h, b.dw_bn, mid));
    if (b.se) {
      const int64_t sm = Block::se_mid(static_cast<int>(mid));
      at::Tensor z = pool_wh(h);
      z = at::relu(at::conv2d(z, b.se_rw.narrow(0, 0, sm).narrow(1, 0, mid), b.se_rb.narrow(0, 0, sm)));
      z = at::hardsigmoid(at::conv2d(z, b.se_ew.narrow(0, 0, mid).narrow(1, 0, sm), b.se_eb.narrow(0, 0, mid)));
      h = h * z;
    }
    h = bn(at::conv2d(h, b.proj_w.narrow(1, 0, mid)), b.proj_bn, b.cout);
    y = b.shortcut ? h + y : h;
  }
  y = at::hardswish(bn(at::conv2d(y, w.fe_w), w.fe_bn, w.arch.widths[7]));
  y = pool_wh(y);
  y = at::hardswish(at::conv2d(y, w.fm_w));
  y = y.flatten(1);
  return at::linear(y, w.cls_w, w.cls_b);
}

}  // namespace dynn::ofa
