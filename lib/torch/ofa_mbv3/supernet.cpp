// OfaMbv3Supernet: loading, the prepared-sub-network cache, switching, BN statistics.
#include <ATen/Parallel.h>

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "dynn/device.hpp"
#include "dynn/error.hpp"
#include "dynn/ofa_mbv3_arch.hpp"
#include "dynn/threads.hpp"
#include "internal.hpp"
#include "torch/model_common.hpp"

using dynn::torch_detail::check_engine;
using dynn::torch_detail::parse_device;

namespace dynn {

using ofa::Prepared;

void OfaMbv3Supernet::Impl::resolve_engine() {
  if (opts.engine == "reference")
    kind = ofa::EngineKind::Reference;
  else if (opts.engine == "fast" && dev.is_cpu() && cpu::available())
    kind = ofa::EngineKind::Xnnpack;
  else
    kind = ofa::EngineKind::Aten;
}

int OfaMbv3Supernet::Impl::effective_threads() const {
  const int n = threads.load(std::memory_order_relaxed);
  return n > 0 ? n : dynn::get_num_threads();
}

std::shared_ptr<const ofa::XnnHead> OfaMbv3Supernet::Impl::head_for(const ofa::Weights& w) const {
  std::lock_guard<std::mutex> lock(cpu_mutex);
  if (!xnn_head || xnn_head->source != &w) xnn_head = ofa::build_xnn_head(w);
  return xnn_head;
}

std::shared_ptr<const Prepared> OfaMbv3Supernet::Impl::get_or_prepare(const SubnetConfig& cfg) {
  // Built outside the cache's lock: inference on other sub-networks goes on meanwhile.
  return plans.get_or_build(cfg, [&] {
    std::shared_ptr<const ofa::BnOverride> stats;
    std::shared_ptr<const ofa::Weights> w;
    ofa::EngineKind k;
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto s = bn_stats.find(cfg);
      if (s != bn_stats.end()) stats = s->second;
      w = weights;
      k = kind;
    }
    std::shared_ptr<const ofa::XnnHead> head;
    if (k == ofa::EngineKind::Xnnpack) head = head_for(*w);
    // Folding and packing use the model's thread count, like its inferences.
    auto p = ofa::prepare_subnet(w, cfg, stats, k, head.get(), effective_threads());
    if (p->xnn) {
      // Bind for batch 1 now, so the first inference after a switch only runs; the binding's
      // indirection buffers count towards the plan's bytes.
      cpu_resources.bind_for_first_run(*p->xnn, effective_threads());
      p->bytes = p->xnn->bytes();
    }
    return p;
  });
}

bool OfaMbv3Supernet::Impl::drop_plan(const SubnetConfig& cfg) {
  plans.erase(cfg);
  auto cur = plans.current();
  return cur && cur->cfg == cfg;
}

OfaMbv3Supernet::OfaMbv3Supernet(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
OfaMbv3Supernet::~OfaMbv3Supernet() = default;

namespace {
std::unique_ptr<OfaMbv3Supernet::Impl> make_impl(std::shared_ptr<ofa::Weights> w, const SupernetOptions& opts) {
  check_engine(opts.engine);
  auto impl = std::make_unique<OfaMbv3Supernet::Impl>(opts);
  impl->cpu_resources.spin_workers = opts.spin_workers;
  impl->cpu_weights = w;
  impl->weights = w;
  impl->resolve_engine();
  return impl;
}
}  // namespace

std::unique_ptr<OfaMbv3Supernet> OfaMbv3Supernet::create(std::shared_ptr<ofa::Weights> w, const SupernetOptions& opts) {
  std::unique_ptr<OfaMbv3Supernet> net(new OfaMbv3Supernet(make_impl(std::move(w), opts)));
  if (opts.num_threads != 0) net->set_num_threads(opts.num_threads);  // negative: refused there
  // The first plan is built on the CPU, then moved: set_device re-prepares the current sub-network.
  net->m_impl->opts.device = "cpu";
  net->set_subnet(SubnetConfig::largest(224));
  if (opts.device != "cpu") net->set_device(opts.device);
  return net;
}

std::unique_ptr<OfaMbv3Supernet> OfaMbv3Supernet::from_state_dict(const StateDict& sd, const SupernetOptions& opts) {
  return create(ofa::weights_from_state_dict(sd, SearchSpace::ofa_mbv3()), opts);
}

std::unique_ptr<OfaMbv3Supernet> OfaMbv3Supernet::load(const std::string& path, const SupernetOptions& opts) {
  return from_state_dict(load_checkpoint(path), opts);
}

std::unique_ptr<OfaMbv3Supernet> OfaMbv3Supernet::random(double width_mult, uint64_t seed, const SupernetOptions& opts) {
  return create(ofa::random_weights(width_mult, seed, SearchSpace::ofa_mbv3()), opts);
}

const SearchSpace& OfaMbv3Supernet::search_space() const { return m_impl->space; }
int OfaMbv3Supernet::num_classes() const { return m_impl->cpu_weights->arch.num_classes; }
const ArchInfo& OfaMbv3Supernet::arch() const { return m_impl->cpu_weights->arch; }
const std::string& OfaMbv3Supernet::engine() const { return m_impl->opts.engine; }

void OfaMbv3Supernet::set_subnet(const SubnetConfig& cfg) {
  cfg.validate(m_impl->space);
  m_impl->plans.set_current(m_impl->get_or_prepare(cfg));
}

void OfaMbv3Supernet::set_subnet(const Subnet& subnet) { set_subnet(subnet.as<SubnetConfig>("OfaMbv3Supernet::set_subnet")); }

SubnetConfig OfaMbv3Supernet::current_config() const { return m_impl->plans.current()->cfg; }
Subnet OfaMbv3Supernet::current_subnet() const { return current_config(); }

void OfaMbv3Supernet::prepare(const std::vector<Subnet>& subnets) {
  std::vector<const SubnetConfig*> cfgs;
  for (const auto& s : subnets) cfgs.push_back(&s.as<SubnetConfig>("OfaMbv3Supernet::prepare"));
  for (const auto* c : cfgs) c->validate(m_impl->space);
  for (const auto* c : cfgs) m_impl->get_or_prepare(*c);
}

Subnet OfaMbv3Supernet::parse_subnet(const std::string& text) const { return SubnetConfig::parse(text, m_impl->space); }

SubnetInfo OfaMbv3Supernet::subnet_info(const Subnet& subnet) const {
  const SubnetConfig& c = subnet.as<SubnetConfig>("OfaMbv3Supernet::subnet_info");
  c.validate(m_impl->space);
  const double wm = m_impl->cpu_weights->arch.width_mult;
  const ofa_mbv3::Arch counts(wm > 0 ? wm : 1.0);
  SubnetInfo i;
  i.family = family();
  i.json = c.to_json();
  i.resolution = c.r;
  i.macs = static_cast<double>(counts.macs(c));
  i.parameters = static_cast<double>(counts.parameters(c));
  return i;
}

bool OfaMbv3Supernet::is_prepared(const SubnetConfig& cfg) const { return m_impl->plans.contains(cfg); }

void OfaMbv3Supernet::clear_cache() { m_impl->plans.clear(); }

void OfaMbv3Supernet::infer(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits,
                            size_t capacity) {
  infer(input, n, c, h, w, logits, capacity, nullptr);
}


void OfaMbv3Supernet::Impl::run(const Prepared& p, const float* input, int64_t n, int64_t c, int64_t h, int64_t w,
                                float* logits, size_t capacity, std::vector<double>* layer_seconds) const {
  const size_t need = torch_detail::check_infer_args(input, n, c, h, w, logits, capacity, p.cfg.r, cpu_weights->arch.num_classes,
                                                     [&] { return p.cfg.to_string(); });
  if (layer_seconds && !dev.is_cpu()) throw Error(ErrorCode::Unsupported, "per-layer timing is implemented for the CPU only");
  if (p.xnn) return cpu_resources.run(*p.xnn, p.run_mutex, effective_threads(), input, n, logits, layer_seconds);
  torch_detail::run_aten(input, n, c, h, w, dev, threads.load(std::memory_order_relaxed), logits, need,
                         [&](const at::Tensor& x) { return ofa::prepared_forward(p, x, layer_seconds); });
}

void OfaMbv3Supernet::infer(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits,
                            size_t capacity, SubnetConfig* ran, std::vector<double>* layer_seconds) {
  auto p = m_impl->plans.current();
  if (ran) *ran = p->cfg;
  m_impl->run(*p, input, n, c, h, w, logits, capacity, layer_seconds);
}

void OfaMbv3Supernet::infer_subnet(const SubnetConfig& cfg, const float* input, int64_t n, int64_t c, int64_t h,
                                   int64_t w, float* logits, size_t capacity, std::vector<double>* layer_seconds) {
  cfg.validate(m_impl->space);
  auto p = m_impl->get_or_prepare(cfg);  // the plan stays alive for this call even if evicted meanwhile
  m_impl->run(*p, input, n, c, h, w, logits, capacity, layer_seconds);
}

// A property of this model. On the ATen engines it is applied to the calling thread when this
// model runs (run()), and now, so a caller that asks get_num_threads() right after sees it too. On
// the XNNPACK engine it sizes dynn's own pool only: LibTorch's count is left alone, because
// at::set_num_threads also resizes LibTorch's own pools, and right after it the next three
// two-thread inferences lost one or two 4 ms scheduler ticks each (measured; docs/supernet.md).
void OfaMbv3Supernet::set_num_threads(int n) {
  check_thread_count(n, "set_num_threads");
  bool xnnpack;
  {
    std::lock_guard<std::mutex> lock(m_impl->mutex);
    xnnpack = m_impl->kind == ofa::EngineKind::Xnnpack;
  }
  if (!xnnpack) dynn::set_num_threads(n);
  m_impl->threads.store(n, std::memory_order_relaxed);
}

int OfaMbv3Supernet::num_threads() const {
  const int n = m_impl->threads.load(std::memory_order_relaxed);
  return n > 0 ? n : dynn::get_num_threads();
}

void OfaMbv3Supernet::set_device(const std::string& device) {
  const at::Device dev = parse_device(device);
  if (dev == m_impl->dev) return;
  auto w = dev.is_cpu() ? m_impl->cpu_weights : std::shared_ptr<const ofa::Weights>(m_impl->cpu_weights->to(dev));
  auto cur_plan = m_impl->plans.current();
  const SubnetConfig cur = cur_plan ? cur_plan->cfg : SubnetConfig::largest(224);
  {
    std::lock_guard<std::mutex> lock(m_impl->mutex);
    m_impl->weights = w;
    m_impl->dev = dev;
    m_impl->opts.device = device;
    m_impl->resolve_engine();
    m_impl->plans.clear_all();  // they were built for the old device
    for (auto& [cfg, st] : m_impl->bn_stats) {
      auto moved = std::make_shared<ofa::BnOverride>();
      for (const auto& [m, v] : *st) moved->emplace_back(m.to(dev), v.to(dev));
      st = moved;
    }
  }
  set_subnet(cur);
}

std::string OfaMbv3Supernet::device() const { return m_impl->opts.device; }

ModelMemory OfaMbv3Supernet::memory() const {
  std::lock_guard<std::mutex> lock(m_impl->mutex);
  ModelMemory m;
  m.supernet_bytes = m_impl->cpu_weights->bytes + (m_impl->dev.is_cpu() ? 0 : m_impl->weights->bytes);
  m.prepared_bytes = m_impl->plans.bytes();
  m.cache_budget = m_impl->plans.budget();
  m.prepared_count = m_impl->plans.count();
  m.workspace_bytes = m_impl->cpu_resources.idle_workspace_bytes();
  if (m_impl->xnn_head && m.prepared_count > 0) m.shared_bytes = m_impl->xnn_head->bytes();
  return m;
}

std::vector<std::pair<std::string, int>> OfaMbv3Supernet::bn_layout(const SubnetConfig& cfg) const {
  cfg.validate(m_impl->space);
  return ofa::bn_layout(*m_impl->cpu_weights, cfg);
}

void OfaMbv3Supernet::set_bn_stats(const SubnetConfig& cfg, const BnStats& stats) {
  auto ov = std::make_shared<ofa::BnOverride>(torch_detail::bn_tensors(bn_layout(cfg), stats, cfg.to_string(), m_impl->dev));
  const SubnetConfig canon = cfg.canonical(m_impl->space);
  bool was_current = false;
  {
    std::lock_guard<std::mutex> lock(m_impl->mutex);
    m_impl->bn_stats[canon] = ov;
    was_current = m_impl->drop_plan(canon);
  }
  if (was_current) set_subnet(canon);  // re-prepare with the new statistics
}

bool OfaMbv3Supernet::has_bn_stats(const SubnetConfig& cfg) const {
  std::lock_guard<std::mutex> lock(m_impl->mutex);
  return m_impl->bn_stats.count(cfg) > 0;
}

void OfaMbv3Supernet::clear_bn_stats(const SubnetConfig& cfg) {
  bool was_current = false;
  {
    std::lock_guard<std::mutex> lock(m_impl->mutex);
    if (!m_impl->bn_stats.erase(cfg)) return;
    was_current = m_impl->drop_plan(cfg);
  }
  if (was_current) set_subnet(cfg);
}

BnStats OfaMbv3Supernet::recalibrate_bn(const SubnetConfig& cfg, const BatchSource& next) {
  cfg.validate(m_impl->space);
  if (!next) throw Error(ErrorCode::InvalidArgument, "recalibrate_bn: no batch source");
  torch_detail::BnAccumulator acc(bn_layout(cfg));
  std::vector<float> data;
  int64_t n = 0;
  c10::NoGradGuard no_grad;
  while (next(data, n)) {
    const at::Tensor x = torch_detail::calibration_batch(data, n, cfg.r, m_impl->dev);
    torch_detail::BnTensors batch_stats;
    ofa::reference_forward(*m_impl->weights, cfg, x, nullptr, &batch_stats);
    acc.add(batch_stats, n);
  }
  BnStats out = acc.result();
  set_bn_stats(cfg, out);
  return out;
}

void OfaMbv3Supernet::set_bn_stats(const Subnet& s, const BnStats& stats) { set_bn_stats(s.as<SubnetConfig>("set_bn_stats"), stats); }
bool OfaMbv3Supernet::has_bn_stats(const Subnet& s) const { return has_bn_stats(s.as<SubnetConfig>("has_bn_stats")); }
void OfaMbv3Supernet::clear_bn_stats(const Subnet& s) { clear_bn_stats(s.as<SubnetConfig>("clear_bn_stats")); }
BnStats OfaMbv3Supernet::recalibrate_bn(const Subnet& s, const BnBatchSource& next) {
  return recalibrate_bn(s.as<SubnetConfig>("recalibrate_bn"), next);
}

std::map<int, BnStats> load_dynamic_ofa_bn_stats(const std::string& path) {
  const StateDict sd = load_checkpoint(path);
  std::map<int, BnStats> out;
  for (const auto& [key, td] : sd.entries) {
    // level<L>/<bn name>/running_mean|running_var
    const auto s1 = key.find('/'), s2 = key.rfind('/');
    if (key.rfind("level", 0) != 0 || s1 == std::string::npos || s2 == s1)
      throw Error(ErrorCode::Parse, fmt::format("{}: key '{}' is not level<L>/<bn name>/running_mean|running_var", path, key));
    const std::string lvl = key.substr(5, s1 - 5), name = key.substr(s1 + 1, s2 - s1 - 1), what = key.substr(s2 + 1);
    if (lvl.empty() || lvl.size() > 4 || lvl.find_first_not_of("0123456789") != std::string::npos)
      throw Error(ErrorCode::Parse, fmt::format("{}: key '{}' has no level number", path, key));
    if (what != "running_mean" && what != "running_var")
      throw Error(ErrorCode::Parse, fmt::format("{}: key '{}' ends in '{}', expected running_mean or running_var", path, key, what));
    auto& mv = out[std::stoi(lvl)].mean_var[name];
    (what == "running_mean" ? mv.first : mv.second) = td.to_float();
  }
  return out;
}

}  // namespace dynn
