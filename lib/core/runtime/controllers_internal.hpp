// Internal: what the built-in controllers (controller_*.cpp) share: argument checks, knob
// ranges and the online correction (device_correction.cpp). Everything that costs (name lookups,
// sorting, candidate tables) is done in bind(); step() only does arithmetic over precomputed arrays.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dynn/runtime/controller.hpp"

namespace dynn::controllers_detail {

// InvalidArgument "controller '<controller>': <what>".
[[noreturn]] void bad(const std::string& controller, const std::string& what);
void require_points(const ControlContext& ctx, const std::string& name);
// Index of a knob in the context; InvalidArgument naming the knob and those that exist.
int require_knob(const ControlContext& ctx, const std::string& knob, const std::string& controller);

inline double lo_of(const KnobInfo& k) { return static_cast<double>(k.values.empty() ? k.min : k.values.front()); }
inline double hi_of(const KnobInfo& k) { return static_cast<double>(k.values.empty() ? k.max : k.values.back()); }

// Asymmetric online correction of a multiplicative model error: up fast, down slow.
inline void correct(double& g, double observed, double up, double down) {
  if (!std::isfinite(observed) || observed <= 0) return;
  g += (observed > g ? up : down) * (observed - g);
}

// Whether `measured` rose beyond the jitter band over the prediction pred * g (relative residual > band).
inline bool rose_beyond(double measured, double pred, double g, double band) { return measured / (pred * g) - 1 > band; }

// The correction g of a prediction `pred` (ms, before correction) learns from `measured`: a rise
// beyond the jitter band with gain `up`, the rest with `down`.
inline void follow(double& g, double measured, double pred, double band, double up, double down) {
  if (!(pred > 0) || !std::isfinite(measured)) return;
  correct(g, measured / pred, rose_beyond(measured, pred, g, band) ? up : down, down);
}

// The online latency correction of "pareto" and "energy", kept per device (CPU/GPU placement: a
// co-runner on the GPU does not slow the CPU points). g = measured / predicted: a rise beyond the
// jitter band is a step change (interference) and is followed at once (gain_up), a rise within
// the band is noise and is followed slowly, like a fall (gain_down). A device the last inference
// did not run on gets no measurement, so its g relaxes towards 1 (idle_decay) and it is tried again.
struct DeviceCorrection {
  std::vector<int> dev;  // device index of each point
  std::vector<double> g, var;

  // Returns the number of devices.
  size_t bind(const std::vector<OperatingPoint>& points);
  void reset();
  size_t device(int point) const { return static_cast<size_t>(dev[static_cast<size_t>(point)]); }
  bool valid(int point) const { return point >= 0 && point < static_cast<int>(dev.size()); }
  // Ages the corrections `v` (g, or another per-device factor) of the devices not used by point.
  void relax_idle(int point, double rate, std::vector<double>& v) const;
  // Learns from `measured` ms for `point`, whose prediction before correction was `pred` ms.
  void observe(int point, double measured, double pred, double jitter_k, double gain_up, double gain_down);
  // Latency budget on device d: target * (1 - max(margin, jitter_k * its jitter)), m <= 0.5.
  double budget(size_t d, const Targets& t, double margin, double jitter_k) const;
  // {"<key>": g} with one device, else a list in order of first appearance among the points.
  static nlohmann::json per_device(const std::vector<double>& v);
};

}  // namespace dynn::controllers_detail
