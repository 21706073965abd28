// The ATen engine ("aten"; "fast" on CUDA): BN folded into the convs once, weights in NHWC strides and prepacked for
// oneDNN (mkldnn_prepacked::conv2d_*), activations dense channels-last, SE and head through
// addmv/mv (libtorch_fast_path.md section 7). Falls back to folded at::conv2d where the prepacked
// ops are absent (other builds, CUDA).
#include <ATen/core/dispatch/Dispatcher.h>

#include <chrono>

#include <fmt/format.h>

#include "dynn/error.hpp"
#include "internal.hpp"

namespace dynn::ofa {
namespace {

struct PrepackedOps {
  // c10::optional in LibTorch 1.13, std::optional in 2.x.
  using Handle = decltype(c10::Dispatcher::singleton().findSchema({"", ""}));
  Handle prepack, run;
  PrepackedOps()
      : prepack(c10::Dispatcher::singleton().findSchema({"mkldnn_prepacked::conv2d_prepack", ""})),
        run(c10::Dispatcher::singleton().findSchema({"mkldnn_prepacked::conv2d_run", ""})) {}
  bool ok() const { return prepack.has_value() && run.has_value(); }
};

const PrepackedOps& ops() {
  static PrepackedOps o;
  return o;
}

// A conv's weight with BN folded in, w' = w * g/sqrt(v+eps), b' = beta - m*g/sqrt(v+eps): the
// per-channel scale in double, the weight written once, straight into its final layout. On CPU
// that layout has explicit NHWC strides: oneDNN then packs the weight for the NHWC kernels and
// never reorders it again per call (for 1x1 and depthwise weights .contiguous(channels_last) is
// a no-op, so the strides must be built by hand).
struct Folded {
  at::Tensor w, b;
};

Folded fold(const at::Tensor& w, const at::Tensor& gamma, const at::Tensor& beta, const at::Tensor& mean,
            const at::Tensor& var, bool cpu) {
  at::Tensor scale = gamma.to(at::kDouble) / (var.to(at::kDouble) + 1e-5).sqrt();
  Folded f;
  f.b = (beta.to(at::kDouble) - mean.to(at::kDouble) * scale).to(at::kFloat);
  const auto O = w.size(0), I = w.size(1), kh = w.size(2), kw = w.size(3);
  f.w = cpu ? at::empty_strided({O, I, kh, kw}, {kh * kw * I, 1, kw * I, I}, w.options())
            : at::empty({O, I, kh, kw}, w.options().memory_format(at::MemoryFormat::ChannelsLast));
  at::mul_out(f.w, w, scale.to(at::kFloat).view({-1, 1, 1, 1}));
  return f;
}

struct Folder {
  const BnOverride* stats;
  bool cpu;
  size_t next = 0;
  Folded operator()(const at::Tensor& w, const Bn& bn, int64_t c) {
    const auto [mean, var] = bn_mean_var(stats, next++, bn, c);
    return fold(w, bn.weight.narrow(0, 0, c), bn.bias.narrow(0, 0, c), mean, var, cpu);
  }
};

}  // namespace

std::pair<at::Tensor, at::Tensor> bn_mean_var(const BnOverride* stats, size_t i, const Bn& bn, int64_t c) {
  if (stats) return stats->at(i);
  return {bn.mean.narrow(0, 0, c), bn.var.narrow(0, 0, c)};
}

namespace {

std::unique_ptr<ConvOp> make_conv(Folded f, int64_t stride, int64_t groups, bool relu) {
  auto op = std::make_unique<ConvOp>();
  op->k = f.w.size(2);
  op->stride = stride;
  op->pad = op->k / 2;
  op->groups = groups;
  op->relu = relu;
  op->in_c = f.w.size(1) * groups;
  op->w = std::move(f.w);
  op->b = std::move(f.b);
  return op;
}

int64_t out_size(int64_t in, int64_t k, int64_t s) { return (in + 2 * (k / 2) - k) / s + 1; }

// The oneDNN context for an input of [n, in_c, h, w], packed on first use of that shape.
const c10::IValue& packed_context(const ConvOp& op, int64_t n, int64_t h, int64_t w) {
  const std::array<int64_t, 3> key{n, h, w};
  auto it = op.ctx.find(key);
  if (it != op.ctx.end()) return it->second;
  torch::jit::Stack st;
  st.emplace_back(op.w);
  st.emplace_back(op.b);
  st.emplace_back(std::vector<int64_t>{op.stride, op.stride});
  st.emplace_back(std::vector<int64_t>{op.pad, op.pad});
  st.emplace_back(std::vector<int64_t>{1, 1});
  st.emplace_back(op.groups);
  st.emplace_back(std::vector<int64_t>{n, op.in_c, h, w});
  st.emplace_back(std::string(op.relu ? "relu" : "none"));
  ops().prepack->callBoxed(&st);
  return op.ctx.emplace(key, std::move(st[0])).first->second;
}

at::Tensor run_conv(const ConvOp& op, const at::Tensor& x, bool use_prepacked) {
  if (use_prepacked) {
    torch::jit::Stack st;
    st.reserve(2);
    st.emplace_back(x);
    st.emplace_back(packed_context(op, x.size(0), x.size(2), x.size(3)));
    ops().run->callBoxed(&st);
    return std::move(st[0]).toTensor();
  }
  at::Tensor y = at::conv2d(x, op.w, op.b, op.stride, op.pad, 1, op.groups);
  if (op.relu) y.relu_();
  return y;
}

// y = x W^T + b for a batch; at batch 1 addmv is 4-7x faster than linear on this build.
at::Tensor fc(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  if (x.size(0) == 1) {
    at::Tensor v = b.defined() ? at::addmv(b, w, x[0]) : at::mv(w, x[0]);
    return v.unsqueeze(0);
  }
  return b.defined() ? at::addmm(b, x, w.t()) : at::mm(x, w.t());
}

}  // namespace

bool prepacked_available() { return ops().ok(); }

size_t ConvOp::bytes() const {
  size_t s = static_cast<size_t>(w.numel() + b.numel()) * sizeof(float);
  return s * (ctx.empty() ? 1 : 1 + ctx.size());  // folded copy + one packed copy per input shape
}

std::shared_ptr<Prepared> prepare_subnet(const std::shared_ptr<const Weights>& wp, const SubnetConfig& cfg,
                                         const std::shared_ptr<const BnOverride>& stats, EngineKind kind,
                                         const XnnHead* head, int build_threads) {
  auto p = std::make_shared<Prepared>();
  p->cfg = cfg;
  p->kind = kind;
  p->weights = wp;
  p->stats = stats;
  if (kind == EngineKind::Reference) return p;  // no folding: the exact path runs the weights
  const Weights& w = *wp;
  const bool cpu = w.first_w.device().is_cpu();
  if (kind == EngineKind::Xnnpack) {
    if (!cpu || !head) throw Error(ErrorCode::Internal, "the XNNPACK engine needs CPU weights and their packed head");
    p->xnn = build_xnn_graph(w, cfg, stats.get(), *head, build_threads);
    p->bytes = p->xnn->bytes();  // the owner adds the indirection buffers once it binds the graph
    return p;
  }
  p->use_prepacked = cpu && prepacked_available();
  Folder fold_bn{stats.get(), cpu};
  const int64_t c0 = w.arch.widths[0];
  p->first = make_conv(fold_bn(w.first_w, w.first_bn, c0), 2, 1, false);
  p->b0_dw = make_conv(fold_bn(w.b0_dw_w, w.b0_dw_bn, c0), 1, c0, true);
  p->b0_pw = make_conv(fold_bn(w.b0_pw_w, w.b0_pw_bn, w.arch.widths[1]), 1, 1, false);
  for (const auto& b : w.blocks) {
    if (b.pos >= cfg.d[static_cast<size_t>(b.stage)]) continue;
    const int k = cfg.ks[static_cast<size_t>(b.index - 1)];
    const int64_t mid = b.mid(cfg.e[static_cast<size_t>(b.index - 1)]);
    PreparedBlock pb;
    pb.hswish = b.hswish;
    pb.se = b.se;
    pb.shortcut = b.shortcut;
    pb.expand = make_conv(fold_bn(b.expand_w.narrow(0, 0, mid), b.expand_bn, mid), 1, 1, !b.hswish);
    pb.dw = make_conv(fold_bn(b.dw_k[static_cast<size_t>(k)].narrow(0, 0, mid), b.dw_bn, mid), b.stride, mid,
                      !b.hswish);
    if (b.se) {
      const int64_t sm = Block::se_mid(static_cast<int>(mid));
      pb.se_rw = b.se_rw.narrow(0, 0, sm).narrow(1, 0, mid).reshape({sm, mid}).contiguous();
      pb.se_rb = b.se_rb.narrow(0, 0, sm).contiguous();
      pb.se_ew = b.se_ew.narrow(0, 0, mid).narrow(1, 0, sm).reshape({mid, sm}).contiguous();
      pb.se_eb = b.se_eb.narrow(0, 0, mid).contiguous();
    }
    pb.proj = make_conv(fold_bn(b.proj_w.narrow(1, 0, mid), b.proj_bn, b.cout), 1, 1, false);
    p->blocks.push_back(std::move(pb));
  }
  p->fe = make_conv(fold_bn(w.fe_w, w.fe_bn, w.arch.widths[7]), 1, 1, false);
  p->fm_w = w.fm_w.reshape({w.fm_w.size(0), w.fm_w.size(1)}).contiguous();
  p->cls_w = w.cls_w.contiguous();
  p->cls_b = w.cls_b.contiguous();

  if (p->use_prepacked) {
    // Pack for batch 1 at the configured resolution now, so the first inference after a switch is fast.
    int64_t h = cfg.r;
    auto pack = [&](const ConvOp& op) {
      packed_context(op, 1, h, h);
      h = out_size(h, op.k, op.stride);
    };
    pack(*p->first);
    pack(*p->b0_dw);
    pack(*p->b0_pw);
    for (auto& pb : p->blocks) {
      pack(*pb.expand);
      pack(*pb.dw);
      pack(*pb.proj);
    }
    pack(*p->fe);
  }
  size_t bytes = p->first->bytes() + p->b0_dw->bytes() + p->b0_pw->bytes() + p->fe->bytes();
  for (const auto& pb : p->blocks) {
    bytes += pb.expand->bytes() + pb.dw->bytes() + pb.proj->bytes();
    for (const auto* t : {&pb.se_rw, &pb.se_rb, &pb.se_ew, &pb.se_eb})
      if (t->defined()) bytes += static_cast<size_t>(t->numel()) * sizeof(float);
  }
  p->bytes = bytes;
  return p;
}

at::Tensor prepared_forward(const Prepared& p, const at::Tensor& input, std::vector<double>* layer_seconds) {
  if (p.kind == EngineKind::Xnnpack)
    throw Error(ErrorCode::Internal, "XNNPACK sub-networks run through OfaMbv3Supernet::Impl::run");
  if (p.kind == EngineKind::Reference) {
    if (layer_seconds)
      throw Error(ErrorCode::Unsupported, "per-layer timing needs the fast engine (the reference engine is unfused)");
    return reference_forward(*p.weights, p.cfg, input, p.stats.get());
  }
  // oneDNN contexts are created lazily per input shape and are not documented as re-entrant:
  // inferences on one prepared sub-network run one at a time (different ones run concurrently).
  std::lock_guard<std::mutex> lock(p.run_mutex);
  // Per-layer wall time in the look-up-table order (Conv, first block, blocks, Conv_1, AvgPool2D,
  // Conv_2, Logits); CPU ops are synchronous, so a timestamp after each layer is exact.
  using Clock = std::chrono::steady_clock;
  auto last = Clock::now();
  auto mark = [&] {
    if (!layer_seconds) return;
    const auto now = Clock::now();
    layer_seconds->push_back(std::chrono::duration<double>(now - last).count());
    last = now;
  };
  if (layer_seconds) layer_seconds->clear();
  const bool pp = p.use_prepacked;
  at::Tensor x = input.contiguous(at::MemoryFormat::ChannelsLast);
  at::Tensor y = run_conv(*p.first, x, pp);
  at::hardswish_(y);
  mark();
  at::Tensor t = run_conv(*p.b0_dw, y, pp);
  t = run_conv(*p.b0_pw, t, pp);
  t.add_(y);
  y = t;
  mark();
  for (const auto& b : p.blocks) {
    at::Tensor h = run_conv(*b.expand, y, pp);
    if (b.hswish) at::hardswish_(h);
    h = run_conv(*b.dw, h, pp);
    if (b.hswish) at::hardswish_(h);
    if (b.se) {
      at::Tensor z = h.mean({2, 3});
      z = fc(z, b.se_rw, b.se_rb).relu_();
      z = fc(z, b.se_ew, b.se_eb);
      at::hardsigmoid_(z);
      h.mul_(z.view({z.size(0), z.size(1), 1, 1}));
    }
    h = run_conv(*b.proj, h, pp);
    if (b.shortcut) h.add_(y);
    y = h;
    mark();
  }
  y = run_conv(*p.fe, y, pp);
  at::hardswish_(y);
  mark();
  at::Tensor f = y.mean({2, 3});
  mark();
  f = fc(f, p.fm_w, at::Tensor());
  at::hardswish_(f);
  mark();
  at::Tensor out = fc(f, p.cls_w, p.cls_b);
  mark();
  return out;
}

}  // namespace dynn::ofa
