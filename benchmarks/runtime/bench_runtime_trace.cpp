// Experiment 3: a 10-minute trace (virtual time) on the simulated Xavier NX with two models
// sharing the board, changing targets and interference phases.
//  - "vision": Dynamic-OFA's six GPU levels (recorded latencies as the simulator's reference),
//    10 frames/s, owned-model mode, controller "pareto".
//  - "background": the same six sub-networks on the CPU (the CPU LUT), one inference every 10 s,
//    advisory mode (decide / report): the benchmark runs its work itself, in 40 ms slices between
//    the vision frames, because the simulator runs one piece of work at a time. Each app's latency
//    is its own busy time; the two share frequencies, power and temperature.
// Targets change every 150 s (vision: 60, 70, 50, 65 ms) / 200 s (background: 2000, 2500,
// 2200 ms); a co-runner takes a quarter of the GPU during [100, 200) and [480, 540) s and half of every CPU core during [250, 350) and
// [520, 560) s. Prints a table per phase and writes telemetry (CSV/JSON/SVG) of both apps.
//   bench_runtime_trace [--out DIR]
#include <iostream>

#include "common.hpp"

using namespace dynn;

namespace {
constexpr double kEnd = 600, kFramePeriod = 0.1, kBgPeriod = 10, kSlice = 40;

double vision_target(double t) { return t < 150 ? 60 : t < 300 ? 70 : t < 450 ? 50 : 65; }
double bg_target(double t) { return t < 200 ? 2000 : t < 400 ? 2500 : 2200; }
}  // namespace

int main(int argc, char** argv) try {
  auto out = bench::out_dir(argc, argv, "trace");
  auto sim = bench::xavier(0.03, 11);
  sim->apply({{"gpu.freq", 1109250000}});
  sim->add_interference({SimInterference::Target::Gpu, 100, 100, 0.25});
  sim->add_interference({SimInterference::Target::Gpu, 480, 60, 0.25});
  sim->add_interference({SimInterference::Target::Cpu, 250, 100, 0.5});
  sim->add_interference({SimInterference::Target::Cpu, 520, 40, 0.5});

  auto gpu_pts = bench::dofa_levels("gpu");
  auto cpu_pts = bench::dofa_levels("cpu");
  for (auto& p : cpu_pts) {
    p.latency_ms = sim->reference_latency_ms(p.subnet, "cpu");  // LUT sum at 1420.8 MHz, 6 threads
    p.id = "cpu-" + p.id;
  }
  ManagerOptions mo;
  mo.telemetry_reserve = 8000;
  RuntimeManager m(bench::borrow<Platform>(*sim), mo);
  AppOptions v;
  v.name = "vision";
  v.model = bench::sim_model(*sim, gpu_pts);
  v.points = gpu_pts;
  v.controller = make_controller("pareto");
  v.targets = Targets{vision_target(0), 0, 0, 0};
  v.knobs = {"gpu.freq", "cpufreq.policy0.freq"};
  int iv = m.add_app(std::move(v));
  AppOptions b;
  b.name = "background";
  b.points = cpu_pts;
  b.controller = make_controller("pareto");
  b.targets = Targets{bg_target(0), 0, 0, 0};
  b.knobs = {"threads", "affinity"};
  int ib = m.add_app(std::move(b));

  double gpu_due = 0, bg_due = 1;
  bool bg_active = false;
  double bg_left = 0, bg_busy = 0, bg_energy = 0;
  size_t dropped = 0, frames = 0;
  while (sim->now() < kEnd) {
    double now = sim->now() + 1e-9;  // float rounding must not leave a due event "just ahead"
    if (now >= gpu_due) {
      m.set_targets(Targets{vision_target(now), 0, 0, 0}, iv);
      bench::infer(m, iv);
      ++frames;
      gpu_due += kFramePeriod;
      while (gpu_due < sim->now()) gpu_due += kFramePeriod, ++dropped;
    } else if (bg_active) {
      double w = std::min(kSlice, bg_left);
      auto r = sim->simulate_work(w, "cpu");
      bg_left -= w;
      bg_busy += r.latency_s;
      bg_energy += r.energy_j;
      if (bg_left <= 1e-9) {
        m.report(bg_busy * 1e3, bg_energy * 1e3, ib);
        bg_active = false;
      }
    } else if (now >= bg_due) {
      m.set_targets(Targets{bg_target(now), 0, 0, 0}, ib);
      const Decision& d = m.decide(ib);
      bg_left = m.point(d.point, ib).latency_ms;
      bg_busy = bg_energy = 0;
      bg_active = true;
      bg_due += kBgPeriod;
    } else {
      sim->advance(std::min(gpu_due, bg_due) - now);
    }
  }
  if (bg_active) {  // finish the last background inference so its row is recorded
    while (bg_left > 1e-9) {
      double w = std::min(kSlice, bg_left);
      auto r = sim->simulate_work(w, "cpu");
      bg_left -= w, bg_busy += r.latency_s, bg_energy += r.energy_j;
    }
    m.report(bg_busy * 1e3, bg_energy * 1e3, ib);
  }

  // Per-phase tables: the phases are the intervals between target changes and interference edges.
  std::vector<double> edges = {0, 100, 150, 200, 250, 300, 350, 400, 450, 480, 520, 540, 560, 600};
  for (int app : {iv, ib}) {
    const Telemetry& t = m.telemetry(app);
    bench::Table tab{{"phase (s)", "target ms", "interference", "inferences", "within target", "mean top-1", "mean latency ms", "p99 ms",
                      "switches"}};
    for (size_t e = 0; e + 1 < edges.size(); ++e) {
      size_t b0 = 0, b1 = 0;
      while (b0 < t.size() && t.rows()[b0].time_s < edges[e]) ++b0;
      b1 = b0;
      while (b1 < t.size() && t.rows()[b1].time_s < edges[e + 1]) ++b1;
      if (b1 == b0) continue;
      auto s = t.summary(b0, b1);
      double mid = (edges[e] + edges[e + 1]) / 2;
      bool g = (mid >= 100 && mid < 200) || (mid >= 480 && mid < 540);
      bool c = (mid >= 250 && mid < 350) || (mid >= 520 && mid < 560);
      tab.rows.push_back({fmt::format("{:.0f}-{:.0f}", edges[e], edges[e + 1]), fmt::format("{:.0f}", t.rows()[b0].target_latency_ms),
                          g && c ? "GPU+CPU" : g ? "GPU 25%" : c ? "CPU 50%" : "-", std::to_string(s.count),
                          fmt::format("{:.1f}%", s.within_target * 100), fmt::format("{:.2f}%", s.mean_accuracy * 100),
                          fmt::format("{:.1f}", s.mean_latency_ms), fmt::format("{:.1f}", s.p99_latency_ms), std::to_string(s.switches)});
    }
    auto all = t.summary();
    tab.rows.push_back({"**all**", "", "", std::to_string(all.count), fmt::format("**{:.2f}%**", all.within_target * 100),
                        fmt::format("{:.2f}%", all.mean_accuracy * 100), fmt::format("{:.1f}", all.mean_latency_ms),
                        fmt::format("{:.1f}", all.p99_latency_ms), std::to_string(all.switches)});
    std::cout << "\n## " << m.app_name(app) << "\n\n" << tab.str();
    t.write_csv((out / (m.app_name(app) + ".csv")).string());
    t.write_json((out / (m.app_name(app) + ".json")).string());
    t.write_svg((out / (m.app_name(app) + ".svg")).string(), m.app_name(app) + ": 10-minute trace");
  }
  std::cout << fmt::format("\nvision frames: {} run, {} dropped (the loop was busy past a frame's start); virtual time {:.0f} s, "
                           "board energy {:.0f} J, peak temperature from telemetry {:.1f} C\n",
                           frames, dropped, sim->now(), sim->energy_j(), [&] {
                             double mx = 0;
                             for (const auto& r : m.telemetry(iv).rows()) mx = std::max(mx, r.temperature_c);
                             return mx;
                           }());
  std::cout << "files in " << out.string() << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "bench_runtime_trace: " << e.what() << "\n";
  return 1;
}
