// "dynamic-ofa": Dynamic-OFA's published runtime policy.
#include <cmath>

#include <fmt/format.h>

#include "core/runtime/controllers_internal.hpp"
#include "dynn/runtime/controllers.hpp"

namespace dynn {

namespace {

using namespace controllers_detail;

class DynamicOfaController : public Controller {
 public:
  explicit DynamicOfaController(DynamicOfaOptions o) : m_o(std::move(o)) {
    if (m_o.window < 1) bad("dynamic-ofa", fmt::format("window {} must be >= 1", m_o.window));
    m_ring.assign(static_cast<size_t>(m_o.window), 0.0);
  }
  std::string name() const override { return "dynamic-ofa"; }
  void bind(const ControlContext& ctx) override {
    require_points(ctx, "dynamic-ofa");
    m_levels = level_order(ctx);
    m_acc.clear();
    for (int i : m_levels) m_acc.push_back(ctx.points[i].accuracy);
    int n = static_cast<int>(m_levels.size());
    if (m_o.initial_level >= n) bad("dynamic-ofa", fmt::format("initial_level {} is out of range (0..{})", m_o.initial_level, n - 1));
    reset();
  }
  void reset() override {
    m_level = m_o.initial_level >= 0 ? m_o.initial_level : static_cast<int>(m_levels.size()) - 1;
    m_prev_up_from = -10;  // run.sh: level_list=($level -10)
    m_locked = false;
    begin_level();
  }
  void step(const Observation& obs, Decision& out) override {
    if (obs.targets != m_targets) {  // a new target lifts the lock
      m_targets = obs.targets;
      m_locked = false;
    }
    if (std::isfinite(obs.last_latency_ms) && obs.last_point == m_levels[m_level]) on_latency(obs.last_latency_ms, obs.targets);
    out.point = m_levels[m_level];
  }
  std::string state_json() const override {
    return nlohmann::json{{"level", m_level}, {"images", m_i}, {"records", m_count}, {"locked", m_locked}}.dump();
  }

 private:
  void begin_level() {
    m_i = 0;
    m_count = 0;
    m_sum = 0;
  }
  void on_latency(double ms, const Targets& t) {
    int i = m_i++;
    int n = static_cast<int>(m_levels.size());
    if (i >= m_o.warmup && ms < m_o.outlier_ms) {
      // sum of the last `window` records (ring buffer), divided by window as the demo does.
      size_t slot = static_cast<size_t>(m_count % m_o.window);
      if (m_count >= m_o.window) m_sum -= m_ring[slot];
      m_ring[slot] = ms;
      m_sum += ms;
      ++m_count;
      if (t.has_latency() && m_sum / m_o.window > t.latency_ms) {
        if (m_level > 0) {
          // run.sh: a down move right after an up move from the level below is an oscillation.
          if (m_o.hysteresis == "lock-up" && m_level == m_prev_up_from + 1) m_locked = true;
          --m_level;
          m_prev_up_from = m_level;
        }
        begin_level();
        return;
      }
    }
    if (i >= m_o.up_after - 1 && t.has_accuracy() && m_acc[static_cast<size_t>(m_level)] < t.accuracy && !m_locked &&
        m_level < n - 1) {
      m_prev_up_from = m_level;
      ++m_level;
      begin_level();
    }
  }

  DynamicOfaOptions m_o;
  std::vector<int> m_levels;
  std::vector<double> m_acc;
  std::vector<double> m_ring;
  Targets m_targets;
  int m_level = 0, m_prev_up_from = -10, m_i = 0, m_count = 0;
  double m_sum = 0;
  bool m_locked = false;
};

}  // namespace

std::unique_ptr<Controller> make_dynamic_ofa(const DynamicOfaOptions& o) { return std::make_unique<DynamicOfaController>(o); }

}  // namespace dynn
