#include "dynn/runtime/simulated_model.hpp"

#include <algorithm>

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
      m_space(std::move(options.space)),
      m_classes(options.num_classes),
      m_subnet(m_inner ? m_inner->current_subnet() : SubnetConfig::largest(224, m_space)),
      m_device(simulated_device(options.device)) {
  if (!m_inner && m_classes < 1)
    throw Error(ErrorCode::InvalidArgument, fmt::format("simulated model: num_classes {} must be >= 1", m_classes));
  for (const auto& p : options.recorded)
    if (p.hardware.empty() && p.latency_ms > 0) set_reference(p.subnet, p.device, p.latency_ms);
  // Without a model inside, it runs with the board's thread count until told otherwise: bound to
  // the platform's "threads" knob (runtime manager, profiler) it must not change what the
  // simulator times the CPU with.
  if (!m_inner)
    if (Knob* k = sim.find_knob("threads")) m_threads = static_cast<int>(k->get());
}

std::string SimulatedModel::family() const { return m_inner ? m_inner->family() : m_space.family; }
const SearchSpace& SimulatedModel::search_space() const { return m_inner ? m_inner->search_space() : m_space; }
int SimulatedModel::num_classes() const { return m_inner ? m_inner->num_classes() : m_classes; }

void SimulatedModel::set_subnet(const SubnetConfig& cfg) {
  if (m_inner) m_inner->set_subnet(cfg);
  else cfg.validate(m_space);
  m_subnet = cfg;
}

void SimulatedModel::prepare(const std::vector<SubnetConfig>& cfgs) {
  if (m_inner) m_inner->prepare(cfgs);
  else
    for (const auto& c : cfgs) c.validate(m_space);
}

void SimulatedModel::set_reference(const SubnetConfig& subnet, const std::string& device, double ms) {
  if (!(ms > 0) || !std::isfinite(ms))
    throw Error(ErrorCode::InvalidArgument, fmt::format("simulated model: reference latency {} ms must be > 0", ms));
  m_reference[{simulated_device(device), subnet.canonical(search_space()).to_string()}] = ms;
}

void SimulatedModel::infer(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits, size_t capacity) {
  if (m_inner) {
    m_inner->infer(input, n, c, h, w, logits, capacity);
  } else {
    if (n < 1 || n > 4096 || c != 3 || h != m_subnet.r || w != m_subnet.r)
      throw Error(ErrorCode::InvalidArgument, fmt::format("simulated model: input [{}, {}, {}, {}] is not [1..4096, 3, {}, {}]", n, c,
                                                          h, w, m_subnet.r, m_subnet.r));
    const size_t need = static_cast<size_t>(n) * static_cast<size_t>(m_classes);
    if (capacity < need)
      throw Error(ErrorCode::BufferTooSmall, fmt::format("simulated model: logits capacity {} < {}", capacity, need));
    if (!logits) throw Error(ErrorCode::InvalidArgument, "simulated model: logits is NULL");
    std::fill(logits, logits + need, 0.0f);
  }
  auto it = m_reference.find({m_device, m_subnet.canonical(search_space()).to_string()});
  for (int64_t i = 0; i < n; ++i) {
    if (it != m_reference.end()) m_sim->simulate_work(it->second, m_device);
    else m_sim->simulate_inference(m_subnet, m_device);
  }
  ++m_inferences;
}

void SimulatedModel::set_num_threads(int n) {
  check_thread_count(n, "simulated model");
  if (m_inner) m_inner->set_num_threads(n);
  m_threads = n;
}

int SimulatedModel::num_threads() const { return m_inner ? m_inner->num_threads() : m_threads; }

void SimulatedModel::set_device(const std::string& device) { m_device = simulated_device(device); }

ModelMemory SimulatedModel::memory() const { return m_inner ? m_inner->memory() : ModelMemory{}; }

}  // namespace dynn
