// SimulatedPlatform: a deterministic board model in virtual time (an hour runs in milliseconds),
// with the same knob and sensor names as the real backends, so controllers run unchanged in CI.
// Calibration, sources and assumptions: docs/simulator.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dynn/platform/platform.hpp"
#include "dynn/subnet.hpp"

namespace dynn {

// What the simulator needs from a latency model: the latency (ms) of a sub-network at the board's
// reference settings (SimBoard::cpu_ref_khz, gpu_ref_hz, cpu_ref_threads); the simulator scales it
// to the current knobs. The profile layer's LatencyTable (per-layer look-up tables) is one.
class SimLatencyModel {
 public:
  virtual ~SimLatencyModel() = default;
  // Error(InvalidArgument) for a sub-network of a family the model does not cover.
  virtual double predict_ms(const Subnet& subnet) const = 0;
  virtual bool covers_family(const std::string& family) const = 0;

 protected:
  SimLatencyModel() = default;
  SimLatencyModel(const SimLatencyModel&) = default;
  SimLatencyModel& operator=(const SimLatencyModel&) = default;
};

// One CPU cluster (one cpufreq policy) of a simulated board.
struct SimCluster {
  std::vector<int> cpus;
  std::vector<int64_t> khz;          // OPPs, ascending
  double v_min = 0.6, v_max = 1.1;   // volts at khz.front() / khz.back(), linear in between
  double c_eff = 0;                  // W per (V^2 * GHz) of one fully busy core
  std::vector<double> busy_core_w;   // optional per-OPP busy-core power (published table); overrides c_eff
  double perf = 1.0;                 // work per cycle relative to the reference core
  double static_w = 0;               // leakage of the cluster, always on
  std::string rail;                  // power rail it feeds ("VDD_CPU_GPU_CV", "arm", ...)
  std::string governor = "schedutil";
};

struct SimBoard {
  std::string name;            // "xavier-nx", "odroid-xu3"
  std::string model;           // platform name, as /proc/device-tree/model would say
  std::vector<SimCluster> clusters;
  // GPU (empty gpu_hz: none)
  std::vector<int64_t> gpu_hz;
  double gpu_v_min = 0.6, gpu_v_max = 1.05, gpu_c_eff = 0, gpu_static_w = 0;
  std::string gpu_rail, gpu_governor = "nvhost_podgov";
  std::vector<std::string> gpu_governors;
  std::vector<std::string> cpu_governors;
  double idle_activity = 0.03;   // busy share of an idle core/GPU (clock-gated)
  double gpu_host_activity = 0.3;  // busy share of one CPU core while it feeds the GPU
  // Rails: soc (always on, plus extra while inferring), memory traffic, the rest of the module.
  std::string soc_rail;          // "VDD_SOC" ("" = counted in base_w)
  double soc_idle_w = 0, soc_active_w = 0, dram_active_w = 0;
  double base_w = 0;             // module power outside the named rails (DRAM idle, IO, regulators)
  std::string total_rail;        // "VDD_IN": a sensor of the whole module ("" = none)
  std::vector<std::string> rails;  // names of the rail sensors, in order
  // Latency model: LUT values hold at these settings.
  int64_t cpu_ref_khz = 0;
  int64_t gpu_ref_hz = 0;
  int cpu_ref_threads = 1;
  double cpu_compute_fraction = 0.9;   // share of CPU time that scales with 1/f
  double gpu_compute_fraction = 0.42;  // share of GPU time that scales with 1/f
  double cpu_parallel_fraction = 0.85; // Amdahl parallel share of CPU inference
  double oversubscription_penalty = 0.1;  // extra time per thread beyond the cores it may use, relative
  // Thermal (one node): T -> ambient + R * P_total with time constant tau; step-wise throttling.
  double ambient_c = 25, thermal_resistance = 2.5, thermal_tau_s = 30;
  double throttle_c = 90, release_c = 85, throttle_period_s = 0.5;
  int max_throttle_steps = 12;   // OPP steps the throttle may take away
  std::vector<std::string> thermal_zones;  // e.g. {"CPU-therm", "GPU-therm"} all report the node
  std::string board_zone;                  // e.g. "Tboard_tegra": ambient + 30 % of the rise

  static SimBoard xavier_nx();
  static SimBoard odroid_xu3();
  static SimBoard by_name(const std::string& name);  // "xavier-nx" | "odroid-xu3"; NotFound lists them
};

// Another application takes `share` (0..1] of the cores in cpu_mask (0 = all) or of the GPU, from
// start_s (virtual time) for duration_s.
struct SimInterference {
  enum class Target { Cpu, Gpu };
  Target target = Target::Cpu;
  double start_s = 0, duration_s = 0, share = 0.5;
  uint64_t cpu_mask = 0;
};

struct SimInference {
  std::string device;          // "cpu" or "gpu"
  double start_s = 0;          // virtual time it started
  double latency_s = 0;
  double energy_j = 0;         // whole-module (total rail) energy during the inference
  double avg_power_w = 0;
  double reference_ms = 0;     // LUT latency at the reference settings
  double cpu_mhz = 0, gpu_mhz = 0;  // effective frequency at the end (after throttling)
  double peak_temp_c = 0;
  bool throttled = false;      // a throttle cap was active at some point
};

struct SimOptions {
  std::optional<double> ambient_c;           // override the board
  std::optional<double> thermal_resistance;  // e.g. 4.5 for a Xavier NX without its fan
  double latency_noise = 0;                  // relative std of a multiplicative jitter (0: none)
  uint64_t seed = 1;                         // jitter is seeded: runs repeat exactly
};

class SimulatedPlatform : public Platform {
 public:
  explicit SimulatedPlatform(const SimBoard& board = SimBoard::xavier_nx(), const SimOptions& options = {});
  ~SimulatedPlatform() override;
  static std::unique_ptr<SimulatedPlatform> create(const std::string& board_name, const SimOptions& options = {});

  const SimBoard& board() const;

  // The latency models of the CPU and the GPU (a LatencyTable each, e.g. from
  // load_latency_tables() in dynn/profile/latency_table.hpp). gpu may be null (CPU-only boards).
  void set_latency_tables(std::shared_ptr<const SimLatencyModel> cpu, std::shared_ptr<const SimLatencyModel> gpu);
  bool has_latency_table(const std::string& device) const;
  // LUT sum (ms) at the reference settings. Throws Unsupported without a table for the device.
  double reference_latency_ms(const Subnet& subnet, const std::string& device) const;
  // True when the device has a latency model for this family's sub-networks.
  bool has_latency_table(const std::string& device, const std::string& family) const;

  // Run one inference now: latency and energy under the current knobs, interference and
  // temperature; advances virtual time by the latency. device: "cpu", "gpu" (or "cuda:0"), or ""
  // for the "device" knob (-1 cpu, 0 gpu).
  SimInference simulate_inference(const Subnet& subnet, const std::string& device = "");
  // The same for a workload given by its latency (ms) at the reference settings.
  SimInference simulate_work(double reference_ms, const std::string& device = "");
  // Steady-state latency (s) the current settings would give, without advancing time (no
  // thermal change, interference as at now()).
  double predict_latency_s(double reference_ms, const std::string& device = "") const;

  // Let time pass with no inference (idle power, cooling, governors at idle).
  void advance(double seconds);
  void idle(double seconds) override { advance(seconds); }

  void add_interference(const SimInterference& event);
  void clear_interference();

  double temperature_c() const;
  int throttle_steps() const;     // OPP steps currently removed by thermal throttling
  double energy_j() const;        // total-rail energy since construction
  // Energy of one named rail (SimBoard::rails, e.g. "VDD_CPU_GPU_CV") since construction;
  // NotFound, listing the rails, for another name.
  double rail_energy_j(const std::string& rail) const;
  double power_w() const;         // total-rail power in the current (idle) state

 private:
  struct State;
  std::unique_ptr<State> m_state;
};

}  // namespace dynn
