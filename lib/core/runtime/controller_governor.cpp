// Linux governor emulation ("performance", "powersave", "ondemand", "schedutil") for a fixed
// sub-network.
#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "core/runtime/controllers_internal.hpp"
#include "dynn/platform/knob.hpp"
#include "dynn/runtime/controllers.hpp"

namespace dynn {

namespace {

using namespace controllers_detail;

class GovernorController : public Controller {
 public:
  explicit GovernorController(GovernorOptions o) : m_o(std::move(o)) {
    static const char* kinds[] = {"performance", "powersave", "ondemand", "schedutil"};
    auto it = std::find(std::begin(kinds), std::end(kinds), m_o.kind);
    m_kind = static_cast<int>(it - std::begin(kinds));
    if (it == std::end(kinds))
      bad("governor", fmt::format("unknown governor kind '{}' (performance, powersave, ondemand, schedutil)", m_o.kind));
  }
  std::string name() const override { return m_o.kind; }
  void bind(const ControlContext& ctx) override {
    m_point = resolve_point(m_o.point, ctx, m_o.kind);
    m_knobs.clear();
    if (m_o.knobs.empty()) {
      for (size_t i = 0; i < ctx.knobs.size(); ++i) {
        if (is_pinned_frequency_knob(ctx.knobs[i].name, ctx.knobs[i].unit)) m_knobs.push_back(static_cast<int>(i));
      }
    } else {
      for (const auto& n : m_o.knobs) m_knobs.push_back(require_knob(ctx, n, m_o.kind));
    }
    m_names.clear();
    m_info.clear();
    for (int k : m_knobs) {
      m_names.push_back(ctx.knobs[k].name);
      m_info.push_back(ctx.knobs[k]);
    }
    m_sensor.assign(m_knobs.size(), -1);
    for (size_t i = 0; i < m_knobs.size(); ++i) {
      auto it = m_o.util_sensors.find(m_names[i]);
      const std::string& sn = it != m_o.util_sensors.end() ? it->second : m_o.util_sensor;
      if (sn.empty()) continue;
      m_sensor[i] = ctx.sensor_index(sn);
      if (m_sensor[i] < 0) bad(m_o.kind, fmt::format("utilisation sensor '{}' is not among the observed sensors", sn));
    }
    for (const auto& kv : m_o.util_sensors)
      if (std::find(m_names.begin(), m_names.end(), kv.first) == m_names.end())
        bad(m_o.kind, fmt::format("util_sensors names knob '{}', which this governor does not govern", kv.first));
    m_util_avg.assign(m_knobs.size(), 1.0);
    m_last_change.assign(m_knobs.size(), -1e300);
    m_next.assign(m_knobs.size(), 0);
    reset();
  }
  void reset() override {
    m_prev_time = std::numeric_limits<double>::quiet_NaN();
    std::fill(m_util_avg.begin(), m_util_avg.end(), 1.0);
    std::fill(m_last_change.begin(), m_last_change.end(), -1e300);
    for (size_t i = 0; i < m_info.size(); ++i) m_next[i] = static_cast<int64_t>(hi_of(m_info[i]));
  }
  void step(const Observation& obs, Decision& out) override {
    out.point = m_point;
    // Raw utilisation of the last interval (busy / elapsed), in [0, 1].
    double duty = 1.0, dt_s = std::isfinite(m_prev_time) ? obs.time_s - m_prev_time : 0;
    if (dt_s > 0 && std::isfinite(obs.last_latency_ms)) duty = obs.last_latency_ms / 1000.0 / dt_s;
    m_prev_time = obs.time_s;
    for (size_t i = 0; i < m_knobs.size(); ++i) {
      double util = duty;
      if (m_sensor[i] >= 0 && std::isfinite(obs.sensor_values[m_sensor[i]])) util = obs.sensor_values[m_sensor[i]] / 100.0;
      util = std::min(1.0, std::max(0.0, util));
      const KnobInfo& k = m_info[i];
      double fmax = hi_of(k), fmin = lo_of(k);
      int64_t f = m_next[i];
      if (m_kind == 0) {
        f = static_cast<int64_t>(fmax);
      } else if (m_kind == 1) {
        f = static_cast<int64_t>(fmin);
      } else if (m_kind == 2) {
        double load = util * 100;
        f = load > m_o.up_threshold ? static_cast<int64_t>(fmax) : k.at_or_above(fmin + load * (fmax - fmin) / 100.0);
      } else {  // schedutil
        double cur = static_cast<double>(obs.knob_values[m_knobs[i]]);
        if (cur <= 0) cur = fmax;
        double inv = util * cur / fmax;  // frequency-invariant utilisation
        double decay = dt_s > 0 ? std::exp(-std::log(2.0) * dt_s * 1000.0 / m_o.halflife_ms) : 1.0;
        m_util_avg[i] = m_util_avg[i] * decay + inv * (1 - decay);
        // The kernel raises at once when the instantaneous value is above the average (util_est).
        double u = std::max(m_util_avg[i], inv);
        int64_t want = k.at_or_above(1.25 * fmax * u);
        if (want != m_next[i] && (obs.time_s - m_last_change[i]) * 1000.0 >= m_o.rate_limit_ms) {
          m_last_change[i] = obs.time_s;
          f = want;
        }
      }
      m_next[i] = f;
      out.hardware[m_names[i]] = f;
    }
  }
  std::string state_json() const override {
    nlohmann::json j;
    for (size_t i = 0; i < m_names.size(); ++i) j[m_names[i]] = {{"freq", m_next[i]}, {"util_avg", m_util_avg[i]}};
    return j.dump();
  }

 private:
  GovernorOptions m_o;
  int m_kind = 0;  // index into kinds
  int m_point = 0;
  std::vector<int> m_sensor;  // per governed knob, -1 = duty cycle
  std::vector<int> m_knobs;
  std::vector<std::string> m_names;
  std::vector<KnobInfo> m_info;
  std::vector<double> m_util_avg, m_last_change;
  std::vector<int64_t> m_next;
  double m_prev_time = std::numeric_limits<double>::quiet_NaN();
};

}  // namespace

std::unique_ptr<Controller> make_governor(const GovernorOptions& o) { return std::make_unique<GovernorController>(o); }

}  // namespace dynn
