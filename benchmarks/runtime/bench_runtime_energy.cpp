// Experiment 2: energy per inference of the "energy" controller against the Linux "performance"
// and "schedutil" governors (emulated) at the same latency target, on the simulated Xavier NX.
// Frames arrive every T ms and must be done within T ms (the loop idles until the next frame).
// The governors run the sub-network they would need: the most accurate level whose recorded
// latency at full clocks meets T. "energy" chooses level + GPU frequency + CPU frequency from a
// grid profiled on the simulator (dynn::Profiler), with that level's accuracy as its floor, so
// it may not trade accuracy for energy.
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

struct Run {
  TelemetrySummary s;
  double frame_energy_mj = 0;  // whole-board energy per frame period (inference + idle)
  double mean_gpu_mhz = 0;
  Telemetry t;
};

Run run(const std::vector<OperatingPoint>& points, const std::string& ctl, const std::string& params, const Targets& targets) {
  auto sim = bench::xavier();
  sim->apply({{"device", 0}});
  AppOptions a;
  a.name = ctl;
  a.model = bench::sim_model(*sim, bench::dofa_levels("gpu"));
  a.points = points;
  a.controller = make_controller(ctl, params);
  a.targets = targets;
  a.knobs = {"gpu.freq", kCpuKnobs[0], kCpuKnobs[1], kCpuKnobs[2]};
  a.sensors = {"util.gpu", "util.cpu0", "util.cpu2", "util.cpu4"};
  RuntimeManager m(bench::borrow<Platform>(*sim), std::move(a));
  double period = targets.latency_ms / 1e3;
  // Warm-up frames (thermal state, controller corrections), then the measured frames.
  for (int i = 0; i < 50; ++i) {
    double t0 = sim->now();
    bench::infer(m);
    double left = t0 + period - sim->now();
    if (left > 0) sim->advance(left);
  }
  size_t first = m.telemetry().size();
  double e0 = sim->energy_j();
  for (int i = 0; i < kFrames; ++i) {
    double t0 = sim->now();
    bench::infer(m);
    double left = t0 + period - sim->now();
    if (left > 0) sim->advance(left);
  }
  Run r;
  r.t = m.telemetry();
  r.s = r.t.summary(first);
  r.frame_energy_mj = (sim->energy_j() - e0) * 1e3 / kFrames;
  double g = 0;
  for (size_t i = first; i < r.t.size(); ++i) g += static_cast<double>(r.t.knob_value(i, 0)) / 1e6;
  r.mean_gpu_mhz = g / static_cast<double>(r.t.size() - first);
  return r;
}
}  // namespace

int main(int argc, char** argv) try {
  auto out = bench::out_dir(argc, argv, "energy");
  auto levels = bench::dofa_levels("gpu");
  auto grid = profile_grid(levels);
  std::cout << fmt::format("profiled {} operating points (6 levels x 15 GPU x {} CPU frequencies) on the simulator\n", grid.size(), kCpuKhz.size());
  bench::Table t{{"target", "controller", "level(s)", "top-1", "misses", "energy / inference (mJ)", "vs performance",
                  "energy / frame (mJ)", "vs performance", "mean GPU MHz", "p99 ms"}};
  SvgChart chart("Energy per inference at the same latency target", "latency target (ms)", 900, 220);
  auto& bars = chart.add_panel("energy / inference (mJ)");
  std::vector<std::string> names = {"performance", "schedutil", "energy", "energy (floor -1 pt)"};
  std::vector<SvgChart::Series> series(names.size());
  for (size_t i = 0; i < names.size(); ++i) series[i] = {names[i], {}, {}, SvgChart::Style::Bars, ""};
  bool all_met = true;
  double worst_saving = 1e9;
  std::vector<double> targets_ms = {50, 60, 70, 80};
  for (size_t ti = 0; ti < targets_ms.size(); ++ti) {
    double T = targets_ms[ti];
    bars.categories.push_back(fmt::format("{} ms", T));
    // The sub-network a governor needs: the most accurate level meeting T at full clocks.
    const OperatingPoint* need = nullptr;
    for (const auto& p : levels)
      if (p.latency_ms <= T * 0.98 && (!need || p.accuracy > need->accuracy)) need = &p;
    std::string point_id = need->id + "@gpu1109_cpu1907";
    Targets tg{T, need->accuracy, 0, 0};
    std::string sched = R"({"point": ")" + point_id +
                        R"(", "util_sensors": {"gpu.freq": "util.gpu", "cpufreq.policy0.freq": "util.cpu0", "cpufreq.policy2.freq": "util.cpu2", "cpufreq.policy4.freq": "util.cpu4"}})";
    std::vector<Run> runs = {run(grid, "performance", R"({"point": ")" + point_id + R"("})", tg), run(grid, "schedutil", sched, tg),
                             run(grid, "energy", "{}", tg), run(grid, "energy", "{}", Targets{T, need->accuracy - 0.01, 0, 0})};
    for (size_t i = 0; i < runs.size(); ++i) {
      const auto& r = runs[i];
      std::set<int> lv;
      for (size_t k = 0; k < r.t.size(); ++k) lv.insert(r.t.rows()[k].level);
      std::string lvs;
      for (int l : lv) lvs += (lvs.empty() ? "L" : ",L") + std::to_string(l);
      double de = r.s.mean_energy_mj / runs[0].s.mean_energy_mj - 1, df = r.frame_energy_mj / runs[0].frame_energy_mj - 1;
      t.rows.push_back({fmt::format("{} ms", T), names[i], lvs, fmt::format("{:.2f}%", r.s.mean_accuracy * 100), std::to_string(r.s.misses),
                        fmt::format("{:.1f}", r.s.mean_energy_mj), i ? fmt::format("{:+.1f}%", de * 100) : "-",
                        fmt::format("{:.1f}", r.frame_energy_mj), i ? fmt::format("{:+.1f}%", df * 100) : "-",
                        fmt::format("{:.0f}", r.mean_gpu_mhz), fmt::format("{:.1f}", r.s.p99_latency_ms)});
      series[i].x.push_back(static_cast<double>(ti));
      series[i].y.push_back(r.s.mean_energy_mj);
      std::string stem = i == 3 ? std::string("energy_floor-1") : names[i];
      r.t.write_csv((out / fmt::format("{}_{}ms.csv", stem, T)).string());
      r.t.write_svg((out / fmt::format("{}_{}ms.svg", stem, T)).string(), fmt::format("{} at {} ms", names[i], T));
    }
    all_met = all_met && runs[2].s.misses <= std::min(runs[0].s.misses, runs[1].s.misses);
    worst_saving = std::min(worst_saving, 1 - runs[2].s.mean_energy_mj / std::min(runs[0].s.mean_energy_mj, runs[1].s.mean_energy_mj));
  }
  for (auto& s : series) bars.series.push_back(std::move(s));
  bars.ymin = 0;
  chart.write((out / "energy_vs_governors.svg").string());
  std::cout << "\n## Energy vs governors (frames every T ms, deadline T ms, " << kFrames << " frames after 50 warm-up)\n\n" << t.str();
  std::cout << fmt::format("\nenergy saves at least {:.1f}% per inference against the better governor; misses no more than the governors: {}\n",
                           worst_saving * 100, all_met ? "yes" : "no");
  std::cout << "files in " << out.string() << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "bench_runtime_energy: " << e.what() << "\n";
  return 1;
}
