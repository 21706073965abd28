// The simulated boards (SimBoard presets). Every number in them is explained, with its source,
// in docs/simulator.md.
#include <map>

#include <fmt/format.h>

#include "core/platform/sim_state.hpp"
#include "dynn/error.hpp"

namespace dynn {

namespace {

std::vector<int64_t> xavier_cpu_khz() {
  return {115200, 192000, 268800, 345600, 422400, 499200, 576000, 652800, 729600, 806400, 883200, 960000, 1036800,
          1113600, 1190400, 1267200, 1344000, 1420800, 1497600, 1574400, 1651200, 1728000, 1804800, 1881600, 1907200};
}
std::vector<int64_t> xavier_gpu_hz() {
  return {114750000, 204000000, 306000000, 408000000, 510000000, 599250000, 701250000, 752250000,
          803250000, 854250000, 905250000, 956250000, 1007250000, 1058250000, 1109250000};
}

}  // namespace

using sim_detail::lerp_v;

SimBoard SimBoard::xavier_nx() {
  SimBoard p;
  p.name = "xavier-nx";
  p.model = "NVIDIA Jetson Xavier NX (simulated)";
  p.cpu_governors = {"interactive", "conservative", "ondemand", "userspace", "powersave", "performance", "schedutil"};
  for (int c = 0; c < 3; ++c) {
    SimCluster cl;
    cl.cpus = {2 * c, 2 * c + 1};
    cl.khz = xavier_cpu_khz();
    cl.v_min = 0.60;
    cl.v_max = 1.10;
    // 6 busy cores at 1907.2 MHz draw 8.1 W of dynamic power (calibrated to the 15/20 W modes).
    cl.c_eff = 8.1 / 6 / (1.10 * 1.10 * 1.9072);
    cl.rail = "VDD_CPU_GPU_CV";
    cl.governor = "schedutil";
    p.clusters.push_back(cl);
  }
  p.gpu_hz = xavier_gpu_hz();
  p.gpu_v_min = 0.60;
  p.gpu_v_max = 1.05;
  p.gpu_c_eff = 4.5 / (1.05 * 1.05 * 1.10925);  // busy GPU at 1109.25 MHz: 4.5 W dynamic
  p.gpu_rail = "VDD_CPU_GPU_CV";
  p.gpu_governor = "nvhost_podgov";
  p.gpu_governors = {"wmark_active", "wmark_simple", "nvhost_podgov", "userspace", "performance", "simple_ondemand"};
  p.idle_activity = 0.03;
  p.gpu_host_activity = 0.3;
  // Idle anchor (tegrastats): VDD_IN 5079 mW, VDD_CPU_GPU_CV 696 mW, VDD_SOC 1104 mW with 4 cores
  // online (cpu4-5 offline: their cluster is power-gated) idling at ~1.9 GHz and the GPU idle at
  // 510 MHz. Leakage = 696 mW minus that state's idle dynamic power, over the two online clusters
  // and the GPU.
  const double v_cpu = 1.10, f_cpu = 1.9072;
  const double idle_cpu = 4 * p.clusters[0].c_eff * v_cpu * v_cpu * f_cpu * p.idle_activity;
  const double v_gpu = lerp_v(510e6, 114.75e6, 1109.25e6, p.gpu_v_min, p.gpu_v_max);
  const double idle_gpu = p.gpu_c_eff * v_gpu * v_gpu * 0.510 * p.idle_activity;
  const double leak = 0.696 - idle_cpu - idle_gpu;
  for (auto& cl : p.clusters) cl.static_w = leak * 0.6 / 2;  // 60 % CPU, 40 % GPU (assumption)
  p.gpu_static_w = leak * 0.4;
  p.soc_rail = "VDD_SOC";
  p.soc_idle_w = 1.104;
  p.soc_active_w = 0.3;
  p.dram_active_w = 0.5;
  p.base_w = 5.079 - 0.696 - 1.104;
  p.total_rail = "VDD_IN";
  p.rails = {"VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"};
  // The Dynamic-OFA tables were measured in the default mode (MODE_15W_6CORE: CPU 1420.8 MHz,
  // GPU 1109.25 MHz) with PyTorch's default of one thread per online core.
  p.cpu_ref_khz = 1420800;
  p.gpu_ref_hz = 1109250000;
  p.cpu_ref_threads = 6;
  p.cpu_compute_fraction = 0.9;
  p.gpu_compute_fraction = 0.42;  // 1109 -> 803 MHz gives x1.16 (Dynamic-OFA motivation figure)
  p.cpu_parallel_fraction = 0.85;
  p.oversubscription_penalty = 0.1;
  p.ambient_c = 25;
  p.thermal_resistance = 2.5;
  p.thermal_tau_s = 30;
  p.throttle_c = 90;
  p.release_c = 85;
  p.throttle_period_s = 0.5;
  p.max_throttle_steps = 12;
  p.thermal_zones = {"CPU-therm", "GPU-therm"};
  p.board_zone = "Tboard_tegra";
  return p;
}

SimBoard SimBoard::odroid_xu3() {
  SimBoard p;
  p.name = "odroid-xu3";
  p.model = "Hardkernel Odroid XU3 (simulated)";
  p.cpu_governors = {"conservative", "ondemand", "userspace", "powersave", "performance"};
  SimCluster a7, a15;
  a7.cpus = {0, 1, 2, 3};
  for (int64_t f = 200000; f <= 1400000; f += 100000) a7.khz.push_back(f);
  a7.v_min = 0.90;
  a7.v_max = 1.20;
  a7.c_eff = 0.154 / (1.20 * 1.20 * 1.4);  // 0.154 W per busy A7 core at 1.4 GHz (sbc-bench rows, all-cores minus A15-only)
  a7.perf = 0.765;                          // 7-zip MIPS per A7 core per MHz vs A15 at 1400 MHz (same rows)
  a7.static_w = 0.05;
  a7.rail = "kfc";
  a7.governor = "ondemand";
  a15.cpus = {4, 5, 6, 7};
  for (int64_t f = 200000; f <= 2000000; f += 100000) a15.khz.push_back(f);
  a15.v_min = 0.90;
  a15.v_max = 1.3625;
  // Busy A15 core power per OPP from the published A15-only wall power (W - 3.9 W idle) / 4,
  // linear between the published rows, proportional to f below 500 MHz.
  const std::map<int, double> wall = {{500, 5.13}, {800, 5.80}, {1000, 6.42}, {1200, 7.06},
                                      {1400, 7.91}, {1600, 8.88}, {1800, 10.26}, {2000, 12.64}};
  for (int64_t khz : a15.khz) {
    double mhz = khz / 1000.0;
    double w;
    if (mhz <= 500) {
      w = (wall.at(500) - 3.9) / 4 * mhz / 500;
    } else {
      auto hi = wall.lower_bound(static_cast<int>(mhz));
      auto lo = std::prev(hi);
      double a = (hi->second - 3.9) / 4, b = (lo->second - 3.9) / 4;
      w = hi->first == static_cast<int>(mhz) ? a : b + (a - b) * (mhz - lo->first) / (hi->first - lo->first);
    }
    a15.busy_core_w.push_back(w);
  }
  a15.perf = 1.0;
  a15.static_w = 0.15;
  a15.rail = "arm";
  a15.governor = "ondemand";
  p.clusters = {a7, a15};
  p.idle_activity = 0.02;
  p.soc_rail = "mem";
  p.soc_idle_w = 0.10;
  p.soc_active_w = 0;   // the published rows are wall power: memory traffic is inside the busy-core numbers
  p.dram_active_w = 0;
  p.total_rail = "";    // the board has no total-input sensor
  p.rails = {"arm", "kfc", "mem"};
  p.cpu_ref_khz = 2000000;
  p.cpu_ref_threads = 4;
  p.cpu_compute_fraction = 0.70;  // A15 MIPS 1776 @500 MHz -> 5522 @2000 MHz: x3.11 for x4 clock
  p.cpu_parallel_fraction = 0.85;
  p.ambient_c = 25;
  p.thermal_resistance = 4.0;
  p.thermal_tau_s = 20;
  p.throttle_c = 85;
  p.release_c = 80;
  p.max_throttle_steps = 10;
  p.thermal_zones = {"cpu-thermal"};
  // base: board idle of 3.9 W (sbc-bench, HC2) minus the idle rails (set below at construction time).
  p.base_w = 3.9;
  return p;
}

SimBoard SimBoard::by_name(const std::string& name) {
  if (name == "xavier-nx" || name == "xavier_nx" || name == "jetson-xavier-nx") return xavier_nx();
  if (name == "odroid-xu3" || name == "odroid_xu3") return odroid_xu3();
  throw Error(ErrorCode::NotFound, fmt::format("no simulated platform '{}'; available: xavier-nx, odroid-xu3", name));
}

}  // namespace dynn
