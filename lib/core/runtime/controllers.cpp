// The built-in controllers: level_order, the shared argument checks and the registry entries.
// One file per controller (controller_<name>.cpp), the online correction in device_correction.cpp,
// what they share in controllers_internal.hpp.
#include "dynn/runtime/controllers.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "core/runtime/controllers_internal.hpp"
#include "dynn/error.hpp"

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

namespace controllers_detail {

[[noreturn]] void bad(const std::string& controller, const std::string& what) {
  throw Error(ErrorCode::InvalidArgument, fmt::format("controller '{}': {}", controller, what));
}

void require_points(const ControlContext& ctx, const std::string& name) {
  if (ctx.points.empty()) bad(name, "no operating points to choose from");
}

int require_knob(const ControlContext& ctx, const std::string& knob, const std::string& controller) {
  int k = ctx.knob_index(knob);
  if (k < 0) {
    std::vector<std::string> n;
    for (const auto& kn : ctx.knobs) n.push_back(kn.name);
    bad(controller, fmt::format("knob '{}' is not available (knobs: {})", knob, n.empty() ? std::string("none") : fmt::format("{}", fmt::join(n, ", "))));
  }
  return k;
}

}  // namespace controllers_detail

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
    o.up_dwell = static_cast<int>(p.integer("up_dwell", o.up_dwell, 1, 1000000));
    o.up_dwell_max = static_cast<int>(p.integer("up_dwell_max", o.up_dwell_max, 1, 1000000));
    o.explore = p.boolean("explore", o.explore);
    o.explore_every = static_cast<int>(p.integer("explore_every", o.explore_every, 1, 1000000));
    o.explore_stale = static_cast<int>(p.integer("explore_stale", o.explore_stale, 1, 100000000));
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
