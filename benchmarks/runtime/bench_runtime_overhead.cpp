// Experiment 4, on this machine for real (wall clock):
//  (a) the cost of one controller step for every built-in: median and p99 of individually timed
//      steps (the clock pair's own cost is printed too), the batched mean, and the heap
//      allocations counted during the timed steps (operator new is counted in this binary);
//  (b) the manager's overhead per inference against a bare inference loop, with a fake model that
//      burns a fixed amount of CPU (no LibTorch): the difference of the loop times, and the
//      manager's own time around each inference (telemetry overhead_us) over the inference time.
//   bench_runtime_overhead [--out DIR] [--steps N]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <new>

#include "common.hpp"

namespace {
std::atomic<size_t> g_allocs{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace dynn;
using Clk = std::chrono::steady_clock;

namespace {
double ns(Clk::duration d) { return std::chrono::duration<double, std::nano>(d).count(); }

double pct(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) try {
  auto out = bench::out_dir(argc, argv, "overhead");
  long steps = 200000;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--steps") steps = std::atol(argv[i + 1]);

  // ---------------------------------------------------------------- (a) controller steps
  auto sim = bench::xavier();
  auto levels = bench::dofa_levels("gpu");
  auto grid = bench::profile_grid(levels);
  ControlContext lv_ctx, grid_ctx;
  lv_ctx.points = levels;
  grid_ctx.points = grid;
  for (const char* k : {"gpu.freq", "cpufreq.policy0.freq", "cpufreq.policy2.freq", "cpufreq.policy4.freq"}) {
    Knob& kn = sim->knob(k);
    KnobInfo ki{kn.name(), kn.unit(), kn.values(), kn.min_value().value_or(0), kn.max_value().value_or(0)};
    lv_ctx.knobs.push_back(ki);
    grid_ctx.knobs.push_back(ki);
  }
  lv_ctx.sensors = {{"util.gpu", "%"}, {"util.cpu0", "%"}};
  const std::string sched_params =
      R"({"util_sensors": {"gpu.freq": "util.gpu", "cpufreq.policy0.freq": "util.cpu0"}})";
  const std::vector<std::tuple<std::string, std::string, bool>> ctls = {
      {"fixed", "{}", false},          {"performance", "{}", false},   {"powersave", "{}", false},
      {"ondemand", sched_params, false}, {"schedutil", sched_params, false}, {"dynamic-ofa", "{}", false},
      {"pareto", "{}", false},         {"pareto", R"({"freq_knob": "gpu.freq"})", false},
      {"feedback", "{}", false},       {"energy", "{}", true}};
  // A latency trace that moves the controllers: a step up at 1/3 (interference), jitter.
  std::vector<double> lat(4096);
  for (size_t i = 0; i < lat.size(); ++i) lat[i] = (i % 1500 < 500 ? 50.0 : 66.0) * (1 + 0.03 * std::sin(static_cast<double>(i) * 1.7));
  double clock_pair = 0;
  {
    std::vector<double> v(100000);
    for (auto& x : v) {
      auto a = Clk::now();
      auto b = Clk::now();
      x = ns(b - a);
    }
    clock_pair = pct(v, 0.5);
  }
  bench::Table t{{"controller", "points", "median ns", "p99 ns", "batched mean ns", "allocations in steps", "<= 2 us (p99)"}};
  bool all_ok = true;
  for (const auto& [name, params, on_grid] : ctls) {
    auto c = make_controller(name, params);
    const ControlContext& ctx = on_grid ? grid_ctx : lv_ctx;
    c->bind(ctx);
    Observation obs;
    obs.targets = Targets{60, 0, 0, 0};
    for (const auto& k : ctx.knobs) obs.knob_values.push_back(k.values.back());
    obs.sensor_values = {60, 20};
    Decision d;
    auto feed = [&](long i) {
      obs.step = static_cast<uint64_t>(i);
      obs.time_s += 0.06;
      obs.last_latency_ms = lat[static_cast<size_t>(i) & 4095];
      obs.last_energy_mj = obs.last_latency_ms * 10;
      obs.last_point = d.point;
      obs.current_point = d.point;
      if (!d.hardware.empty()) obs.knob_values[0] = d.hardware.begin()->second;
    };
    for (long i = 0; i < 1000; ++i) feed(i), c->step(obs, d);  // warm-up: decision keys exist
    std::vector<double> v(static_cast<size_t>(steps));
    size_t a0 = g_allocs.load();
    for (long i = 0; i < steps; ++i) {
      feed(i);
      auto s0 = Clk::now();
      c->step(obs, d);
      auto s1 = Clk::now();
      v[static_cast<size_t>(i)] = ns(s1 - s0);
    }
    size_t allocs = g_allocs.load() - a0;
    auto b0 = Clk::now();
    for (long i = 0; i < steps; ++i) feed(i), c->step(obs, d);
    double batched = ns(Clk::now() - b0) / static_cast<double>(steps);
    double p99 = pct(v, 0.99);
    all_ok = all_ok && p99 <= 2000;
    std::string label = name + (params.find("freq_knob") != std::string::npos ? " (freq_knob)" : "");
    t.rows.push_back({label, std::to_string(ctx.points.size()), fmt::format("{:.0f}", pct(v, 0.5)), fmt::format("{:.0f}", p99),
                      fmt::format("{:.0f}", batched), std::to_string(allocs), p99 <= 2000 ? "yes" : "no"});
  }
  std::cout << fmt::format("## Controller step cost ({} steps each; a steady_clock pair costs {:.0f} ns, included in median/p99; "
                           "batched mean = loop time / steps, incl. building the observation)\n\n",
                           steps, clock_pair)
            << t.str() << fmt::format("\nevery built-in within 2 us at p99: {}\n", all_ok ? "yes" : "no");

  // ------------------------------------------------------------ (b) manager vs bare loop
  auto host = Platform::detect();
  std::shared_ptr<Platform> hp(std::move(host));
  bench::Table t2{{"fake inference", "bare loop ms/inf", "manager ms/inf", "difference", "manager's own time (median us)",
                   "own time / inference", "< 1%"}};
  for (double target_ms : {1.0, 5.0, 20.0}) {
    const long iters = bench::burn_iters_for(target_ms);
    auto model = std::make_shared<CallbackModel>([iters](const Subnet&, const std::string&, int) { bench::burn(iters); });
    auto pts = levels;
    for (auto& p : pts) p.device = "cpu", p.latency_ms = target_ms;
    AppOptions a;
    a.model = model;
    a.points = pts;
    a.controller = make_controller("pareto");
    a.targets = Targets{target_ms * 1.5, 0, 0, 0};
    ManagerOptions mo;
    int n = static_cast<int>(std::max(50.0, 2000.0 / target_ms));
    mo.telemetry_reserve = static_cast<size_t>(n) * 12;
    RuntimeManager m(hp, std::move(a), mo);
    float in = 0;
    std::vector<float> lg(1000);
    double bare = 0, mgr = 0;
    for (int rep = 0; rep < 10; ++rep) {  // interleaved blocks: drift hits both equally
      auto b0 = Clk::now();
      for (int i = 0; i < n; ++i) model->infer(&in, 1, 3, 224, 224, lg.data(), lg.size());
      bare += ns(Clk::now() - b0);
      auto m0 = Clk::now();
      for (int i = 0; i < n; ++i) m.infer(&in, 1, 3, 224, 224, lg.data(), lg.size());
      mgr += ns(Clk::now() - m0);
    }
    bare /= 10.0 * n * 1e6;
    mgr /= 10.0 * n * 1e6;
    std::vector<double> own;
    for (const auto& r : m.telemetry().rows()) own.push_back(r.overhead_us);
    double own_med = pct(own, 0.5);
    double own_frac = own_med / 1e3 / bare;
    t2.rows.push_back({fmt::format("{:.0f} ms", target_ms), fmt::format("{:.4f}", bare), fmt::format("{:.4f}", mgr),
                       fmt::format("{:+.2f}%", (mgr / bare - 1) * 100), fmt::format("{:.2f}", own_med), fmt::format("{:.3f}%", own_frac * 100),
                       own_frac < 0.01 ? "yes" : "no"});
  }
  std::cout << "\n## Manager overhead per inference (Platform::detect() of this machine, controller pareto, fake model burning CPU)\n\n"
            << t2.str() << "\nfiles in " << out.string() << "\n";
  bench::write_text_file_or_warn((out / "overhead.md").string(), t.str() + "\n" + t2.str());
  return 0;
} catch (const std::exception& e) {
  std::cerr << "bench_runtime_overhead: " << e.what() << "\n";
  return 1;
}
