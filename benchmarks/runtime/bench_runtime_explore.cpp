// Exploration when the profile is wrong. The six Dynamic-OFA GPU levels run under the manager with
// a profile whose latency is off by 2x for a seeded half of the points ("optimistic": the profile
// says twice as fast; "pessimistic": twice as slow), against the same run with the right profile,
// and with a target below every level ("below the levels": only sub-networks the manager's search
// builds can meet it). Two platforms:
//  - the simulated Xavier NX (virtual time, 3 % latency noise, seeded): a level's true latency is
//    the one Dynamic-OFA recorded, a found sub-network's comes from the GPU latency table;
//  - this machine (wall clock): a fake model that burns CPU in proportion to a sub-network's MACs
//    (the largest level about 8 ms), its true latencies measured before the runs.
// Per controller and scenario, over the seeds: steps until back on target (the first step from
// which 20 in a row meet it), misses in the run, mean accuracy of the last 100 steps, searches.
// Usage: bench_runtime_explore [--out DIR] [--seeds N] [--machine-seeds N]
#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common.hpp"

using namespace dynn;

namespace {

struct Scenario {
  std::string name;
  double wrong = 1;        // factor on the profiled latency of the seeded half of the points
  bool below = false;      // target below every level
};
const std::vector<Scenario> kScenarios = {{"right profile", 1, false}, {"2x optimistic (half)", 0.5, false},
                                          {"2x pessimistic (half)", 2, false}, {"below the levels", 1, true}};

struct Policy {
  std::string label, name, params;
  bool search = true;
};
const std::vector<Policy> kControllers = {{"pareto (explore + search)", "pareto", "{}", true},
                                              {"pareto, no exploration or search", "pareto", R"({"explore": false})", false},
                                              {"dynamic-ofa", "dynamic-ofa", "{}", true}};

struct Run {
  int steps_until = -1;  // -1: never 20 in a row
  int misses = 0;
  double accuracy = 0;   // mean over the last 100 steps
  int searches = 0;
};

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The profile the controller gets: the true latencies, a seeded half of them times `wrong`.
std::vector<OperatingPoint> wrong_profile(std::vector<OperatingPoint> pts, double wrong, uint64_t seed) {
  if (wrong == 1) return pts;
  uint64_t s = seed * 7919 + 17;
  std::vector<size_t> pick;
  for (size_t i = 0; i < pts.size(); ++i)
    if (splitmix(s) & 1) pick.push_back(i);
  if (pick.empty()) pick.push_back(static_cast<size_t>(splitmix(s) % pts.size()));
  for (size_t i : pick) pts[i].latency_ms *= wrong, pts[i].latency_p90_ms *= wrong;
  return pts;
}

// Target: between the true latencies of L3 and L4, or 0.6 x the fastest level's.
double target_for(const std::vector<OperatingPoint>& truth, bool below) {
  return below ? 0.6 * truth[0].latency_ms : 0.5 * (truth[3].latency_ms + truth[4].latency_ms);
}

Run drive(RuntimeManager& m, int steps) {
  Run r;
  std::vector<char> met;
  double acc = 0;
  int acc_n = 0;
  for (int i = 0; i < steps; ++i) {
    const StepResult s = bench::infer(m);
    met.push_back(s.met ? 1 : 0);
    r.misses += !s.met;
    if (i >= steps - 100) acc += m.point(s.point).accuracy, ++acc_n;
  }
  for (int i = 0; i + 20 <= steps && r.steps_until < 0; ++i)
    if (std::all_of(met.begin() + i, met.begin() + i + 20, [](char c) { return c != 0; })) r.steps_until = i;
  r.accuracy = acc / std::max(1, acc_n);
  r.searches = m.search_status().searches;
  return r;
}

AppOptions app_for(const Policy& c, std::vector<OperatingPoint> profile, double target, std::shared_ptr<DynamicModel> model,
                   bool background) {
  AppOptions a;
  a.model = std::move(model);
  a.points = std::move(profile);
  a.controller = make_controller(c.name, c.params);
  a.targets.latency_ms = target;
  a.search.enabled = c.search;
  a.search.background = background;
  return a;
}

Run run_sim(const Policy& c, const Scenario& sc, uint64_t seed, int steps) {
  auto sim = bench::xavier(0.03, seed);
  const auto truth = bench::dofa_levels("gpu");
  auto model = bench::sim_model(*sim, truth);  // true latencies: the recorded ones
  AppOptions a = app_for(c, wrong_profile(truth, sc.wrong, seed), target_for(truth, sc.below), model, false);
  a.knobs = {"gpu.freq"};
  RuntimeManager m(bench::borrow(*sim), std::move(a));
  return drive(m, steps);
}

struct Machine {
  long iters_per_mmac = 0;
  std::vector<OperatingPoint> truth;  // the levels on "cpu" with latencies measured here
  std::shared_ptr<Platform> platform = std::make_shared<Platform>("this machine");
  std::shared_ptr<CallbackModel> model() const {
    const long k = iters_per_mmac;
    return std::make_shared<CallbackModel>([k](const Subnet& s, const std::string&, int) {
      bench::burn(static_cast<long>(static_cast<double>(k) * subnet_family(s.family()).published_macs(s) / 1e6));
    });
  }
  Machine() {
    truth = bench::dofa_levels("cpu");
    const double top = subnet_family("ofa_mbv3").published_macs(truth.back().subnet) / 1e6;
    iters_per_mmac = static_cast<long>(static_cast<double>(bench::burn_iters_for(8.0)) / top);
    auto m = model();
    for (auto& p : truth) {  // the right profile: median of 7 runs
      m->set_subnet(p.subnet);
      std::vector<double> ms;
      for (int i = 0; i < 7; ++i) {
        const double t0 = platform->now();
        float in = 0;
        m->infer(&in, 1, 3, p.subnet.resolution(), p.subnet.resolution(), bench::logits(), 1000);
        ms.push_back((platform->now() - t0) * 1e3);
      }
      std::sort(ms.begin(), ms.end());
      p.latency_ms = p.latency_p90_ms = ms[3];
    }
  }
};

Run run_machine(const Machine& w, const Policy& c, const Scenario& sc, uint64_t seed, int steps) {
  AppOptions a = app_for(c, wrong_profile(w.truth, sc.wrong, seed), target_for(w.truth, sc.below), w.model(), true);
  a.knobs = {};
  RuntimeManager m(w.platform, std::move(a));
  return drive(m, steps);
}

template <class T>
T median(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string table(const std::string& title, int steps, const std::function<Run(const Policy&, const Scenario&, uint64_t)>& run,
                  int seeds) {
  bench::Table t{{"scenario", "controller", "steps until on target (median / max)", "misses (median / max)", "accuracy, last 100 (median)",
                  "searches (median)"}};
  for (const auto& sc : kScenarios)
    for (const auto& c : kControllers) {
      std::vector<int> until, misses, searches;
      std::vector<double> acc;
      int never = 0;
      for (int s = 1; s <= seeds; ++s) {
        const Run r = run(c, sc, static_cast<uint64_t>(s));
        if (r.steps_until < 0) ++never;
        until.push_back(r.steps_until < 0 ? steps : r.steps_until);
        misses.push_back(r.misses);
        searches.push_back(r.searches);
        acc.push_back(r.accuracy);
      }
      const int mx = *std::max_element(until.begin(), until.end());
      t.rows.push_back({sc.name, c.label,
                        fmt::format("{} / {}{}", median(until), mx, never ? fmt::format(" ({} of {} never)", never, seeds) : ""),
                        fmt::format("{} / {}", median(misses), *std::max_element(misses.begin(), misses.end())),
                        fmt::format("{:.2f}%", 100 * median(acc)), fmt::format("{}", median(searches))});
    }
  return fmt::format("## {} ({} steps per run, {} seeds)\n\n{}", title, steps, seeds, t.str());
}

}  // namespace

int main(int argc, char** argv) try {
  auto out = bench::out_dir(argc, argv, "explore");
  int seeds = 10, machine_seeds = 3;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--seeds") seeds = std::max(1, std::atoi(argv[i + 1]));
    if (std::string(argv[i]) == "--machine-seeds") machine_seeds = std::max(1, std::atoi(argv[i + 1]));
  }
  std::string md = table("Simulated Xavier NX (virtual time)", 400,
                         [](const Policy& c, const Scenario& sc, uint64_t s) { return run_sim(c, sc, s, 400); }, seeds);
  std::cout << md << "\n" << std::flush;
  Machine w;
  std::string lat;
  for (const auto& p : w.truth) lat += fmt::format(" {} {:.2f} ms,", p.id, p.latency_ms);
  const std::string m2 = table("This machine (wall clock, fake model burning CPU by MACs)", 300,
                               [&](const Policy& c, const Scenario& sc, uint64_t s) { return run_machine(w, c, sc, s, 300); },
                               machine_seeds) +
                         fmt::format("\nlevels measured here:{}\n", lat.substr(0, lat.size() - 1));
  std::cout << m2;
  bench::write_text_file_or_warn((out / "explore.md").string(), md + "\n" + m2);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "bench_runtime_explore: " << e.what() << "\n";
  return 1;
}
