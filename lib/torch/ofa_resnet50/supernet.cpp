// OFA ResNet-50 on LibTorch: the weights read from a state dict (widths from shapes), the exact
// reference forward (OFA's unfused arithmetic on the active slices) and prepared sub-networks
// (BN folded into sliced, contiguous conv weights), cached and switched through PlanCache.
#include "dynn/ofa_resnet50/supernet.hpp"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

#include "core/plan_cache.hpp"
#include "cpu/resources.hpp"
#include "cpu/xnn_graph.hpp"
#include "dynn/device.hpp"
#include "dynn/error.hpp"
#include "dynn/threads.hpp"
#include "torch/model_common.hpp"

namespace dynn {
namespace rn = ofa_resnet50;

namespace {

struct Bn {
  at::Tensor weight, bias, mean, var;
};
struct ConvBn {
  at::Tensor w;  // [out, in, k, k] at the supernet's size
  Bn bn;
};
struct Block {
  ConvBn conv1, conv2, conv3, down;  // down.w undefined: identity shortcut
};
struct Weights {
  rn::Widths widths;
  ConvBn stem0, stem1, stem2;
  std::vector<Block> blocks;
  at::Tensor cls_w, cls_b;
  size_t bytes = 0;
  size_t parameters = 0;

  std::shared_ptr<Weights> to(const at::Device& dev) const {
    auto w = std::make_shared<Weights>(*this);
    auto mv = [&](ConvBn& c) {
      if (!c.w.defined()) return;
      c.w = c.w.to(dev);
      for (at::Tensor* t : {&c.bn.weight, &c.bn.bias, &c.bn.mean, &c.bn.var}) *t = t->to(dev);
    };
    mv(w->stem0), mv(w->stem1), mv(w->stem2);
    for (auto& b : w->blocks) mv(b.conv1), mv(b.conv2), mv(b.conv3), mv(b.down);
    w->cls_w = w->cls_w.to(dev);
    w->cls_b = w->cls_b.to(dev);
    return w;
  }
};

[[noreturn]] void invalid(const std::string& m) { throw Error(ErrorCode::InvalidArgument, m); }

std::shared_ptr<Weights> weights_from_state_dict(const StateDict& sd) {
  if (!rn::looks_like(sd))
    invalid(fmt::format("ofa_resnet50 checkpoint: {} tensors, none under input_stem.* and blocks.N.conv1.*: not an OFA ResNet",
                        sd.size()));
  std::map<std::string, const TensorData*> by_key;
  for (const auto& [key, t] : sd.entries) {
    const std::string k = rn::canonical_key(key);
    if (!by_key.emplace(k, &t).second)
      invalid(fmt::format("ofa_resnet50 checkpoint: '{}' given twice (in both key spellings)", key));
  }
  auto w = std::make_shared<Weights>();
  w->widths = rn::widths_from_state_dict(sd);
  std::map<std::string, at::Tensor> tensors;
  size_t used = 0;
  for (const rn::TensorSpec& spec : rn::expected_tensors(w->widths)) {
    auto it = by_key.find(spec.key);
    if (it == by_key.end()) {
      if (spec.optional) continue;
      invalid(fmt::format("ofa_resnet50 checkpoint: missing '{}' (shape [{}])", spec.key, fmt::join(spec.shape, ", ")));
    }
    ++used;
    if (it->second->shape != spec.shape)
      invalid(fmt::format("ofa_resnet50 checkpoint: '{}' has shape {}, expected [{}] for stem {} and stages {}", spec.key,
                          it->second->shape_string(), fmt::join(spec.shape, ", "), w->widths.stem, fmt::join(w->widths.stage, "/")));
    if (spec.optional) continue;
    const std::vector<float> v = it->second->to_float();
    at::Tensor t = at::empty(spec.shape, at::kFloat);
    std::memcpy(t.data_ptr<float>(), v.data(), v.size() * sizeof(float));
    if (!at::isfinite(t).all().item<bool>()) invalid(fmt::format("ofa_resnet50 checkpoint: '{}' holds NaN or inf", spec.key));
    if (spec.key.find("running_var") != std::string::npos && (t < 0).any().item<bool>())
      invalid(fmt::format("ofa_resnet50 checkpoint: '{}' holds a negative variance", spec.key));
    w->bytes += v.size() * sizeof(float);
    if (spec.key.find("running_") == std::string::npos) w->parameters += v.size();
    tensors[spec.key] = t;
  }
  if (used != by_key.size())
    for (const auto& [key, t] : by_key) {
      (void)t;
      bool known = false;
      for (const rn::TensorSpec& spec : rn::expected_tensors(w->widths)) known = known || spec.key == key;
      if (!known) invalid(fmt::format("ofa_resnet50 checkpoint: unexpected key '{}'", key));
    }
  auto conv_bn = [&](const std::string& conv, const std::string& bn) {
    ConvBn c;
    c.w = tensors.at(conv + ".conv.weight");
    c.bn = {tensors.at(bn + ".bn.weight"), tensors.at(bn + ".bn.bias"), tensors.at(bn + ".bn.running_mean"),
            tensors.at(bn + ".bn.running_var")};
    return c;
  };
  w->stem0 = conv_bn("input_stem.0.conv", "input_stem.0.bn");
  w->stem1 = conv_bn("input_stem.1.conv.conv", "input_stem.1.conv.bn");
  w->stem2 = conv_bn("input_stem.2.conv", "input_stem.2.bn");
  for (int b = 0; b < rn::kNumBlocks; ++b) {
    const std::string p = fmt::format("blocks.{}", b);
    Block blk;
    blk.conv1 = conv_bn(p + ".conv1.conv", p + ".conv1.bn");
    blk.conv2 = conv_bn(p + ".conv2.conv", p + ".conv2.bn");
    blk.conv3 = conv_bn(p + ".conv3.conv", p + ".conv3.bn");
    if (tensors.count(p + ".downsample.conv.conv.weight")) blk.down = conv_bn(p + ".downsample.conv", p + ".downsample.bn");
    w->blocks.push_back(std::move(blk));
  }
  w->cls_w = tensors.at("classifier.linear.linear.weight");
  w->cls_b = tensors.at("classifier.linear.linear.bias");
  return w;
}

// The conv+BN modules whose BN layers a sub-network runs, in rn::bn_layout's order (W: Weights or
// const Weights).
template <class W>
auto bn_modules(W& w, const rn::ActiveNet& n) {
  std::vector<decltype(&w.stem0)> out{&w.stem0};
  if (n.stem_residual) out.push_back(&w.stem1);
  out.push_back(&w.stem2);
  for (const rn::ActiveBlock& b : n.blocks) {
    auto& blk = w.blocks[static_cast<size_t>(b.block)];
    out.push_back(&blk.conv1);
    out.push_back(&blk.conv2);
    out.push_back(&blk.conv3);
    if (b.downsample) out.push_back(&blk.down);
  }
  return out;
}

// The supernet's weights with one sub-network's BN statistics in place of the shared running ones
// (fresh mean/var tensors for the layers it runs; everything else shared).
std::shared_ptr<const Weights> with_bn_stats(const Weights& w, const rn::ActiveNet& n, const torch_detail::BnTensors& stats) {
  auto out = std::make_shared<Weights>(w);
  const auto mods = bn_modules(*out, n);
  for (size_t i = 0; i < mods.size(); ++i) {
    Bn& bn = mods[i]->bn;
    const int64_t c = stats[i].first.size(0);
    bn.mean = bn.mean.clone();
    bn.var = bn.var.clone();
    bn.mean.slice(0, 0, c).copy_(stats[i].first);
    bn.var.slice(0, 0, c).copy_(stats[i].second);
  }
  return out;
}

// --- the reference: OFA's dynamic modules on the active slices ---

// Calibration (OFA's set_running_statistics): each BN normalises with its batch's mean and biased
// variance, which are recorded per module.
using BnRecord = std::map<const ConvBn*, std::pair<at::Tensor, at::Tensor>>;

at::Tensor ref_conv_bn(const ConvBn& c, const at::Tensor& x, int64_t out, int64_t stride, bool relu, BnRecord* calib = nullptr) {
  const int64_t in = x.size(1), k = c.w.size(2);
  at::Tensor y = at::conv2d(x, c.w.slice(0, 0, out).slice(1, 0, in).contiguous(), {}, stride, k / 2);
  at::Tensor mean = c.bn.mean.slice(0, 0, out), var = c.bn.var.slice(0, 0, out);
  if (calib) {
    mean = y.mean({0, 2, 3});
    var = (y - mean.view({1, -1, 1, 1})).pow(2).mean({0, 2, 3});
    (*calib)[&c] = {mean, var};
  }
  y = at::batch_norm(y, c.bn.weight.slice(0, 0, out), c.bn.bias.slice(0, 0, out), mean, var, false, 0.1, rn::kBnEps, true);
  return relu ? at::relu(y) : y;
}

at::Tensor reference_forward(const Weights& w, const rn::Subnet& s, const at::Tensor& input, BnRecord* calib = nullptr) {
  const rn::ActiveNet n = rn::resolve(w.widths, s);
  at::Tensor x = ref_conv_bn(w.stem0, input, n.stem_mid, 2, true, calib);
  if (n.stem_residual) x = ref_conv_bn(w.stem1, x, n.stem_mid, 1, true, calib) + x;
  x = ref_conv_bn(w.stem2, x, n.stem, 1, true, calib);
  x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  for (const rn::ActiveBlock& b : n.blocks) {
    const Block& blk = w.blocks[static_cast<size_t>(b.block)];
    at::Tensor res = x;
    if (b.downsample) {
      if (b.stride > 1) res = at::avg_pool2d(res, {b.stride, b.stride}, {b.stride, b.stride}, {0, 0}, true);
      res = ref_conv_bn(blk.down, res, b.cout, 1, false, calib);
    }
    at::Tensor h = ref_conv_bn(blk.conv1, x, b.mid, 1, true, calib);
    h = ref_conv_bn(blk.conv2, h, b.mid, b.stride, true, calib);
    h = ref_conv_bn(blk.conv3, h, b.cout, 1, false, calib);
    x = at::relu(h + res);
  }
  x = x.mean(3, true).mean(2, true).flatten(1);
  return at::linear(x, w.cls_w.slice(1, 0, n.features), w.cls_b);
}

// --- prepared sub-networks ---

struct FoldedConv {
  at::Tensor w, b;
  int64_t stride = 1, pad = 0;
  size_t bytes() const { return static_cast<size_t>(w.numel() + b.numel()) * sizeof(float); }
};

FoldedConv fold(const ConvBn& c, int64_t out, int64_t in, int64_t stride) {
  FoldedConv f;
  const at::Tensor scale = c.bn.weight.slice(0, 0, out).to(at::kDouble) /
                           at::sqrt(c.bn.var.slice(0, 0, out).to(at::kDouble) + rn::kBnEps);
  f.w = (c.w.slice(0, 0, out).slice(1, 0, in).to(at::kDouble) * scale.view({-1, 1, 1, 1})).to(at::kFloat).contiguous();
  f.b = (c.bn.bias.slice(0, 0, out).to(at::kDouble) - c.bn.mean.slice(0, 0, out).to(at::kDouble) * scale).to(at::kFloat);
  f.stride = stride;
  f.pad = c.w.size(2) / 2;
  return f;
}

enum class Engine { Xnnpack, Folded, Reference };

struct Plan {
  rn::Subnet key;
  rn::ActiveNet net;
  Engine engine = Engine::Folded;
  std::shared_ptr<const Weights> weights;  // the reference engine's
  FoldedConv stem0, stem1, stem2;
  struct B {
    FoldedConv conv1, conv2, conv3, down;
    int64_t pool = 1;  // shortcut average pool (stride) before down
    bool downsample = false;
  };
  std::vector<B> blocks;
  at::Tensor cls_w, cls_b;
  std::unique_ptr<cpu::Graph> xnn;  // Engine::Xnnpack
  mutable std::mutex run_mutex;     // an XNNPACK graph runs one inference at a time
  size_t bytes = 0;
};

std::vector<float> ohwi(const at::Tensor& w) {
  const at::Tensor t = w.permute({0, 2, 3, 1}).contiguous();
  return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
}

// The folded plan as an XNNPACK graph (NHWC, ReLU fused into convs and the residual add).
std::unique_ptr<cpu::Graph> build_graph(const Plan& p, int classes) {
  auto g = std::make_unique<cpu::Graph>();
  auto conv_op = [&](cpu::Graph::Value x, const FoldedConv& c, cpu::Act act) {
    const std::vector<float> k = ohwi(c.w);
    return g->conv(x, k.data(), c.b.data_ptr<float>(), static_cast<int>(c.w.size(0)), static_cast<int>(c.w.size(2)),
                   static_cast<int>(c.stride), 1, act);
  };
  const rn::ActiveNet& n = p.net;
  cpu::Graph::Value x = conv_op(g->input(p.key.r, p.key.r, 3), p.stem0, cpu::Act::Relu);
  if (n.stem_residual) {
    const cpu::Graph::Value y = conv_op(x, p.stem1, cpu::Act::Relu);
    g->add(y, x);
    x = y;
  }
  x = conv_op(x, p.stem2, cpu::Act::Relu);
  x = g->max_pool(x, 3, 2, 1);
  g->mark_layer();
  for (const Plan::B& b : p.blocks) {
    cpu::Graph::Value res = x;
    if (b.downsample) res = conv_op(g->avg_pool_ceil(x, static_cast<int>(b.pool)), b.down, cpu::Act::None);
    cpu::Graph::Value h = conv_op(conv_op(conv_op(x, b.conv1, cpu::Act::Relu), b.conv2, cpu::Act::Relu), b.conv3, cpu::Act::None);
    g->add(h, res, cpu::Act::Relu);
    x = h;
    g->mark_layer();
  }
  x = g->global_avg_pool(x);
  x = g->fully_connected(x, p.cls_w.data_ptr<float>(), p.cls_b.data_ptr<float>(), classes, cpu::Act::None);
  g->mark_layer();
  g->set_output(x);
  return g;
}

std::shared_ptr<Plan> make_plan(const std::shared_ptr<const Weights>& w, const rn::Subnet& s, Engine engine) {
  auto p = std::make_shared<Plan>();
  p->key = s.canonical();
  p->net = rn::resolve(w->widths, s);
  p->engine = engine;
  if (engine == Engine::Reference) {
    p->weights = w;
    return p;
  }
  c10::NoGradGuard no_grad;
  const rn::ActiveNet& n = p->net;
  p->stem0 = fold(w->stem0, n.stem_mid, 3, 2);
  if (n.stem_residual) p->stem1 = fold(w->stem1, n.stem_mid, n.stem_mid, 1);
  p->stem2 = fold(w->stem2, n.stem, n.stem_mid, 1);
  size_t bytes = p->stem0.bytes() + p->stem2.bytes() + (n.stem_residual ? p->stem1.bytes() : 0);
  for (const rn::ActiveBlock& b : n.blocks) {
    const Block& blk = w->blocks[static_cast<size_t>(b.block)];
    Plan::B pb;
    pb.conv1 = fold(blk.conv1, b.mid, b.cin, 1);
    pb.conv2 = fold(blk.conv2, b.mid, b.mid, b.stride);
    pb.conv3 = fold(blk.conv3, b.cout, b.mid, 1);
    pb.downsample = b.downsample;
    if (b.downsample) {
      pb.down = fold(blk.down, b.cout, b.cin, 1);
      pb.pool = b.stride;
    }
    bytes += pb.conv1.bytes() + pb.conv2.bytes() + pb.conv3.bytes() + (b.downsample ? pb.down.bytes() : 0);
    p->blocks.push_back(std::move(pb));
  }
  p->cls_w = w->cls_w.slice(1, 0, n.features).contiguous();
  p->cls_b = w->cls_b.contiguous();
  p->bytes = bytes + static_cast<size_t>(p->cls_w.numel()) * sizeof(float);
  if (engine == Engine::Xnnpack) {
    // The graph packs its own copy; the folded tensors are dropped.
    p->xnn = build_graph(*p, static_cast<int>(w->cls_w.size(0)));
    p->stem0 = p->stem1 = p->stem2 = FoldedConv{};
    p->blocks.clear();
    p->cls_w = p->cls_b = at::Tensor();
    p->bytes = p->xnn->bytes();
  }
  return p;
}

at::Tensor conv(const FoldedConv& c, const at::Tensor& x, bool relu) {
  at::Tensor y = at::conv2d(x, c.w, c.b, c.stride, c.pad);
  return relu ? at::relu_(y) : y;
}

at::Tensor plan_forward(const Plan& p, const at::Tensor& input) {
  if (p.engine == Engine::Reference) return reference_forward(*p.weights, p.key, input);
  at::Tensor x = conv(p.stem0, input, true);
  if (p.net.stem_residual) x = conv(p.stem1, x, true).add_(x);
  x = conv(p.stem2, x, true);
  x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  for (const Plan::B& b : p.blocks) {
    at::Tensor res = x;
    if (b.downsample) {
      if (b.pool > 1) res = at::avg_pool2d(res, {b.pool, b.pool}, {b.pool, b.pool}, {0, 0}, true);
      res = conv(b.down, res, false);
    }
    at::Tensor h = conv(b.conv3, conv(b.conv2, conv(b.conv1, x, true), true), false);
    x = at::relu_(h.add_(res));
  }
  x = x.mean({2, 3});
  return at::linear(x, p.cls_w, p.cls_b);
}

}  // namespace

struct OfaResNet50Supernet::Impl {
  SupernetOptions opts;
  std::shared_ptr<const Weights> cpu_weights, weights;
  at::Device dev = at::kCPU;
  Engine engine = Engine::Folded;
  std::atomic<int> threads{0};
  detail::PlanCache<rn::Subnet, Plan> plans;
  cpu::Resources cpu_resources;
  // Sub-networks with their own BN statistics: the weights their plans fold (set_bn_stats).
  mutable std::mutex bn_mutex;
  std::unordered_map<rn::Subnet, std::shared_ptr<const Weights>> bn_weights;  // canonical key

  explicit Impl(size_t budget) : plans(budget) {}

  int effective_threads() const {
    const int n = threads.load(std::memory_order_relaxed);
    return n > 0 ? n : dynn::get_num_threads();
  }

  // The weights a sub-network's plan folds: with its own BN statistics where it has them.
  std::shared_ptr<const Weights> weights_for(const rn::Subnet& canonical) const {
    std::lock_guard<std::mutex> lock(bn_mutex);
    auto it = bn_weights.find(canonical);
    return it != bn_weights.end() ? it->second : weights;
  }

  std::shared_ptr<const Plan> plan_for(const rn::Subnet& s) {
    s.validate();
    const rn::Subnet key = s.canonical();
    const std::shared_ptr<const Weights> w = weights_for(key);
    return plans.get_or_build(key, [&] {
      auto p = make_plan(w, key, engine);
      if (p->xnn) {
        // Bound for batch 1 now, so the first inference after a switch only runs; the binding's
        // indirection buffers count towards the plan's bytes.
        cpu_resources.bind_for_first_run(*p->xnn, effective_threads());
        p->bytes = p->xnn->bytes();
      }
      return p;
    });
  }

  void run(const Plan& p, const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits,
           size_t capacity) const {
    const size_t need = torch_detail::check_infer_args(input, n, c, h, w, logits, capacity, p.key.r, cpu_weights->widths.num_classes,
                                                       [&] { return p.key.to_json(); });
    if (p.xnn) return cpu_resources.run(*p.xnn, p.run_mutex, effective_threads(), input, n, logits);
    torch_detail::run_aten(input, n, c, h, w, dev, threads.load(std::memory_order_relaxed), logits, need,
                           [&](const at::Tensor& x) { return plan_forward(p, x); });
  }
};

OfaResNet50Supernet::OfaResNet50Supernet(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
OfaResNet50Supernet::~OfaResNet50Supernet() = default;

std::unique_ptr<OfaResNet50Supernet> OfaResNet50Supernet::load(const std::string& path, const SupernetOptions& opts) {
  return from_state_dict(load_checkpoint(path), opts);
}

std::unique_ptr<OfaResNet50Supernet> OfaResNet50Supernet::from_state_dict(const StateDict& sd, const SupernetOptions& opts) {
  torch_detail::check_engine(opts.engine);
  auto impl = std::make_unique<Impl>(opts.cache_bytes);
  impl->opts = opts;
  impl->cpu_resources.spin_workers = opts.spin_workers;
  impl->cpu_weights = weights_from_state_dict(sd);
  impl->dev = torch_detail::parse_device(opts.device);
  impl->weights = impl->dev.is_cpu() ? impl->cpu_weights : impl->cpu_weights->to(impl->dev);
  impl->engine = opts.engine == "reference"                             ? Engine::Reference
                 : opts.engine == "fast" && impl->dev.is_cpu() && cpu::available() ? Engine::Xnnpack
                                                                                 : Engine::Folded;
  std::unique_ptr<OfaResNet50Supernet> net(new OfaResNet50Supernet(std::move(impl)));
  if (opts.num_threads != 0) net->set_num_threads(opts.num_threads);
  net->set_subnet(Subnet::largest(224));
  return net;
}

std::unique_ptr<OfaResNet50Supernet> OfaResNet50Supernet::random(uint64_t seed, const rn::Widths& widths,
                                                                 const SupernetOptions& opts) {
  // splitmix64 + Box-Muller: the same numbers on every machine and standard library.
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  auto next = [&] {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return static_cast<double>((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
  };
  auto normal = [&] { return std::sqrt(-2 * std::log(next() + 1e-300)) * std::cos(6.283185307179586 * next()); };
  StateDict sd;
  for (const rn::TensorSpec& spec : rn::expected_tensors(widths)) {
    if (spec.optional) continue;
    int64_t count = 1;
    for (int64_t d : spec.shape) count *= d;
    std::vector<float> v(static_cast<size_t>(count));
    const std::string& k = spec.key;
    const bool conv = spec.shape.size() == 4, fc = k.find(".linear.weight") != std::string::npos;
    const double fan_in = (conv || fc) ? static_cast<double>(count / spec.shape[0]) : 1.0;
    // Each bottleneck's last BN starts small, as in trained ResNets, so deep sub-networks stay finite.
    const bool last_bn = k.find(".conv3.bn.bn.weight") != std::string::npos;
    for (auto& x : v) {
      if (conv) x = static_cast<float>(normal() * std::sqrt(2.0 / fan_in));
      else if (fc) x = static_cast<float>(normal() * std::sqrt(1.0 / fan_in));
      else if (k.find("running_var") != std::string::npos) x = static_cast<float>(0.5 + next());
      else if (k.find("running_mean") != std::string::npos || k.find("bias") != std::string::npos) x = static_cast<float>(0.05 * normal());
      else x = static_cast<float>(last_bn ? 0.1 + 0.15 * next() : 0.8 + 0.4 * next());  // BN gamma
    }
    sd.set(k, TensorData::from_float(spec.shape, v));
  }
  return from_state_dict(sd, opts);
}

const rn::Widths& OfaResNet50Supernet::widths() const { return m_impl->cpu_weights->widths; }
size_t OfaResNet50Supernet::parameter_count() const { return m_impl->cpu_weights->parameters; }
int OfaResNet50Supernet::num_classes() const { return m_impl->cpu_weights->widths.num_classes; }

void OfaResNet50Supernet::set_subnet(const Subnet& s) { m_impl->plans.set_current(m_impl->plan_for(s)); }
rn::Subnet OfaResNet50Supernet::current() const { return m_impl->plans.current()->key; }

void OfaResNet50Supernet::prepare(const std::vector<dynn::Subnet>& subnets) {
  std::vector<const Subnet*> typed;
  for (const auto& s : subnets) typed.push_back(&s.as<Subnet>("OfaResNet50Supernet::prepare"));  // all or nothing on a bad entry
  for (const Subnet* s : typed) s->validate();
  for (const Subnet* s : typed) m_impl->plan_for(*s);
}
bool OfaResNet50Supernet::is_prepared(const Subnet& s) const { return m_impl->plans.contains(s.canonical()); }
void OfaResNet50Supernet::clear_cache() { m_impl->plans.clear(); }

void OfaResNet50Supernet::infer_subnet(const Subnet& s, const float* input, int64_t n, int64_t c, int64_t h, int64_t w,
                                       float* logits, size_t capacity) {
  auto p = m_impl->plan_for(s);
  m_impl->run(*p, input, n, c, h, w, logits, capacity);
}

void OfaResNet50Supernet::infer_reference(const Subnet& s, const float* input, int64_t n, int64_t c, int64_t h, int64_t w,
                                          float* logits, size_t capacity) const {
  s.validate();
  Plan p;
  p.key = s.canonical();
  p.net = rn::resolve(m_impl->weights->widths, s);
  p.engine = Engine::Reference;
  p.weights = m_impl->weights_for(p.key);
  m_impl->run(p, input, n, c, h, w, logits, capacity);
}

void OfaResNet50Supernet::infer(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits,
                                size_t capacity) {
  auto p = m_impl->plans.current();
  m_impl->run(*p, input, n, c, h, w, logits, capacity);
}

SubnetInfo OfaResNet50Supernet::subnet_info(const dynn::Subnet& subnet) const {
  const Subnet& s = subnet.as<Subnet>("OfaResNet50Supernet::subnet_info");
  s.validate();
  SubnetInfo i;
  i.family = family();
  i.json = s.to_json();
  i.resolution = s.r;
  i.macs = static_cast<double>(rn::macs(widths(), s));
  i.parameters = static_cast<double>(rn::parameters(widths(), s));
  return i;
}
std::vector<std::pair<std::string, int>> OfaResNet50Supernet::bn_layout(const Subnet& s) const {
  return rn::bn_layout(widths(), s);
}

void OfaResNet50Supernet::set_bn_stats(const Subnet& s, const BnStats& stats) {
  const rn::ActiveNet n = rn::resolve(widths(), s);
  const auto w = with_bn_stats(*m_impl->weights, n, torch_detail::bn_tensors(bn_layout(s), stats, s.to_string(), m_impl->dev));
  const Subnet key = s.canonical();
  {
    std::lock_guard<std::mutex> lock(m_impl->bn_mutex);
    m_impl->bn_weights[key] = w;
  }
  m_impl->plans.erase(key);
  if (current() == key) set_subnet(key);  // prepared again with the new statistics
}

bool OfaResNet50Supernet::has_bn_stats(const Subnet& s) const {
  std::lock_guard<std::mutex> lock(m_impl->bn_mutex);
  return m_impl->bn_weights.count(s.canonical()) > 0;
}

void OfaResNet50Supernet::clear_bn_stats(const Subnet& s) {
  const Subnet key = s.canonical();
  {
    std::lock_guard<std::mutex> lock(m_impl->bn_mutex);
    if (!m_impl->bn_weights.erase(key)) return;
  }
  m_impl->plans.erase(key);
  if (current() == key) set_subnet(key);
}

BnStats OfaResNet50Supernet::recalibrate_bn(const Subnet& s, const BnBatchSource& next) {
  s.validate();
  if (!next) throw Error(ErrorCode::InvalidArgument, "recalibrate_bn: no batch source");
  const rn::ActiveNet n = rn::resolve(widths(), s);
  torch_detail::BnAccumulator acc(bn_layout(s));
  const auto mods = bn_modules(*m_impl->weights, n);
  std::vector<float> data;
  int64_t count = 0;
  c10::NoGradGuard no_grad;
  while (next(data, count)) {
    const at::Tensor x = torch_detail::calibration_batch(data, count, s.r, m_impl->dev);
    BnRecord record;
    reference_forward(*m_impl->weights, s, x, &record);
    torch_detail::BnTensors batch;
    for (const ConvBn* m : mods) batch.push_back(record.at(m));
    acc.add(batch, count);
  }
  BnStats out = acc.result();
  set_bn_stats(s, out);
  return out;
}

void OfaResNet50Supernet::set_bn_stats(const dynn::Subnet& s, const BnStats& stats) { set_bn_stats(s.as<Subnet>("set_bn_stats"), stats); }
bool OfaResNet50Supernet::has_bn_stats(const dynn::Subnet& s) const { return has_bn_stats(s.as<Subnet>("has_bn_stats")); }
void OfaResNet50Supernet::clear_bn_stats(const dynn::Subnet& s) { clear_bn_stats(s.as<Subnet>("clear_bn_stats")); }
BnStats OfaResNet50Supernet::recalibrate_bn(const dynn::Subnet& s, const BnBatchSource& next) {
  return recalibrate_bn(s.as<Subnet>("recalibrate_bn"), next);
}

dynn::Subnet OfaResNet50Supernet::parse_subnet(const std::string& text) const { return Subnet::from_json(text); }
void OfaResNet50Supernet::set_subnet(const dynn::Subnet& s) { set_subnet(s.as<Subnet>("OfaResNet50Supernet::set_subnet")); }
dynn::Subnet OfaResNet50Supernet::current_subnet() const { return current(); }

void OfaResNet50Supernet::set_device(const std::string& device) {
  if (dynn::Device::parse(device) != dynn::Device::parse(m_impl->opts.device))
    throw Error(ErrorCode::Unsupported, fmt::format("OfaResNet50Supernet: it runs on {}; moving it to {} is not supported: "
                                                    "load it with options.device = \"{}\"", m_impl->opts.device, device, device));
}

// As OfaMbv3Supernet::set_num_threads: the XNNPACK engine leaves LibTorch's count alone.
void OfaResNet50Supernet::set_num_threads(int n) {
  check_thread_count(n, "set_num_threads");
  if (m_impl->engine != Engine::Xnnpack) dynn::set_num_threads(n);
  m_impl->threads.store(n, std::memory_order_relaxed);
}
int OfaResNet50Supernet::num_threads() const {
  const int n = m_impl->threads.load(std::memory_order_relaxed);
  return n > 0 ? n : dynn::get_num_threads();
}
std::string OfaResNet50Supernet::device() const { return m_impl->opts.device; }
const std::string& OfaResNet50Supernet::engine() const { return m_impl->opts.engine; }

ModelMemory OfaResNet50Supernet::memory() const {
  ModelMemory m;
  m.supernet_bytes = m_impl->cpu_weights->bytes;
  m.prepared_bytes = m_impl->plans.bytes();
  m.cache_budget = m_impl->plans.budget();
  m.prepared_count = m_impl->plans.count();
  m.workspace_bytes = m_impl->cpu_resources.idle_workspace_bytes();
  return m;
}

}  // namespace dynn
