// Experiment 2: energy per inference of the "energy" controller against the Linux "performance"
// and "schedutil" governors (emulated) at the same latency target, on the simulated Xavier NX.
// Frames arrive every T ms and must be done within T ms (the loop idles until the next frame).
// The governors run the sub-network they would need (the most accurate level whose recorded
// latency at full clocks meets T) with all six cores online. "energy" chooses from a grid
// profiled on the simulator (dynn::Profiler): level + GPU frequency + CPU frequency, and in the
// second variant also how many cores are online (CPU hot-plug, whole clusters gated), with that
// level's accuracy as its floor, so it may not trade accuracy for energy.
// A second table repeats the comparison on modified boards to show which part of the power model
// limits the saving.
//   bench_runtime_energy [--out DIR]
#include <iostream>
#include <set>

#include "common.hpp"

using namespace dynn;

namespace {
using bench::kCpuKhz;
using bench::kCpuKnobs;
using bench::profile_grid;
constexpr int kFrames = 400;
constexpr const char* kKnobRail = "VDD_CPU_GPU_CV";  // the rail every knob acts on

struct Run {
  TelemetrySummary s;
  double frame_energy_mj = 0;  // whole-board energy per frame period (inference + idle)
  double rail_frame_mj = 0;    // of that, the CPU+GPU rail
  double mean_gpu_mhz = 0;
  double mean_online = 0;      // online CPU cores
  Telemetry t;
};

Run run(const SimBoard& board, const std::vector<OperatingPoint>& points, const std::string& ctl, const std::string& params,
        const Targets& targets) {
  auto sim = bench::xavier(0, 1, board);
  sim->apply({{"device", 0}});
  AppOptions a;
  a.name = ctl;
  a.model = bench::sim_model(*sim, bench::dofa_levels("gpu"));
  a.points = points;
  a.controller = make_controller(ctl, params);
  a.targets = targets;
  a.knobs = {"gpu.freq", kCpuKnobs[0], kCpuKnobs[1], kCpuKnobs[2]};
  for (int cpu = 1; cpu < 6; ++cpu) a.knobs.push_back(fmt::format("cpu{}.online", cpu));
  a.sensors = {"util.gpu", "util.cpu0", "util.cpu2", "util.cpu4"};
  RuntimeManager m(bench::borrow<Platform>(*sim), std::move(a));
  double period = targets.latency_ms / 1e3;
  auto frames = [&](int n) {
    for (int i = 0; i < n; ++i) {
      double t0 = sim->now();
      bench::infer(m);
      double left = t0 + period - sim->now();
      if (left > 0) sim->advance(left);
    }
  };
  frames(50);  // warm-up: thermal state, controller corrections
  size_t first = m.telemetry().size();
  double e0 = sim->energy_j(), r0 = sim->rail_energy_j(kKnobRail);
  frames(kFrames);
  Run r;
  r.t = m.telemetry();
  r.s = r.t.summary(first);
  r.frame_energy_mj = (sim->energy_j() - e0) * 1e3 / kFrames;
  r.rail_frame_mj = (sim->rail_energy_j(kKnobRail) - r0) * 1e3 / kFrames;
  double g = 0, on = 0;
  for (size_t i = first; i < r.t.size(); ++i) {
    g += static_cast<double>(r.t.knob_value(i, 0)) / 1e6;
    on += 1;
    for (size_t k = 4; k < 9; ++k) on += static_cast<double>(r.t.knob_value(i, k));
  }
  double n = static_cast<double>(r.t.size() - first);
  r.mean_gpu_mhz = g / n;
  r.mean_online = on / n;
  return r;
}

// The sub-network a governor needs: the most accurate level meeting T at full clocks.
const OperatingPoint& governor_level(const std::vector<OperatingPoint>& levels, double T) {
  const OperatingPoint* need = nullptr;
  for (const auto& p : levels)
    if (p.latency_ms <= T * 0.98 && (!need || p.accuracy > need->accuracy)) need = &p;
  if (!need) throw Error(ErrorCode::InvalidArgument, fmt::format("no level meets {} ms at full clocks", T));
  return *need;
}

std::string governor_params(const std::string& governor, const std::string& point_id) {
  if (governor == "performance") return R"({"point": ")" + point_id + R"("})";
  return R"({"point": ")" + point_id +
         R"(", "util_sensors": {"gpu.freq": "util.gpu", "cpufreq.policy0.freq": "util.cpu0", "cpufreq.policy2.freq": "util.cpu2", "cpufreq.policy4.freq": "util.cpu4"}})";
}

std::string pct(double v) { return fmt::format("{:+.1f}%", v * 100); }
}  // namespace

int main(int argc, char** argv) try {
  auto out = bench::out_dir(argc, argv, "energy");
  const SimBoard xnx = SimBoard::xavier_nx();
  auto levels = bench::dofa_levels("gpu");
  auto grid_dvfs = profile_grid(levels, xnx);
  auto grid_all = profile_grid(levels, xnx, true);
  std::cout << fmt::format("profiled {} operating points (6 levels x 15 GPU x {} CPU frequencies) and {} with CPU hot-plug (x {} online core counts) on the simulator\n",
                           grid_dvfs.size(), kCpuKhz.size(), grid_all.size(), bench::kOnlineCores.size());
  bench::Table t{{"target", "controller", "level(s)", "top-1", "misses", "energy / inference (mJ)", "vs better governor", "energy / frame (mJ)",
                  "vs better governor", "CPU+GPU rail / frame (mJ)", "mean GPU MHz", "mean online cores", "p99 ms"}};
  SvgChart chart("Energy per inference at the same latency target", "latency target (ms)", 900, 220);
  auto& bars = chart.add_panel("energy / inference (mJ)");
  std::vector<std::string> names = {"performance", "schedutil", "energy (DVFS)", "energy (DVFS + hot-plug)", "energy (floor -1 pt)"};
  std::vector<std::string> stems = {"performance", "schedutil", "energy_dvfs", "energy_hotplug", "energy_floor-1"};
  std::vector<SvgChart::Series> series(names.size());
  for (size_t i = 0; i < names.size(); ++i) series[i] = {names[i], {}, {}, SvgChart::Style::Bars, ""};
  bool all_met = true;
  double worst_saving = 1e9, best_saving = -1e9;
  std::vector<double> targets_ms = {50, 60, 70, 80};
  for (size_t ti = 0; ti < targets_ms.size(); ++ti) {
    double T = targets_ms[ti];
    bars.categories.push_back(fmt::format("{} ms", T));
    const OperatingPoint& need = governor_level(levels, T);
    std::string point_id = need.id + "@gpu1109_cpu1907";
    Targets tg{T, need.accuracy, 0, 0};
    std::vector<Run> runs = {run(xnx, grid_all, "performance", governor_params("performance", point_id), tg),
                             run(xnx, grid_all, "schedutil", governor_params("schedutil", point_id), tg),
                             run(xnx, grid_dvfs, "energy", "{}", tg), run(xnx, grid_all, "energy", "{}", tg),
                             run(xnx, grid_all, "energy", "{}", Targets{T, need.accuracy - 0.01, 0, 0})};
    double gov_inf = std::min(runs[0].s.mean_energy_mj, runs[1].s.mean_energy_mj);
    double gov_frame = std::min(runs[0].frame_energy_mj, runs[1].frame_energy_mj);
    for (size_t i = 0; i < runs.size(); ++i) {
      const auto& r = runs[i];
      std::set<int> lv;
      for (size_t k = 0; k < r.t.size(); ++k) lv.insert(r.t.rows()[k].level);
      std::string lvs;
      for (int l : lv) lvs += (lvs.empty() ? "L" : ",L") + std::to_string(l);
      bool gov = i < 2;
      t.rows.push_back({fmt::format("{} ms", T), names[i], lvs, fmt::format("{:.2f}%", r.s.mean_accuracy * 100), std::to_string(r.s.misses),
                        fmt::format("{:.1f}", r.s.mean_energy_mj), gov ? "-" : pct(r.s.mean_energy_mj / gov_inf - 1),
                        fmt::format("{:.1f}", r.frame_energy_mj), gov ? "-" : pct(r.frame_energy_mj / gov_frame - 1),
                        fmt::format("{:.1f}", r.rail_frame_mj), fmt::format("{:.0f}", r.mean_gpu_mhz), fmt::format("{:.1f}", r.mean_online),
                        fmt::format("{:.1f}", r.s.p99_latency_ms)});
      series[i].x.push_back(static_cast<double>(ti));
      series[i].y.push_back(r.s.mean_energy_mj);
      r.t.write_csv((out / fmt::format("{}_{}ms.csv", stems[i], T)).string());
      r.t.write_svg((out / fmt::format("{}_{}ms.svg", stems[i], T)).string(), fmt::format("{} at {} ms", names[i], T));
    }
    all_met = all_met && runs[3].s.misses <= std::min(runs[0].s.misses, runs[1].s.misses);
    worst_saving = std::min(worst_saving, 1 - runs[3].s.mean_energy_mj / gov_inf);
    best_saving = std::max(best_saving, 1 - runs[3].s.mean_energy_mj / gov_inf);
  }
  for (auto& s : series) bars.series.push_back(std::move(s));
  bars.ymin = 0;
  chart.write((out / "energy_vs_governors.svg").string());
  std::cout << "\n## Energy vs governors (frames every T ms, deadline T ms, " << kFrames << " frames after 50 warm-up)\n\n" << t.str();
  std::cout << fmt::format("\nenergy (all knobs, same accuracy) saves {:.1f}-{:.1f}% per inference against the better governor; misses no more than the governors: {}\n",
                           worst_saving * 100, best_saving * 100, all_met ? "yes" : "no");

  // Sensitivity: the same comparison (same accuracy, all knobs) on boards whose power model is
  // changed in one respect, to show which calibration limits the saving.
  struct Variant {
    std::string name;
    SimBoard board;
  };
  std::vector<Variant> variants;
  auto halve_static = [](SimBoard& b) {  // module base, SOC and DRAM: power paid whatever the clocks
    b.base_w *= 0.5;
    b.soc_idle_w *= 0.5;
    b.dram_active_w *= 0.5;
    b.soc_active_w *= 0.5;
  };
  auto low_voltage = [](SimBoard& b) {
    b.gpu_v_min = 0.50;
    for (auto& cl : b.clusters) cl.v_min = 0.50;
  };
  variants.push_back({"calibrated Xavier NX", xnx});
  {
    SimBoard b = xnx;
    b.base_w *= 0.5;
    variants.push_back({"module base power x0.5 (3.28 -> 1.64 W)", b});
  }
  {
    SimBoard b = xnx;
    halve_static(b);
    variants.push_back({"base, SOC and DRAM power x0.5", b});
  }
  {
    SimBoard b = xnx;
    low_voltage(b);
    variants.push_back({"voltage at the lowest OPP 0.60 -> 0.50 V", b});
  }
  {
    SimBoard b = xnx;
    b.gpu_compute_fraction = 0.2;
    variants.push_back({"GPU compute-bound share 0.42 -> 0.20", b});
  }
  {
    SimBoard b = xnx;
    halve_static(b);
    low_voltage(b);
    variants.push_back({"base/SOC/DRAM x0.5 and 0.50 V together", b});
    b.gpu_compute_fraction = 0.2;
    variants.push_back({"all of the above together", b});
  }
  bench::Table sens{{"board", "saving per inference (50 / 60 / 70 / 80 ms)", "saving per frame (50 / 60 / 70 / 80 ms)", "misses (energy / governors)"}};
  for (const auto& v : variants) {
    auto g = profile_grid(levels, v.board, true);
    std::vector<std::string> inf, frame;
    int miss_e = 0, miss_g = 0;
    for (double T : targets_ms) {
      const OperatingPoint& need = governor_level(levels, T);
      std::string point_id = need.id + "@gpu1109_cpu1907";
      Targets tg{T, need.accuracy, 0, 0};
      Run p = run(v.board, g, "performance", governor_params("performance", point_id), tg);
      Run s = run(v.board, g, "schedutil", governor_params("schedutil", point_id), tg);
      Run e = run(v.board, g, "energy", "{}", tg);
      inf.push_back(pct(1 - e.s.mean_energy_mj / std::min(p.s.mean_energy_mj, s.s.mean_energy_mj)));
      frame.push_back(pct(1 - e.frame_energy_mj / std::min(p.frame_energy_mj, s.frame_energy_mj)));
      miss_e += static_cast<int>(e.s.misses);
      miss_g += static_cast<int>(std::min(p.s.misses, s.s.misses));
    }
    sens.rows.push_back({v.name, fmt::format("{}", fmt::join(inf, " / ")), fmt::format("{}", fmt::join(frame, " / ")),
                         fmt::format("{} / {}", miss_e, miss_g)});
  }
  std::cout << "\n## Sensitivity: saving of energy (all knobs, same accuracy) against the better governor\n\n" << sens.str();
  std::cout << "files in " << out.string() << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "bench_runtime_energy: " << e.what() << "\n";
  return 1;
}
