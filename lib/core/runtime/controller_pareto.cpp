// "pareto": the most accurate point whose online-corrected latency prediction meets the target.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/runtime/controllers_internal.hpp"
#include "dynn/runtime/controllers.hpp"

namespace dynn {

namespace {

using namespace controllers_detail;

// Shared latency model of pareto/feedback: profiled latency, optionally rescaled to the current
// frequency of one knob, times a learned correction.
struct FreqScale {
  int knob = -1;
  double beta = 0.85;
  std::vector<double> ref;  // per point: frequency the latency was profiled at
  void bind(const ControlContext& ctx, const std::string& knob_name, double compute_fraction, const std::string& controller) {
    knob = -1;
    ref.clear();
    beta = compute_fraction;
    if (knob_name.empty()) return;
    knob = require_knob(ctx, knob_name, controller);
    for (const auto& p : ctx.points) {
      auto it = p.hardware.find(knob_name);
      ref.push_back(it != p.hardware.end() ? static_cast<double>(it->second) : hi_of(ctx.knobs[knob]));
    }
  }
  double factor(int point, const Observation& obs) const {
    if (knob < 0) return 1.0;
    double f = static_cast<double>(obs.knob_values[knob]);
    if (f <= 0) return 1.0;
    return (1 - beta) + beta * ref[point] / f;
  }
};

class ParetoController : public Controller {
 public:
  explicit ParetoController(ParetoOptions o) : m_o(std::move(o)) {}
  std::string name() const override { return "pareto"; }
  void bind(const ControlContext& ctx) override {
    require_points(ctx, "pareto");
    m_scale.bind(ctx, m_o.freq_knob, m_o.compute_fraction, "pareto");
    // Most accurate first; among equals the fastest.
    m_order.resize(ctx.points.size());
    std::iota(m_order.begin(), m_order.end(), 0);
    std::stable_sort(m_order.begin(), m_order.end(), [&](int a, int b) {
      const auto &pa = ctx.points[a], &pb = ctx.points[b];
      return pa.accuracy > pb.accuracy || (pa.accuracy == pb.accuracy && pa.latency_ms < pb.latency_ms);
    });
    m_lat.clear();
    m_acc.clear();
    m_pow.clear();
    for (const auto& p : ctx.points) {
      m_lat.push_back(p.latency_ms);
      m_acc.push_back(p.accuracy);
      m_pow.push_back(p.power_w ? *p.power_w : (p.energy_mj && p.latency_ms > 0 ? *p.energy_mj / p.latency_ms : NAN));
    }
    m_budget.assign(m_corr.bind(ctx.points), INFINITY);
    reset();
  }
  void reset() override { m_corr.reset(); }
  void step(const Observation& obs, Decision& out) override {
    m_corr.relax_idle(obs.last_point, m_o.idle_decay, m_corr.g);
    if (m_corr.valid(obs.last_point))
      m_corr.observe(obs.last_point, obs.last_latency_ms, m_lat[obs.last_point] * m_scale.factor(obs.last_point, obs),
                     m_o.jitter_k, m_o.gain_up, m_o.gain_down);
    const Targets& t = obs.targets;
    for (size_t d = 0; d < m_budget.size(); ++d) m_budget[d] = m_corr.budget(d, t, m_o.margin, m_o.jitter_k);
    int chosen = -1, fastest = -1, fastest_floor = -1;
    double best_fast = INFINITY, best_fast_floor = INFINITY;
    for (int p : m_order) {
      if (t.has_power() && std::isfinite(m_pow[p]) && m_pow[p] > t.power_w) continue;
      double pred = m_lat[p] * m_scale.factor(p, obs) * m_corr.g[m_corr.device(p)];
      bool floor_ok = !t.has_accuracy() || m_acc[p] >= t.accuracy;
      if (pred < best_fast) best_fast = pred, fastest = p;
      if (floor_ok && pred < best_fast_floor) best_fast_floor = pred, fastest_floor = p;
      if (pred <= m_budget[m_corr.device(p)] && (floor_ok || !m_o.accuracy_first) && chosen < 0) chosen = p;
    }
    if (chosen < 0) chosen = (m_o.accuracy_first && fastest_floor >= 0) ? fastest_floor : fastest;
    if (chosen < 0) chosen = m_order.front();  // every point is over the power cap
    out.point = chosen;
  }
  std::string state_json() const override {
    std::vector<double> jitter;
    for (double v : m_corr.var) jitter.push_back(std::sqrt(v));
    return nlohmann::json{{"correction", DeviceCorrection::per_device(m_corr.g)}, {"jitter", DeviceCorrection::per_device(jitter)}}
        .dump();
  }

 private:
  ParetoOptions m_o;
  FreqScale m_scale;
  std::vector<int> m_order;
  std::vector<double> m_lat, m_acc, m_pow;
  DeviceCorrection m_corr;
  std::vector<double> m_budget;  // latency budget of this step, per device
};

}  // namespace

std::unique_ptr<Controller> make_pareto(const ParetoOptions& o) { return std::make_unique<ParetoController>(o); }

}  // namespace dynn
