#include "dynn/runtime/simulated_model.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "dynn/device.hpp"
#include "dynn/error.hpp"
#include "dynn/platform/simulated.hpp"

namespace dynn {

namespace {
// The simulated board has one CPU and one GPU: the device as the simulator names it.
std::string simulated_device(const std::string& device) {
  const Device d = Device::parse(device);
  if (d.is_gpu() && d.index != 0)
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("simulated model: device '{}': the simulated board has one GPU ('gpu')", device));
  return d.is_cpu() ? "cpu" : "gpu";
}
}  // namespace

SimulatedModel::SimulatedModel(SimulatedPlatform& sim, std::shared_ptr<DynamicModel> inner)
    : SimulatedModel(sim, std::move(inner), Options{}) {}

SimulatedModel::SimulatedModel(SimulatedPlatform& sim, std::shared_ptr<DynamicModel> inner, Options options)
    : m_sim(&sim),
      m_inner(std::move(inner)),
      m_family(m_inner ? m_inner->family() : options.family),
      m_classes(options.num_classes),
      m_device(simulated_device(options.device)) {
  if (!m_inner && m_classes < 1)
    throw Error(ErrorCode::InvalidArgument, fmt::format("simulated model: num_classes {} must be >= 1", m_classes));
  m_subnet = m_inner ? m_inner->current_subnet() : subnet_family(m_family).largest(224);  // names the known families
  for (const auto& [dev, rate] : options.macs_per_ms) {
    if (!(rate > 0) || !std::isfinite(rate))
      throw Error(ErrorCode::InvalidArgument, fmt::format("simulated model: macs_per_ms[{}] = {} must be > 0", dev, rate));
    m_macs_per_ms[simulated_device(dev)] = rate;
  }
  for (const auto& p : options.recorded)
    if (p.hardware.empty() && p.latency_ms > 0) set_reference(p.subnet, p.device, p.latency_ms);
  // Without a model inside, it runs with the board's thread count until told otherwise: bound to
  // the platform's "threads" knob (runtime manager, profiler) it must not change what the
  // simulator times the CPU with.
  if (!m_inner)
    if (Knob* k = sim.find_knob("threads")) m_threads = static_cast<int>(k->get());
}

std::string SimulatedModel::family() const { return m_family; }
int SimulatedModel::num_classes() const { return m_inner ? m_inner->num_classes() : m_classes; }

Subnet SimulatedModel::parse_subnet(const std::string& text) const {
  return m_inner ? m_inner->parse_subnet(text) : DynamicModel::parse_subnet(text);
}

SubnetInfo SimulatedModel::subnet_info(const Subnet& subnet) const {
  return m_inner ? m_inner->subnet_info(subnet) : DynamicModel::subnet_info(subnet);
}

void SimulatedModel::set_subnet(const Subnet& subnet) {
  if (m_inner) m_inner->set_subnet(subnet);
  else check_family(subnet, "simulated model: set_subnet");  // (the value was validated when it was made)
  m_subnet = subnet;
  m_current_ms = -1;
}

void SimulatedModel::prepare(const std::vector<Subnet>& subnets) {
  if (m_inner) m_inner->prepare(subnets);
  else
    for (const auto& s : subnets) check_family(s, "simulated model: prepare");
}

void SimulatedModel::set_reference(const Subnet& subnet, const std::string& device, double ms) {
  if (!(ms > 0) || !std::isfinite(ms))
    throw Error(ErrorCode::InvalidArgument, fmt::format("simulated model: reference latency {} ms must be > 0", ms));
  if (subnet.family() != m_family)
    throw Error(ErrorCode::InvalidArgument, fmt::format("simulated model: a reference latency for a {} sub-network, this model is {}",
                                                        subnet.empty() ? "empty" : subnet.family(), m_family));
  m_reference[simulated_device(device)][subnet] = ms;
  m_current_ms = -1;
}

double SimulatedModel::reference_ms(const Subnet& subnet, const std::string& device) const {
  const std::string dev = simulated_device(device);
  if (auto d = m_reference.find(dev); d != m_reference.end())
    if (auto it = d->second.find(subnet); it != d->second.end()) return it->second;
  if (m_sim->has_latency_table(dev, subnet.family())) return m_sim->reference_latency_ms(subnet, dev);
  double rate = 0;
  if (auto it = m_macs_per_ms.find(dev); it != m_macs_per_ms.end()) {
    rate = it->second;
  } else if (m_sim->has_latency_table(dev, SubnetConfig::kFamily)) {
    const Subnet probe = SubnetConfig::largest(224);
    rate = subnet_family(SubnetConfig::kFamily).published_macs(probe) / m_sim->reference_latency_ms(probe, dev);
  } else {
    throw Error(ErrorCode::Unsupported,
                fmt::format("simulated model: no latency for the {} sub-network {} on the simulated {}: give it a recorded "
                            "reference latency (Options::recorded, set_reference), a MAC rate (Options::macs_per_ms) or load "
                            "the board's latency tables (load_latency_tables)",
                            subnet.family(), subnet.to_string(), dev));
  }
  return subnet_info(subnet).macs / rate;
}

void SimulatedModel::infer(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits, size_t capacity) {
  const int r = m_subnet.resolution();
  if (m_inner) {
    m_inner->infer(input, n, c, h, w, logits, capacity);
  } else {
    if (n < 1 || n > 4096 || c != 3 || h != r || w != r)
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("simulated model: input [{}, {}, {}, {}] is not [1..4096, 3, {}, {}]", n, c, h, w, r, r));
    const size_t need = static_cast<size_t>(n) * static_cast<size_t>(m_classes);
    if (capacity < need)
      throw Error(ErrorCode::BufferTooSmall, fmt::format("simulated model: logits capacity {} < {}", capacity, need));
    if (!logits) throw Error(ErrorCode::InvalidArgument, "simulated model: logits is NULL");
    std::fill(logits, logits + need, 0.0f);
  }
  if (m_current_ms < 0) m_current_ms = reference_ms(m_subnet, m_device);
  for (int64_t i = 0; i < n; ++i) m_sim->simulate_work(m_current_ms, m_device);
  ++m_inferences;
}

void SimulatedModel::set_num_threads(int n) {
  check_thread_count(n, "simulated model");
  if (m_inner) m_inner->set_num_threads(n);
  m_threads = n;
}

int SimulatedModel::num_threads() const { return m_inner ? m_inner->num_threads() : m_threads; }

void SimulatedModel::set_device(const std::string& device) {
  m_device = simulated_device(device);
  m_current_ms = -1;
}

const std::string& SimulatedModel::engine() const {
  static const std::string name = "simulated";
  return name;
}

ModelMemory SimulatedModel::memory() const { return m_inner ? m_inner->memory() : ModelMemory{}; }

BnStats SimulatedModel::recalibrate_bn(const Subnet& s, const BnBatchSource& next) {
  return m_inner ? m_inner->recalibrate_bn(s, next) : DynamicModel::recalibrate_bn(s, next);
}
void SimulatedModel::set_bn_stats(const Subnet& s, const BnStats& stats) {
  if (m_inner) m_inner->set_bn_stats(s, stats);
  else DynamicModel::set_bn_stats(s, stats);
}
bool SimulatedModel::has_bn_stats(const Subnet& s) const { return m_inner && m_inner->has_bn_stats(s); }
void SimulatedModel::clear_bn_stats(const Subnet& s) {
  if (m_inner) m_inner->clear_bn_stats(s);
}

}  // namespace dynn
