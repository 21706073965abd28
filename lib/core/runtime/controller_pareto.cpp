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
    setup(ctx);
    reset();
  }
  // New points (or re-measured ones): the learned corrections and the exploration's measurements
  // belong to devices and hardware settings, which keep their indices (first appearance), so they
  // carry over; new devices and settings start unlearned.
  void update_points(const ControlContext& ctx) override {
    const std::vector<double> g = m_corr.g, var = m_corr.var, gg = m_gg;
    const std::vector<Own> own = m_own;
    setup(ctx);
    for (size_t d = 0; d < std::min(g.size(), m_corr.g.size()); ++d) m_corr.g[d] = g[d], m_corr.var[d] = var[d];
    m_own.assign(m_num_groups, Own{});
    std::copy(own.begin(), own.begin() + static_cast<std::ptrdiff_t>(std::min(own.size(), m_own.size())), m_own.begin());
    m_gg.assign(m_num_groups, NAN);
    std::copy(gg.begin(), gg.begin() + static_cast<std::ptrdiff_t>(std::min(gg.size(), m_gg.size())), m_gg.begin());
  }
  void setup(const ControlContext& ctx) {
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
    // Points that share a hardware setting and device share a slowdown (a competing load hits a
    // thread count and CPU set, whatever sub-network runs there): exploration learns per group.
    m_group.clear();
    m_group_dev.clear();
    std::vector<std::pair<HardwareSetting, std::string>> groups;
    for (size_t i = 0; i < ctx.points.size(); ++i) {
      const auto& p = ctx.points[i];
      const auto key = std::make_pair(p.hardware, p.device);
      auto it = std::find(groups.begin(), groups.end(), key);
      m_group.push_back(static_cast<int>(it - groups.begin()));
      if (it == groups.end()) groups.push_back(key), m_group_dev.push_back(m_corr.device(static_cast<int>(i)));
    }
    m_num_groups = groups.size();
    m_own.resize(m_num_groups);
    m_gg.resize(m_num_groups, NAN);
    m_dwell.resize(ctx.points.size(), m_o.up_dwell);
    m_bias.resize(ctx.points.size(), 1.0);
    m_failed_up.resize(ctx.points.size());
  }
  void reset() override {
    m_corr.reset();
    m_own.assign(m_num_groups, Own{});
    m_gg.assign(m_num_groups, NAN);
    m_step = 0;
    m_episode = 0;
    m_episode_start = kNever;
    m_last_explore = kNever;
    m_explored = 0;
    m_up_candidate = -1;
    m_up_count = 0;
    m_dwell.assign(m_lat.size(), m_o.up_dwell);
    m_bias.assign(m_lat.size(), 1.0);
    m_failed_up.assign(m_lat.size(), FailedUp{});
    m_up_to = -1;
    m_all_probed = m_probe_is_retry = false;
    m_rises = 0;
    m_spike = Spike{};
    m_last_target = Targets{};
  }
  void step(const Observation& obs, Decision& out) override {
    ++m_step;
    m_corr.relax_idle(obs.last_point, m_o.idle_decay, m_corr.g);
    for (double& b : m_bias) b = 1 + (1 - kBiasDecay) * (b - 1);
    // Settings not run in the last step relax towards their device's correction, so a setting left
    // because a load hit it is tried again after about 1/idle_decay steps times the log of its ratio.
    const int last_group = m_corr.valid(obs.last_point) ? m_group[static_cast<size_t>(obs.last_point)] : -1;
    for (size_t G = 0; G < m_gg.size(); ++G)
      if (static_cast<int>(G) != last_group && std::isfinite(m_gg[G])) m_gg[G] += m_o.idle_decay * (m_corr.g[m_group_dev[G]] - m_gg[G]);
    if (m_corr.valid(obs.last_point) && std::isfinite(obs.last_latency_ms)) {
      const int lp = obs.last_point;
      const size_t d = m_corr.device(lp);
      const double base = profiled_ms(lp, obs);
      // A rise followed at once (below) after an inference that did not rise is forgotten when the
      // next inference on the same device measures the correction from before it again: two
      // spikes a few steps apart cost a step down and one back up, not a climb back through every
      // level while the correction relaxes.
      if (m_spike.armed) {
        m_spike.armed = false;
        const double band0 = m_o.jitter_k * std::sqrt(m_spike.var);
        if (m_spike.device == d && base > 0 && !rose_beyond(obs.last_latency_ms, base, m_spike.g, band0)) {
          m_corr.g[d] = m_spike.g;
          m_corr.var[d] = m_spike.var;
          if (m_spike.group == last_group) m_gg[static_cast<size_t>(last_group)] = m_spike.gg;
        }
      }
      const double g0 = m_corr.g[d];
      // A rise beyond the jitter band is followed at once when one of the three inferences before
      // rose too; a lone rise (missed or not) is not followed: on a shared machine single
      // inferences of 1.2-3x come every few dozen steps, and following each cost a step down and
      // one back up. A real slowdown is followed from its second slow inference, also when a load
      // makes every other inference slow.
      const double band = m_o.jitter_k * std::sqrt(m_corr.var[d]);
      const bool rose = base > 0 && rose_beyond(obs.last_latency_ms, base, g0, band);
      const double up = (m_rises & 7u) ? m_o.gain_up : 0.0;
      // The setting's own correction, learned like the device's; unlearned, it starts from the
      // device's.
      double& gg = m_gg[static_cast<size_t>(last_group)];
      if (!std::isfinite(gg)) gg = g0;
      if (rose && up > 0 && !(m_rises & 1u)) m_spike = {true, d, last_group, g0, gg, m_corr.var[d]};
      m_rises = m_rises << 1 | (rose ? 1u : 0u);
      follow(gg, obs.last_latency_ms, base, band, up, m_o.gain_down);
      m_corr.observe(lp, obs.last_latency_ms, base, m_o.jitter_k, up, m_o.gain_down);
      // A new step change ends an exploration: what it measured was under other conditions.
      if (m_corr.g[d] > kJump * g0) m_episode_start = kNever;
      m_last_ratio = base > 0 ? obs.last_latency_ms / base : NAN;
      if (lp == m_up_to && std::isfinite(m_last_ratio)) m_up_min = std::min(m_up_min, m_last_ratio);
      if (exploring()) {
        record_own(lp, m_last_ratio);
        // A step up measured over the target in an exploration: that point's own ratio counts
        // beside its group's for the rest of the exploration, so the group's next good
        // measurement (on the point it stepped down to) does not invite it back.
        if (lp == m_up_to && m_step - m_up_step <= 1 && obs.last_latency_ms > obs.targets.latency_ms && obs.targets.has_latency())
          m_failed_up[static_cast<size_t>(lp)] = {m_last_ratio, m_episode};
      }
    } else {
      m_last_ratio = NAN;
    }
    const Targets& t = obs.targets;
    for (size_t d = 0; d < m_budget.size(); ++d) m_budget[d] = m_corr.budget(d, t, m_o.margin, m_o.jitter_k);
    // Latency prediction: profiled x its hardware setting's correction (the device's while the
    // setting is unlearned: a competing load slows some thread counts and CPU sets, not all); while
    // exploring, a point measured in this exploration by its own measurement (so a point the
    // slowdown hit is not taken back when the correction, learned on the points that escaped it,
    // comes down).
    auto predict = [&](int p) {
      const double base = profiled_ms(p, obs);
      return base * (own_valid(p) ? explored_ratio(p) : setting_g(p));
    };
    auto allowed = [&](int p) { return !(t.has_power() && std::isfinite(m_pow[p]) && m_pow[p] > t.power_w); };
    auto floor_ok = [&](int p) { return !t.has_accuracy() || m_acc[p] >= t.accuracy; };
    // The most accurate point predicted to fit; among equally accurate ones (one sub-network at
    // several hardware settings) the one predicted fastest, and the current one unless another is
    // predicted kLateral faster (a setting measured slow relaxes back towards fitting within a few
    // steps, which must not move the app back and forth between two settings that both fit).
    int chosen = -1, fastest = -1, fastest_floor = -1;
    double best_fast = INFINITY, best_fast_floor = INFINITY, chosen_pred = INFINITY;
    for (int p : m_order) {
      if (!allowed(p)) continue;
      const double pred = predict(p);
      if (pred < best_fast) best_fast = pred, fastest = p;
      if (floor_ok(p) && pred < best_fast_floor) best_fast_floor = pred, fastest_floor = p;
      if (pred <= m_budget[m_corr.device(p)] && (floor_ok(p) || !m_o.accuracy_first) &&
          (chosen < 0 || (m_acc[p] == m_acc[chosen] && pred < chosen_pred)))
        chosen = p, chosen_pred = pred;
    }
    {
      const int c = obs.current_point;
      if (chosen >= 0 && m_corr.valid(c) && c != chosen && m_acc[c] == m_acc[chosen] && allowed(c) &&
          (floor_ok(c) || !m_o.accuracy_first)) {
        const double pc = predict(c);
        if (pc <= m_budget[m_corr.device(c)] && chosen_pred > (1 - kLateral) * pc) chosen = c;
      }
    }
    // Explore only when even the fastest point is predicted to miss the target itself (not only
    // the margin): then staying costs a miss every step and a probe can only help.
    const bool hopeless = chosen < 0 && t.has_latency() && best_fast > t.latency_ms;
    if (hopeless && m_o.explore) chosen = explore(obs, allowed, floor_ok);
    // Starved: even the fastest point misses, and exploring has no hardware setting left to try.
    out.starved = hopeless && (chosen < 0 || m_probe_is_retry) && (!m_o.explore || m_all_probed);
    if (chosen < 0) chosen = (m_o.accuracy_first && fastest_floor >= 0) ? fastest_floor : fastest;
    if (chosen < 0) chosen = m_order.front();  // every point is over the power cap
    // Dwell before a step up: a more accurate point must be predicted to fit for up_dwell steps in a
    // row while the current one still fits, so jitter at a boundary does not flip between the two.
    // Steps down (the current point no longer fits) and a new target apply at once.
    const int cur = obs.current_point;
    const bool new_target = t.latency_ms != m_last_target.latency_ms || t.accuracy != m_last_target.accuracy ||
                            t.power_w != m_last_target.power_w || t.energy_mj != m_last_target.energy_mj;
    m_last_target = t;
    if (new_target) std::fill(m_dwell.begin(), m_dwell.end(), m_o.up_dwell), m_up_to = -1;
    // A step up that bounces (left downwards within kBounce steps) was near a boundary the profile
    // does not show: the next step up to that point waits twice as long (up to up_dwell_max); one
    // that holds for kBounce steps halves its dwell (down to up_dwell). A candidate above it, held
    // back by its own dwell, neither ends nor clears the watch.
    if (m_up_to >= 0) {
      const bool held_long = m_step - m_up_step > kBounce;
      const bool bounced = !held_long && m_acc[chosen] < m_acc[m_up_to];
      if (held_long || bounced) {
        int& dw = m_dwell[static_cast<size_t>(m_up_to)];
        dw = bounced ? std::min(2 * dw, std::max(m_o.up_dwell, m_o.up_dwell_max)) : std::max(m_o.up_dwell, dw / 2);
        // Left within a few steps, from the setting it was stepped up in: the point itself runs
        // slower than the profile says relative to the point below it (the setting's correction is
        // fresh from that one), so its prediction keeps that ratio, fading over a few hundred steps.
        // Without it the point is tried again at every dwell (5, 10, 20, ... steps: a switch pair each).
        if (bounced && m_step - m_up_step <= kQuickBounce && std::isfinite(m_up_gg) && m_up_min > m_up_gg)
          m_bias[static_cast<size_t>(m_up_to)] *= m_up_min / m_up_gg;
        m_up_to = -1;
      }
    }
    bool held = false;
    if (m_o.up_dwell > 1 && !new_target && m_corr.valid(cur) && chosen != cur && m_acc[chosen] > m_acc[cur] && allowed(cur) &&
        predict(cur) <= m_budget[m_corr.device(cur)]) {
      m_up_count = m_up_candidate == chosen ? m_up_count + 1 : 1;
      m_up_candidate = chosen;
      if (m_up_count < m_dwell[static_cast<size_t>(chosen)]) chosen = cur, held = true;
      else {
        m_up_to = chosen, m_up_step = m_step, m_up_min = INFINITY;
        m_up_gg = m_group[static_cast<size_t>(chosen)] == m_group[static_cast<size_t>(cur)] ? learned_g(chosen) : NAN;
      }
    }
    if (!held) m_up_candidate = -1, m_up_count = 0;
    out.point = chosen;
  }
  std::string state_json() const override {
    std::vector<double> jitter;
    for (double v : m_corr.var) jitter.push_back(std::sqrt(v));
    nlohmann::json settings = nlohmann::json::array();
    for (double v : m_gg) settings.push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr));
    return nlohmann::json{{"correction", DeviceCorrection::per_device(m_corr.g)},
                          {"setting_correction", settings},
                          {"jitter", DeviceCorrection::per_device(jitter)},
                          {"explored", m_explored},
                          {"all_probed", m_all_probed},
                          {"exploring", exploring()}}
        .dump();
  }

 private:
  static constexpr double kJump = 1.5;  // the device's correction rising this much in one step: a new slowdown
  static constexpr double kLateral = 0.1;  // how much faster an equally accurate point must be predicted to move to it
  static constexpr int64_t kNever = -1000000000;
  struct Own {
    double ratio = 1;      // measured / profiled latency of the group's points, last measurement
    int64_t step = 0;      // controller step of that measurement
    int64_t episode = -1;  // exploration it was measured in
  };
  // A point's profiled latency at the current frequency, times what its quick bounces taught.
  double profiled_ms(int p, const Observation& obs) const {
    return m_lat[static_cast<size_t>(p)] * m_scale.factor(p, obs) * m_bias[static_cast<size_t>(p)];
  }
  // An exploration lasts explore_stale steps from its start; then the device's correction rules
  // again (and a slowdown still there starts another).
  bool exploring() const { return m_o.explore && m_step - m_episode_start <= m_o.explore_stale; }
  // p's hardware setting's own correction, NaN while the setting has not run.
  double learned_g(int p) const { return m_gg[static_cast<size_t>(m_group[static_cast<size_t>(p)])]; }
  double setting_g(int p) const {
    const double gg = learned_g(p);
    return std::isfinite(gg) ? gg : m_corr.g[m_corr.device(p)];
  }
  Own& own(int p) { return m_own[static_cast<size_t>(m_group[static_cast<size_t>(p)])]; }
  const Own& own(int p) const { return m_own[static_cast<size_t>(m_group[static_cast<size_t>(p)])]; }
  // The newest measurement stands: a spike is forgotten at the group's next inference.
  void record_own(int p, double ratio) {
    if (!std::isfinite(ratio)) return;
    Own& o = own(p);
    o.ratio = ratio;
    o.step = m_step;
    o.episode = m_episode;
  }
  // A point's ratio in the exploration in force: its group's, or its own failed step up's if larger.
  double explored_ratio(int p) const {
    const FailedUp& f = m_failed_up[static_cast<size_t>(p)];
    return f.episode == m_episode ? std::max(own(p).ratio, f.ratio) : own(p).ratio;
  }
  // Whether p's group was measured in the exploration in force.
  bool own_valid(int p) const { return exploring() && own(p).episode == m_episode; }
  // Even the fastest point is predicted to miss. The most accurate point whose group's measurement
  // in this exploration meets the budget, else (every explore_every steps) the fastest profiled
  // point of a group not measured in it, or once all are, of the group measured longest ago (so a
  // spike that made a group look slow is measured again).
  template <class Allowed, class FloorOk>
  int explore(const Observation& obs, const Allowed& allowed, const FloorOk& floor_ok) {
    m_probe_is_retry = false;
    if (!exploring()) {
      ++m_episode;
      m_episode_start = m_step;
      if (m_corr.valid(obs.last_point)) record_own(obs.last_point, m_last_ratio);  // the miss that started it
    }
    for (int p : m_order)
      if (allowed(p) && own_valid(p) && (floor_ok(p) || !m_o.accuracy_first) &&
          profiled_ms(p, obs) * explored_ratio(p) <= m_budget[m_corr.device(p)])
        return p;
    // A setting whose own correction still predicts a miss is not probed: it was measured slow
    // and its correction has not relaxed back yet (that relaxation bounds how often it is re-tried).
    auto ruled_out = [&](int p) {
      const double gg = learned_g(p);
      return std::isfinite(gg) && profiled_ms(p, obs) * gg > obs.targets.latency_ms;
    };
    int pick = -1;
    for (int p : m_order) {
      if (!allowed(p) || own_valid(p) || (m_o.accuracy_first && !floor_ok(p)) || ruled_out(p)) continue;
      if (pick < 0 || profiled_ms(p, obs) < profiled_ms(pick, obs)) pick = p;
    }
    m_all_probed = pick < 0;
    if (m_step - m_last_explore < m_o.explore_every) return -1;
    if (pick < 0) {
      m_probe_is_retry = true;
      for (int p : m_order) {
        if (!allowed(p) || (m_o.accuracy_first && !floor_ok(p)) || p == obs.current_point || ruled_out(p)) continue;
        const int64_t age = m_step - own(p).step, best_age = pick < 0 ? -1 : m_step - own(pick).step;
        if (pick < 0 || age > best_age ||
            (age == best_age && profiled_ms(p, obs) < profiled_ms(pick, obs)))
          pick = p;
      }
      if (pick >= 0 && m_group[static_cast<size_t>(pick)] == m_group[static_cast<size_t>(obs.current_point < 0 ? pick : obs.current_point)])
        pick = -1;  // the oldest measurement is the current group's own: nothing to learn elsewhere
    }
    if (pick >= 0) {
      m_last_explore = m_step;
      ++m_explored;
    }
    return pick;
  }

  ParetoOptions m_o;
  FreqScale m_scale;
  std::vector<int> m_order;
  std::vector<double> m_lat, m_acc, m_pow;
  DeviceCorrection m_corr;
  std::vector<double> m_budget;  // latency budget of this step, per device
  std::vector<int> m_group;           // per point: its hardware setting + device group
  std::vector<size_t> m_group_dev;    // per group: its device
  std::vector<double> m_gg;           // per group: its own latency correction (NaN: not measured yet)
  size_t m_num_groups = 0;
  std::vector<Own> m_own;             // per group, measured while exploring
  int64_t m_step = 0, m_episode = 0, m_episode_start = kNever, m_last_explore = kNever;
  int64_t m_explored = 0;             // probes so far
  double m_last_ratio = NAN;          // measured / profiled latency of the last inference
  struct Spike {
    bool armed = false;
    size_t device = 0;
    int group = -1;
    double g = 1, gg = 1, var = 0;  // the device's and the setting's correction, and the jitter, before it
  } m_spike;                          // a rise followed at once in the last step, the one before it not a rise
  unsigned m_rises = 0;               // bit k: the inference k+1 steps ago rose beyond the jitter band
  int m_up_candidate = -1, m_up_count = 0;  // the step up being held back, and for how many steps
  static constexpr int64_t kBounce = 50;  // steps after a step up in which leaving downwards is a bounce
  std::vector<int> m_dwell;       // per point: steps a step up to it waits now (up_dwell, doubled per bounce)
  struct FailedUp {
    double ratio = 0;
    int64_t episode = -1;
  };
  std::vector<FailedUp> m_failed_up;  // per point: a step up to it that missed, and in which exploration
  int m_up_to = -1;               // the point of the last step up, while it may still bounce
  int64_t m_up_step = 0;
  double m_up_gg = NAN;           // its setting's correction when it was stepped up to (NaN: another setting)
  double m_up_min = INFINITY;     // its fastest measured / profiled ratio since
  static constexpr int64_t kQuickBounce = 10;  // a bounce this soon after the step up teaches the point's bias
  static constexpr double kBiasDecay = 0.005;  // per step: a bias halves in about 140 steps, so the point is tried again
  std::vector<double> m_bias;     // per point: measured / predicted of its quick bounces (1: none)
  bool m_all_probed = false;      // every hardware setting measured in this exploration
  bool m_probe_is_retry = false;  // this step's probe re-measures a setting (nothing new to learn)
  Targets m_last_target;
};

}  // namespace

std::unique_ptr<Controller> make_pareto(const ParetoOptions& o) { return std::make_unique<ParetoController>(o); }

}  // namespace dynn
