// Internal: the state of a SimulatedPlatform and its physics (sim_physics.cpp): governors and
// OPPs, thermal throttling, power per rail, the thermal node, latency. The boards are in
// sim_boards.cpp; simulated.cpp wires knobs and sensors to this state.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dynn/platform/simulated.hpp"

namespace dynn {

namespace sim_detail {
// Volts at frequency f: v0 at f0, v1 at f1, linear in between (clamped).
double lerp_v(double f, double f0, double f1, double v0, double v1);
}  // namespace sim_detail

struct SimulatedPlatform::State {
  SimBoard board;
  SimOptions opt;
  std::shared_ptr<VirtualClock> clock;
  struct Policy {
    std::string governor;
    int64_t min = 0, max = 0, setspeed = 0;
  };
  std::vector<Policy> pol;
  Policy gpu;
  Knob* threads = nullptr;
  Knob* affinity = nullptr;
  Knob* device = nullptr;
  double temp = 25;
  int throttle = 0;
  bool ever_throttled = false;
  double next_check = 0;
  double energy = 0;
  std::map<std::string, double> rail_energy;  // per named rail ("" = the whole board)
  std::vector<char> online;      // CPU hot-plug state (cpuN.online); cpu0 stays online
  std::vector<double> cpu_busy;  // activity integrals per CPU (s)
  double gpu_busy = 0;
  std::vector<SimInterference> events;
  std::shared_ptr<const SimLatencyModel> lut_cpu, lut_gpu;
  std::mt19937_64 rng;
  int ncpu = 0;

  // What runs during one step.
  struct Activity {
    std::vector<double> cpu;  // own activity per CPU (0..1)
    double gpu = 0;
    bool inferring = false;
  };

  double now() const { return clock->now(); }

  double interference(SimInterference::Target t, int cpu, double at) const;
  // Next time an interference window opens or closes after `at`.
  double next_event(double at) const;
  int64_t cap_of(const std::vector<int64_t>& opps) const;
  // Governor emulation: performance -> max, powersave -> min, userspace -> setspeed; load-driven
  // governors (schedutil, ondemand, nvhost_podgov, ...) -> max while busy, min while idle.
  static int64_t governed(const Policy& p, bool busy);
  static int64_t snap_down(const std::vector<int64_t>& opps, int64_t f);
  int64_t cluster_khz(size_t c, bool busy) const;
  int64_t gpu_hz(bool busy) const;
  size_t cluster_of(int cpu) const;
  bool is_online(int cpu) const { return online[static_cast<size_t>(cpu)] != 0; }
  // A cluster with every core offline is power-gated: no leakage, no idle power.
  bool cluster_online(size_t c) const;
  double core_w(size_t c, int64_t khz, double activity) const;
  double gpu_w(int64_t hz, double activity) const;

  // Total activity per CPU / GPU (own + interference), and the busy flags the governors see.
  struct Load {
    std::vector<double> cpu;
    double gpu = 0;
    std::vector<bool> cluster_busy;
    bool gpu_busy = false;
  };
  Load load(const Activity& a, double at) const;
  std::map<std::string, double> rails(const Activity& a, double at) const;

  // Advance by dt under activity a (dt must not cross a throttle check or an event boundary).
  void step(double dt, const Activity& a);
  double max_dt() const;
  void idle_for(double seconds);

  // ---- latency

  // The online CPUs of the affinity mask; all online CPUs when the mask has none (the kernel
  // moves threads whose CPUs went offline).
  std::vector<int> allowed_cpus() const;

  // Time (s) for the whole reference workload under the state at `at`, and the activity it makes.
  double cpu_time(double ref_s, double at, Activity* act) const;
  double gpu_time(double ref_s, double at, Activity* act) const;

  std::string resolve(const std::string& device) const;
  int64_t device_knob_value() const { return device->get(); }

  SimInference run(double ref_ms, const std::string& dev);
};

}  // namespace dynn
