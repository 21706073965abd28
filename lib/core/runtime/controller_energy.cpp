// "energy": the least-energy sub-network + frequencies meeting latency, accuracy floor and power cap.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/runtime/controllers_internal.hpp"
#include "dynn/runtime/controllers.hpp"

namespace dynn {

namespace {

using namespace controllers_detail;

class EnergyController : public Controller {
 public:
  explicit EnergyController(EnergyOptions o) : m_o(std::move(o)) {}
  std::string name() const override { return "energy"; }
  void bind(const ControlContext& ctx) override {
    require_points(ctx, "energy");
    size_t n = ctx.points.size();
    m_lat.assign(n, 0);
    m_e.assign(n, 0);
    m_acc.assign(n, 0);
    for (size_t i = 0; i < n; ++i) {
      const auto& p = ctx.points[i];
      double e = p.energy_mj ? *p.energy_mj : (p.power_w ? *p.power_w * p.latency_ms : NAN);
      if (!std::isfinite(e) || e <= 0)
        bad("energy", fmt::format("point '{}' (index {}) has neither energy_mj nor power_w; profile energy first (profile_grid)", p.id, i));
      for (const auto& kv : p.hardware) require_knob(ctx, kv.first, "energy");
      m_lat[i] = p.latency_ms;
      m_e[i] = e;
      m_acc[i] = p.accuracy;
    }
    const size_t devices = m_corr.bind(ctx.points);  // latency correction per device, as "pareto"
    m_ge.assign(devices, 1.0);                         // and the energy correction beside it
    // Per device, least energy first (equal energy: more accurate, then faster). A device's
    // corrections scale all its points alike, so within a device this order holds and a step is a
    // scan to each device's first feasible point.
    m_order.assign(devices, {});
    for (size_t i = 0; i < n; ++i) m_order[m_corr.device(static_cast<int>(i))].push_back(static_cast<int>(i));
    for (auto& ord : m_order)
      std::stable_sort(ord.begin(), ord.end(), [&](int a, int b) {
        if (m_e[a] != m_e[b]) return m_e[a] < m_e[b];
        if (m_acc[a] != m_acc[b]) return m_acc[a] > m_acc[b];
        return m_lat[a] < m_lat[b];
      });
    reset();
  }
  void reset() override {
    m_corr.reset();
    std::fill(m_ge.begin(), m_ge.end(), 1.0);
  }
  void step(const Observation& obs, Decision& out) override {
    const int lp = obs.last_point;
    m_corr.relax_idle(lp, m_o.idle_decay, m_corr.g);
    m_corr.relax_idle(lp, m_o.idle_decay, m_ge);
    if (m_corr.valid(lp)) {
      m_corr.observe(lp, obs.last_latency_ms, m_lat[lp], m_o.jitter_k, m_o.gain_up, m_o.gain_down);
      if (std::isfinite(obs.last_energy_mj) && m_e[lp] > 0)
        correct(m_ge[m_corr.device(lp)], obs.last_energy_mj / m_e[lp], m_o.energy_gain, m_o.energy_gain);
    }
    const Targets& t = obs.targets;
    int pick = -1;
    for (int pass = 0; pass < 4 && pick < 0; ++pass) {
      // 0: everything; 1: no energy budget; 2: no margin either; 3: no accuracy floor (margin back).
      // Least corrected energy among the feasible points; ties: more accurate, then faster.
      double best_e = INFINITY, best_acc = -INFINITY, best_lat = INFINITY;
      for (size_t d = 0; d < m_order.size(); ++d) {
        const double budget = pass == 2 ? (t.has_latency() ? t.latency_ms : INFINITY)
                                        : m_corr.budget(d, t, m_o.margin, m_o.jitter_k);
        for (int p : m_order[d]) {
          const double lat = m_lat[p] * m_corr.g[d], e = m_e[p] * m_ge[d];
          if (lat > budget) continue;
          if (t.has_power() && e / lat > t.power_w) continue;
          if (pass < 3 && t.has_accuracy() && m_acc[p] < t.accuracy) continue;
          if (pass < 1 && t.has_energy() && e > t.energy_mj) continue;
          if (e < best_e || (e == best_e && (m_acc[p] > best_acc || (m_acc[p] == best_acc && lat < best_lat)))) {
            best_e = e, best_acc = m_acc[p], best_lat = lat;
            pick = p;
          }
          break;  // this device's first feasible point is its least-energy one
        }
      }
    }
    out.starved = pick < 0 && t.has_latency();
    if (pick < 0) {  // nothing meets the latency: the fastest as corrected now
      double best = INFINITY;
      for (size_t p = 0; p < m_lat.size(); ++p) {
        const double lat = m_lat[p] * m_corr.g[m_corr.device(static_cast<int>(p))];
        if (lat < best) best = lat, pick = static_cast<int>(p);
      }
    }
    out.point = pick;
  }
  std::string state_json() const override {
    return nlohmann::json{{"latency_correction", DeviceCorrection::per_device(m_corr.g)},
                          {"energy_correction", DeviceCorrection::per_device(m_ge)}}
        .dump();
  }

 private:
  EnergyOptions m_o;
  std::vector<double> m_lat, m_e, m_acc;
  DeviceCorrection m_corr;                // latency correction and jitter, per device
  std::vector<double> m_ge;               // energy correction, per device
  std::vector<std::vector<int>> m_order;  // per device: points by energy
};

}  // namespace

std::unique_ptr<Controller> make_energy(const EnergyOptions& o) { return std::make_unique<EnergyController>(o); }

}  // namespace dynn
