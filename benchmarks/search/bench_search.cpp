// Search vs Dynamic-OFA levels. For each of Dynamic-OFA's published nets_6 levels, search (OFA's
// EvolutionFinder settings: population 100, 500 generations, mutate_prob 0.1) for the most
// accurate sub-network whose Jetson Xavier NX GPU table latency is <= that level's table latency,
// and compare the predicted accuracies. Then pick 6 levels spread along the whole front.
//   bench_search [--shared DIR] [--seed S] [--generations G] [--population P] [--out levels.json]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "dynn/error.hpp"
#include "dynn/profile.hpp"

using namespace dynn;

int main(int argc, char** argv) {
  std::string shared = std::getenv("DYNN_SHARED_DIR") ? std::getenv("DYNN_SHARED_DIR") : DYNN_SHARED_DIR_DEFAULT;
  EvolutionOptions o;  // OFA defaults
  std::string out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) { std::fprintf(stderr, "%s needs a value\n", a.c_str()); std::exit(2); }
      return argv[++i];
    };
    if (a == "--shared") shared = val();
    else if (a == "--seed") o.seed = std::stoull(val());
    else if (a == "--generations") o.generations = std::stoi(val());
    else if (a == "--population") o.population_size = std::stoi(val());
    else if (a == "--out") out = val();
    else { std::fprintf(stderr, "usage: bench_search [--shared DIR] [--seed S] [--generations G] [--population P] [--out FILE]\n"); return 2; }
  }
  try {
    const std::string d = shared + "/data/dynamic_ofa";
    const LatencyTable gpu = LatencyTable::load_dir(d + "/latency_lut_jetson_xavier_nx_gpu");
    const AccuracyPredictor pred = AccuracyPredictor::load(d + "/acc_predictor.pth");
    const LevelSet dofa = LevelSet::load(d + "/nets_6_levels.json");
    o.resolutions = gpu.resolutions();  // 160..224 step 4, what the table covers
    EvolutionFinder finder(latency_efficiency(gpu), predictor_accuracy(pred), o);
    const ofa_mbv3::Arch arch(1.2);

    fmt::print("Search vs Dynamic-OFA nets_6 levels (Jetson Xavier NX GPU look-up table, OFA accuracy predictor)\n");
    fmt::print("search: population {}, generations {}, mutate_prob {}, seed {}, resolutions {}..{} step 4\n\n",
               o.population_size, o.generations, o.mutate_prob, o.seed, o.resolutions.front(), o.resolutions.back());
    fmt::print("| level | D-OFA r | D-OFA LUT ms | D-OFA pred. top-1 | dynn r | dynn LUT ms | dynn pred. top-1 | gain (pts) | dynn MMACs | search s |\n");
    fmt::print("|---|---|---|---|---|---|---|---|---|---|\n");
    std::vector<Candidate> pool;
    int wins = 0;
    for (const auto& L : dofa.levels) {
      const double lat = gpu.predict_ms(L.subnet);
      const double acc = pred.predict(L.subnet);
      const auto t0 = std::chrono::steady_clock::now();
      const Candidate c = finder.search(lat);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const auto f = pareto_candidates(finder.evaluated());
      pool.insert(pool.end(), f.begin(), f.end());
      const bool ok = c.efficiency <= lat && c.accuracy >= acc;
      wins += ok;
      fmt::print("| {} | {} | {:.2f} | {:.4f} | {} | {:.2f} | {:.4f} | {:+.2f} | {:.1f} | {:.1f} |\n", L.level, L.subnet.r, lat, acc,
                 c.subnet.r, c.efficiency, c.accuracy, (c.accuracy - acc) * 100, arch.macs(c.subnet) / 1e6, secs);
    }
    fmt::print("\n{} of {} levels matched or beaten at equal or lower table latency\n", wins, dofa.levels.size());

    const auto front = pareto_candidates(pool);
    const auto levels = select_levels(front, 6);
    fmt::print("\nfront from the six searches: {} sub-networks; 6 levels spread along it:\n\n", front.size());
    fmt::print("| level | LUT ms | pred. top-1 | MMACs | config |\n|---|---|---|---|---|\n");
    LevelSet ls;
    ls.supernet = "ofa_mbv3_d234_e346_k357_w1.2";
    ls.source = fmt::format("bench_search seed {} (top1_percent = predictor x 100, latency_ms = Jetson GPU table sum)", o.seed);
    for (size_t i = 0; i < levels.size(); ++i) {
      const auto& c = levels[i];
      fmt::print("| {} | {:.2f} | {:.4f} | {:.1f} | `{}` |\n", i, c.efficiency, c.accuracy, arch.macs(c.subnet) / 1e6, c.subnet.to_string());
      ls.levels.push_back({static_cast<int>(i), c.subnet, c.accuracy * 100, c.efficiency});
    }
    for (const auto& c : levels) fmt::print("{}\n", c.subnet.to_json());
    if (!out.empty()) ls.save(out);
    return wins == static_cast<int>(dofa.levels.size()) ? 0 : 3;
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_search: %s\n", e.what());
    return 1;
  }
}
