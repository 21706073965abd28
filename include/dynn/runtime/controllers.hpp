// The built-in controllers. Each is also in the registry under the name shown, with the JSON
// parameters listed (the option struct's fields, same names).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "dynn/runtime/controller.hpp"

namespace dynn {

// Indices of the points that form the "levels" a level-walking controller moves along, fastest
// first: the points with level >= 0 sorted by level when there are any, else the (latency,
// accuracy) Pareto front sorted by latency.
std::vector<int> level_order(const ControlContext& ctx);

// "fixed": always the same point (and knob values).
struct FixedOptions {
  ControllerParams::PointRef point;  // "point": id or index; default the most accurate point
  HardwareSetting hardware;          // "hardware": {"gpu.freq": 1109250000}
};
std::unique_ptr<Controller> make_fixed(const FixedOptions& o);

// Linux governors for a fixed sub-network: "performance" (max frequency), "powersave" (min),
// "ondemand" (load > up_threshold -> max, else min + load * (max - min)), "schedutil"
// (next = 1.25 * f_max * util with frequency-invariant util, PELT-like decay, rate limit).
// Utilisation comes from util_sensor when given (percent), else from the duty cycle of the
// inference loop (busy time of the last inference / time between steps).
struct GovernorOptions {
  std::string kind = "performance";     // performance | powersave | ondemand | schedutil
  ControllerParams::PointRef point;      // default the most accurate point
  std::vector<std::string> knobs;        // frequency knobs governed; default every knob named *.freq
  double up_threshold = 80;              // ondemand, percent
  double rate_limit_ms = 10;             // schedutil: minimum time between frequency changes
  double halflife_ms = 32;               // schedutil: PELT half-life of the utilisation average
  std::string util_sensor;               // percent sensor for every knob, "" = duty cycle
  std::map<std::string, std::string> util_sensors;  // per knob (overrides util_sensor)
};
std::unique_ptr<Controller> make_governor(const GovernorOptions& o);

// "dynamic-ofa": Dynamic-OFA's runtime demo (run.sh + test2.picknet + validate). Per inference i
// at the current level (i counted from 0 after each change): when i >= warmup and the latency is
// below outlier_ms it is recorded, and if sum(last `window` records) / window exceeds the latency
// target the level goes one down. When i >= up_after - 1 and the level's accuracy is below the
// floor it goes one up. Hysteresis ("lock-up", run.sh's commented-out lock, limited to up moves):
// a down move straight after an up move from the level below blocks further up moves until the
// target changes. Level changes are instant here (the Python demo relaunched, 5-30 s).
struct DynamicOfaOptions {
  int window = 20;
  double outlier_ms = 90;   // latencies at or above are ignored (the demo's "< 90 ms")
  int warmup = 21;          // the demo records from image index 21 ("i > 20")
  int up_after = 72;        // the demo steps up at image index 71 (21 latencies with i > 50)
  int initial_level = -1;   // index into level_order(); -1 = the most accurate
  std::string hysteresis = "lock-up";  // lock-up | none
};
std::unique_ptr<Controller> make_dynamic_ofa(const DynamicOfaOptions& o);

// "pareto": the most accurate point whose predicted latency meets target * (1 - m) (and the
// power cap where points carry power), m = max(margin, jitter_k * the tracked relative jitter of
// the latency around its prediction), so a noisy platform gets a wider margin. Prediction = profiled latency * frequency scale * g, where
// g (measured / predicted) is learned online: raised with gain_up (1 = at once) from the second
// rise beyond the jitter band within four inferences, so interference is followed after two slow
// inferences and a lone slow one is not followed at all (one followed and then contradicted by the
// next inference is forgotten), and lowered with gain_down (slow, the hysteresis). In the jitter
// estimate an outlier counts as at most 16x the variance in force, so one raises it at most 1.75x. A step up left again within 10 steps
// teaches that point a bias (its measured / predicted ratio against the correction it was chosen
// with) that fades by 0.5 % per step, so it is not retried at every dwell. freq_knob: when
// given, the profiled latency is rescaled to the knob's current value with a compute-bound
// fraction (point hardware value, else the knob's maximum, is the profiled frequency).
// Points on different devices (CPU/GPU placement) have their own g: interference on one device
// does not inflate the other's predictions. A device not in use gets no measurements, so its g
// relaxes towards 1 by idle_decay per step: a device left because it slowed down is tried again
// after roughly 1/idle_decay steps (one probe; if it is still slow, g jumps back at once).
struct ParetoOptions {
  double margin = 0.02;
  double jitter_k = 3;
  double gain_up = 1.0;
  double gain_down = 0.15;
  double idle_decay = 0.02;
  std::string freq_knob;
  double compute_fraction = 0.85;
  bool accuracy_first = false;  // true: never go under the accuracy floor to meet the latency
  // Exploration, when even the fastest point is predicted to miss the target itself: the slowdown
  // may hit some hardware settings only (another thread count or CPU set escapes a competing
  // load). For `explore_stale` steps (or until the device's correction jumps again) each group of
  // points with one hardware setting and device is predicted by its own measured ratio; the most
  // accurate point whose group meets the budget is used, else every `explore_every` steps the
  // fastest profiled point of a group not measured yet is tried: one probe per group per
  // exploration, none while some point is predicted to meet the target.
  // A step up (a more accurate point) waits until it was chosen for up_dwell steps in a row while
  // the current point still fits; steps down are immediate. 1 = no dwell (and no doubling). A step up that bounces
  // (left downwards within 50 steps: a point the profile says fits but the machine does not run in
  // time) doubles that point's dwell, up to up_dwell_max; one that holds 50 steps halves it.
  int up_dwell = 5;
  int up_dwell_max = 160;
  bool explore = true;
  int explore_every = 4;
  int explore_stale = 100;
};
std::unique_ptr<Controller> make_pareto(const ParetoOptions& o);

// "feedback": PI on the normalised latency error e = (setpoint - measured) / setpoint,
// setpoint = target * (1 - margin); u += kp * (e - e_prev) + ki * e moves along the levels
// (u clamped to [0, levels - 1], level = floor(u + 0.5)). Levels are discrete, so no level may sit
// at the setpoint: a latency between setpoint * (1 - deadband) and the target counts as e = 0,
// which stops the limit cycle between the two levels around the setpoint.
struct FeedbackOptions {
  double kp = 4;
  double ki = 8;
  double margin = 0.06;
  double deadband = 0.08;
  int initial_level = -1;
};
std::unique_ptr<Controller> make_feedback(const FeedbackOptions& o);

// "energy": over operating points that carry a hardware setting (sub-network x CPU/GPU
// frequencies, e.g. profiled with dynn::Profiler) and energy (energy_mj, or power_w * latency),
// the one with the least predicted energy whose predicted latency meets target * (1 - m) (m as
// in "pareto": max(margin, jitter_k * tracked jitter)), whose accuracy meets the floor and whose
// predicted power meets the cap. Latency and energy predictions are corrected online like
// "pareto" (measured / predicted, fast up, slow down). When nothing is feasible it relaxes, in
// this order: the energy budget, the margin, the accuracy floor; then it takes the fastest point.
struct EnergyOptions {
  double margin = 0.02;
  double jitter_k = 3;
  double gain_up = 1.0;
  double gain_down = 0.15;
  double idle_decay = 0.02;  // per device, as in "pareto"
  double energy_gain = 0.2;  // EWMA gain of the energy correction
};
std::unique_ptr<Controller> make_energy(const EnergyOptions& o);

// Register every built-in in `r` (what ControllerRegistry::global() holds).
void register_builtin_controllers(ControllerRegistry& r);

}  // namespace dynn
