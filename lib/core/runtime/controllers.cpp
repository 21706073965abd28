// The built-in controllers. Everything that costs (name lookups, sorting, candidate tables) is
// done in bind(); step() only does arithmetic over precomputed arrays.
#include "dynn/runtime/controllers.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "dynn/error.hpp"
#include "dynn/platform/knob.hpp"

namespace dynn {

std::vector<int> level_order(const ControlContext& ctx) {
  std::vector<int> idx;
  for (size_t i = 0; i < ctx.points.size(); ++i)
    if (ctx.points[i].level >= 0) idx.push_back(static_cast<int>(i));
  if (!idx.empty()) {
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return ctx.points[a].level < ctx.points[b].level; });
    return idx;
  }
  // (latency, accuracy) Pareto front, fastest first.
  std::vector<int> all(ctx.points.size());
  std::iota(all.begin(), all.end(), 0);
  std::stable_sort(all.begin(), all.end(), [&](int a, int b) {
    const auto &pa = ctx.points[a], &pb = ctx.points[b];
    return pa.latency_ms < pb.latency_ms || (pa.latency_ms == pb.latency_ms && pa.accuracy > pb.accuracy);
  });
  double best = -1;
  for (int i : all) {
    if (ctx.points[i].accuracy > best) {
      idx.push_back(i);
      best = ctx.points[i].accuracy;
    }
  }
  return idx;
}

namespace {

[[noreturn]] void bad(const std::string& controller, const std::string& what) {
  throw Error(ErrorCode::InvalidArgument, fmt::format("controller '{}': {}", controller, what));
}

void require_points(const ControlContext& ctx, const std::string& name) {
  if (ctx.points.empty()) bad(name, "no operating points to choose from");
}

// Index of a knob in the context; InvalidArgument naming the knob and those that exist.
int require_knob(const ControlContext& ctx, const std::string& knob, const std::string& controller) {
  int k = ctx.knob_index(knob);
  if (k < 0) {
    std::vector<std::string> n;
    for (const auto& kn : ctx.knobs) n.push_back(kn.name);
    bad(controller, fmt::format("knob '{}' is not available (knobs: {})", knob, n.empty() ? std::string("none") : fmt::format("{}", fmt::join(n, ", "))));
  }
  return k;
}

double lo_of(const KnobInfo& k) { return static_cast<double>(k.values.empty() ? k.min : k.values.front()); }
double hi_of(const KnobInfo& k) { return static_cast<double>(k.values.empty() ? k.max : k.values.back()); }

// Asymmetric online correction of a multiplicative model error: up fast, down slow.
inline void correct(double& g, double observed, double up, double down) {
  if (!std::isfinite(observed) || observed <= 0) return;
  g += (observed > g ? up : down) * (observed - g);
}

// ------------------------------------------------------------------------------------- fixed
class FixedController : public Controller {
 public:
  explicit FixedController(FixedOptions o) : m_o(std::move(o)) {}
  std::string name() const override { return "fixed"; }
  void bind(const ControlContext& ctx) override {
    m_point = resolve_point(m_o.point, ctx, "fixed");
    for (const auto& kv : m_o.hardware) require_knob(ctx, kv.first, "fixed");
  }
  void step(const Observation&, Decision& out) override {
    out.point = m_point;
    for (const auto& kv : m_o.hardware) out.hardware[kv.first] = kv.second;
  }

 private:
  FixedOptions m_o;
  int m_point = 0;
};

// ---------------------------------------------------------------------------------- governors
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

// -------------------------------------------------------------------------------- dynamic-ofa
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

// ------------------------------------------------------------------------------------- pareto
// The online latency correction of "pareto" and "energy", kept per device (CPU/GPU placement: a
// co-runner on the GPU does not slow the CPU points). g = measured / predicted: a rise beyond the
// jitter band is a step change (interference) and is followed at once (gain_up), a rise within
// the band is noise and is followed slowly, like a fall (gain_down). A device the last inference
// did not run on gets no measurement, so its g relaxes towards 1 (idle_decay) and it is tried again.
struct DeviceCorrection {
  std::vector<int> dev;  // device index of each point
  std::vector<double> g, var;

  // Returns the number of devices.
  size_t bind(const std::vector<OperatingPoint>& points) {
    std::vector<std::string> devices;
    dev.clear();
    for (const auto& p : points) {
      auto d = std::find(devices.begin(), devices.end(), p.device);
      dev.push_back(static_cast<int>(d - devices.begin()));
      if (d == devices.end()) devices.push_back(p.device);
    }
    g.assign(devices.size(), 1.0);
    var.assign(devices.size(), 0.0);
    return devices.size();
  }
  void reset() {
    std::fill(g.begin(), g.end(), 1.0);
    std::fill(var.begin(), var.end(), 0.0);
  }
  size_t device(int point) const { return static_cast<size_t>(dev[static_cast<size_t>(point)]); }
  bool valid(int point) const { return point >= 0 && point < static_cast<int>(dev.size()); }
  // Ages the corrections `v` (g, or another per-device factor) of the devices not used by point.
  void relax_idle(int point, double rate, std::vector<double>& v) const {
    if (v.size() < 2) return;
    const size_t used = valid(point) ? device(point) : v.size();
    for (size_t d = 0; d < v.size(); ++d)
      if (d != used) v[d] += rate * (1.0 - v[d]);
  }
  // Learns from `measured` ms for `point`, whose prediction before correction was `pred` ms.
  void observe(int point, double measured, double pred, double jitter_k, double gain_up, double gain_down) {
    if (!valid(point) || !std::isfinite(measured) || !(pred > 0)) return;
    const size_t d = device(point);
    const double r = measured / (pred * g[d]) - 1;  // residual against the prediction in force: the jitter
    const double band = jitter_k * std::sqrt(var[d]);
    correct(g[d], measured / pred, r > band ? gain_up : gain_down, gain_down);
    var[d] += 0.05 * (std::min(r * r, 0.04) - var[d]);  // capped: a step change is not jitter
  }
  // Latency budget on device d: target * (1 - max(margin, jitter_k * its jitter)), m <= 0.5.
  double budget(size_t d, const Targets& t, double margin, double jitter_k) const {
    const double m = std::min(0.5, std::max(margin, jitter_k * std::sqrt(var[d])));
    return t.has_latency() ? t.latency_ms * (1 - m) : INFINITY;
  }
  // {"<key>": g} with one device, else a list in order of first appearance among the points.
  static nlohmann::json per_device(const std::vector<double>& v) {
    return v.size() == 1 ? nlohmann::json(v[0]) : nlohmann::json(v);
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

// ----------------------------------------------------------------------------------- feedback
class FeedbackController : public Controller {
 public:
  explicit FeedbackController(FeedbackOptions o) : m_o(std::move(o)) {}
  std::string name() const override { return "feedback"; }
  void bind(const ControlContext& ctx) override {
    require_points(ctx, "feedback");
    m_levels = level_order(ctx);
    if (m_o.initial_level >= static_cast<int>(m_levels.size()))
      bad("feedback", fmt::format("initial_level {} is out of range (0..{})", m_o.initial_level, m_levels.size() - 1));
    reset();
  }
  void reset() override {
    m_u = m_o.initial_level >= 0 ? m_o.initial_level : static_cast<double>(m_levels.size() - 1);
    m_e_prev = 0;
  }
  void step(const Observation& obs, Decision& out) override {
    const Targets& t = obs.targets;
    if (t.has_latency() && std::isfinite(obs.last_latency_ms)) {
      double sp = t.latency_ms * (1 - m_o.margin);
      double e = (sp - obs.last_latency_ms) / sp;
      if (obs.last_latency_ms <= t.latency_ms && obs.last_latency_ms >= sp * (1 - m_o.deadband)) e = 0;
      m_u += m_o.kp * (e - m_e_prev) + m_o.ki * e;
      m_e_prev = e;
      double hi = static_cast<double>(m_levels.size() - 1);
      m_u = std::min(hi, std::max(0.0, m_u));  // clamping is the anti-windup
    }
    int l = static_cast<int>(std::floor(m_u + 0.5));
    out.point = m_levels[static_cast<size_t>(l)];
  }
  std::string state_json() const override { return nlohmann::json{{"u", m_u}, {"error", m_e_prev}}.dump(); }

 private:
  FeedbackOptions m_o;
  std::vector<int> m_levels;
  double m_u = 0, m_e_prev = 0;
};

// ------------------------------------------------------------------------------------- energy
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

std::unique_ptr<Controller> make_fixed(const FixedOptions& o) { return std::make_unique<FixedController>(o); }
std::unique_ptr<Controller> make_governor(const GovernorOptions& o) { return std::make_unique<GovernorController>(o); }
std::unique_ptr<Controller> make_dynamic_ofa(const DynamicOfaOptions& o) { return std::make_unique<DynamicOfaController>(o); }
std::unique_ptr<Controller> make_pareto(const ParetoOptions& o) { return std::make_unique<ParetoController>(o); }
std::unique_ptr<Controller> make_feedback(const FeedbackOptions& o) { return std::make_unique<FeedbackController>(o); }
std::unique_ptr<Controller> make_energy(const EnergyOptions& o) { return std::make_unique<EnergyController>(o); }

void register_builtin_controllers(ControllerRegistry& r) {
  r.add("fixed", "one operating point and fixed knob values", [](ControllerParams& p) {
    FixedOptions o;
    o.point = p.point("point");
    o.hardware = p.setting("hardware");
    return make_fixed(o);
  });
  for (const char* kind : {"performance", "powersave", "ondemand", "schedutil"}) {
    std::string k = kind;
    r.add(k, "Linux '" + k + "' governor emulation for a fixed sub-network", [k](ControllerParams& p) {
      GovernorOptions o;
      o.kind = k;
      o.point = p.point("point");
      o.knobs = p.texts("knobs");
      if (k == "ondemand") o.up_threshold = p.number("up_threshold", o.up_threshold, 1, 100);
      if (k == "schedutil") {
        o.rate_limit_ms = p.number("rate_limit_ms", o.rate_limit_ms, 0, 1e6);
        o.halflife_ms = p.number("halflife_ms", o.halflife_ms, 1e-3, 1e6);
      }
      if (k == "ondemand" || k == "schedutil") {
        o.util_sensor = p.text("util_sensor", "");
        o.util_sensors = p.text_map("util_sensors");
      }
      return make_governor(o);
    });
  }
  r.add("dynamic-ofa", "Dynamic-OFA's published runtime policy (mean of the last 20 latencies, one level per move)",
        [](ControllerParams& p) {
          DynamicOfaOptions o;
          o.window = static_cast<int>(p.integer("window", o.window, 1, 100000));
          o.outlier_ms = p.number("outlier_ms", o.outlier_ms, 0, 1e9);
          o.warmup = static_cast<int>(p.integer("warmup", o.warmup, 0, 1000000));
          o.up_after = static_cast<int>(p.integer("up_after", o.up_after, 1, 1000000));
          o.initial_level = static_cast<int>(p.integer("initial_level", o.initial_level, -1, 1000000));
          o.hysteresis = p.text("hysteresis", o.hysteresis, {"lock-up", "none"});
          return make_dynamic_ofa(o);
        });
  r.add("pareto", "most accurate point whose online-corrected latency prediction meets the target", [](ControllerParams& p) {
    ParetoOptions o;
    o.margin = p.number("margin", o.margin, 0, 0.9);
    o.jitter_k = p.number("jitter_k", o.jitter_k, 0, 100);
    o.gain_up = p.number("gain_up", o.gain_up, 0, 1);
    o.gain_down = p.number("gain_down", o.gain_down, 0, 1);
    o.idle_decay = p.number("idle_decay", o.idle_decay, 0, 1);
    o.freq_knob = p.text("freq_knob", "");
    o.compute_fraction = p.number("compute_fraction", o.compute_fraction, 0, 1);
    o.accuracy_first = p.boolean("accuracy_first", o.accuracy_first);
    return make_pareto(o);
  });
  r.add("feedback", "PI controller on the latency error moving along the levels", [](ControllerParams& p) {
    FeedbackOptions o;
    o.kp = p.number("kp", o.kp, 0, 1e6);
    o.ki = p.number("ki", o.ki, 0, 1e6);
    o.margin = p.number("margin", o.margin, 0, 0.9);
    o.deadband = p.number("deadband", o.deadband, 0, 0.9);
    o.initial_level = static_cast<int>(p.integer("initial_level", o.initial_level, -1, 1000000));
    return make_feedback(o);
  });
  r.add("energy", "least-energy sub-network + frequencies meeting latency, accuracy floor and power cap", [](ControllerParams& p) {
    EnergyOptions o;
    o.margin = p.number("margin", o.margin, 0, 0.9);
    o.jitter_k = p.number("jitter_k", o.jitter_k, 0, 100);
    o.gain_up = p.number("gain_up", o.gain_up, 0, 1);
    o.gain_down = p.number("gain_down", o.gain_down, 0, 1);
    o.energy_gain = p.number("energy_gain", o.energy_gain, 0, 1);
    o.idle_decay = p.number("idle_decay", o.idle_decay, 0, 1);
    return make_energy(o);
  });
}

}  // namespace dynn
