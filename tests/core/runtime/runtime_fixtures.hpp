// Helpers for the runtime tests: operating points, scripted observations and a toy platform in
// virtual time whose latency scales with a frequency knob and whose energy counter integrates a
// frequency-dependent power.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "dynn/platform/platform.hpp"
#include "dynn/runtime.hpp"

namespace dynn::test {

// Levels L0..L(n-1): latency lat[i] ms, accuracy acc[i].
inline std::vector<OperatingPoint> level_points(const std::vector<double>& lat, const std::vector<double>& acc,
                                                const std::string& device = "gpu") {
  std::vector<OperatingPoint> pts;
  for (size_t i = 0; i < lat.size(); ++i) {
    OperatingPoint p;
    p.id = "L" + std::to_string(i);
    // Distinct sub-networks: resolution grows with the level.
    p.subnet = SubnetConfig::uniform(3, 3, 2, 160 + 8 * static_cast<int>(i));
    p.device = device;
    p.latency_ms = lat[i];
    p.accuracy = acc[i];
    p.level = static_cast<int>(i);
    pts.push_back(p);
  }
  return pts;
}

// The six Dynamic-OFA GPU levels (recorded latency and top-1).
inline std::vector<OperatingPoint> dofa_points() {
  return level_points({41.16, 45.42, 49.44, 51.08, 56.75, 61.73}, {0.74202, 0.74968, 0.76134, 0.7754, 0.78346, 0.7903});
}

inline ControlContext context_of(std::vector<OperatingPoint> pts, std::vector<KnobInfo> knobs = {}) {
  ControlContext c;
  c.points = std::move(pts);
  c.knobs = std::move(knobs);
  return c;
}

inline KnobInfo freq_knob(const std::string& name = "gpu.freq") {
  return KnobInfo{name, "MHz", {100, 200, 300, 400, 500, 600, 700, 800, 900, 1000}, 100, 1000};
}

// Steps a controller once with a measurement of the previous decision.
struct Driver {
  Controller& c;
  Observation obs;
  Decision d;
  explicit Driver(Controller& ctl, const ControlContext& ctx, Targets t = {}) : c(ctl) {
    c.bind(ctx);
    obs.targets = t;
    for (const auto& k : ctx.knobs) obs.knob_values.push_back(k.values.empty() ? k.max : k.values.back());
  }
  int first() {
    c.step(obs, d);
    obs.current_point = d.point;
    return d.point;
  }
  // Report `ms` for the point in force, step, return the new point.
  int next(double ms, double dt_s = -1, double energy_mj = NAN) {
    obs.last_latency_ms = ms;
    obs.last_energy_mj = energy_mj;
    obs.last_point = d.point;
    obs.time_s += dt_s >= 0 ? dt_s : ms / 1000.0;
    obs.step += 1;
    c.step(obs, d);
    obs.current_point = d.point;
    for (auto& kv : d.hardware) {
      (void)kv;
    }
    return d.point;
  }
};

// A toy board in virtual time: latency = base_ms(subnet r) * (0.2 + 0.8 * fmax / f) * slowdown,
// power = 1 + 9 * (f / fmax)^2 W while running, 1 W idle.
struct ToyBoard {
  std::shared_ptr<VirtualClock> clock = std::make_shared<VirtualClock>();
  std::shared_ptr<Platform> platform;
  CallbackKnob* freq = nullptr;
  double energy_j = 0;
  double slowdown = 1;
  int runs = 0;

  ToyBoard() {
    platform = std::make_shared<Platform>("toy", clock);
    KnobSpec s{"gpu.freq", "MHz", "toy frequency", KnobType::Numeric, {100, 200, 300, 400, 500, 600, 700, 800, 900, 1000}, {}, {}, {}};
    auto k = std::make_unique<CallbackKnob>(s, 1000);
    freq = k.get();
    platform->add_knob(std::move(k));
    platform->add_sensor(std::make_unique<FunctionSensor>("energy.total", "J", SensorKind::Counter, "toy energy",
                                                          [this] { return energy_j; }));
    platform->add_sensor(std::make_unique<FunctionSensor>("temp.toy", "degC", SensorKind::Instant, "toy temperature",
                                                          [] { return 40.0; }));
  }
  double latency_ms(const Subnet& s) const {
    double f = static_cast<double>(freq->get());
    return (20.0 + (s.resolution() - 160) * 1.0) * (0.2 + 0.8 * 1000.0 / f) * slowdown;
  }
  double power_w() const {
    double f = static_cast<double>(freq->get()) / 1000.0;
    return 1 + 9 * f * f;
  }
  void run(const Subnet& s) {
    double ms = latency_ms(s);
    energy_j += power_w() * ms / 1000.0;
    clock->sleep(ms / 1000.0);
    ++runs;
  }
  std::shared_ptr<CallbackModel> model() {
    return std::make_shared<CallbackModel>([this](const Subnet& s, const std::string&, int) { run(s); });
  }
};

}  // namespace dynn::test
