// dynn-profile: latency tables, accuracy prediction, Pareto search and profiling.
//   dynn-profile --help | <subcommand> --help
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "../common/cli.hpp"
#include "dynn/error.hpp"
#include "dynn/profile.hpp"
#ifdef DYNN_PROFILE_HAVE_MODEL
#include "model_profile.hpp"
#endif

#if __has_include("dynn/platform/simulated.hpp")
#include "dynn/platform/simulated.hpp"
#define DYNN_PROFILE_HAVE_SIM 1
#endif

using namespace dynn;

namespace {

const char* kUsage = R"(dynn-profile: look-up tables, accuracy prediction, Pareto search and profiling

usage: dynn-profile <subcommand> [options]     (dynn-profile <subcommand> --help for details)

subcommands:
  lut       predict a sub-network's latency from a per-layer look-up table directory
  predict   accuracy (OFA predictor) and exact MACs of a sub-network
  search    evolutionary search: best sub-network under a constraint, or N levels along a front
  profile   measure sub-networks x hardware settings (simulated board) into a Profile / look-up table

sub-networks are given as --config "ks=<20 digits> e=<20 digits> d=<5 digits> r=<res>" (or OFA
JSON), repeated, or --levels FILE (Dynamic-OFA nets_*_levels.json format).
)";

const char* kLutHelp = R"(dynn-profile lut --table DIR (--config C ... | --levels FILE) [--width 1.2] [--breakdown]
  DIR holds {r}_lookup_table.json files (OFA / Dynamic-OFA format, ms). Prints the sum per config.
)";
const char* kPredictHelp = R"(dynn-profile predict [--predictor acc_predictor.pth] (--config C ... | --levels FILE) [--width 1.2]
  Prints the exact MACs for the width multiplier and, with --predictor, the predicted top-1.
)";
const char* kSearchHelp = R"(dynn-profile search --predictor PTH (--table DIR | --macs) [options]
  --constraint X        one search: best sub-network with latency (ms) / MACs (M) <= X
  --constraints a,b,..  sweep: Pareto front over all runs (default: 12 steps between the
                        smallest and largest sub-network's cost)
  --levels N            pick N levels spread along the front (default 6)
  --out FILE            write the levels (nets_*_levels.json format, predicted top-1 %)
  --profile-out FILE    write the levels as a Profile (device from --device, default "gpu")
  --seed S --population P --generations G --mutate-prob M --resolutions 160,176,...
  --width W             width multiplier for MACs (default 1.2)
)";
const char* kProfileHelp = R"(dynn-profile profile (--config C ... | --levels FILE) (--weights FILE | --random W | --cpu-table DIR [--gpu-table DIR]) [options]
  With --weights (a checkpoint of either family, detected) or --random W (a random OFA MobileNetV3
  supernet of width W): measures the real model on this machine (CPU); --threads N sets its
  intra-op threads, --lut-out DIR with --resolutions R,R,... also times every layer into a look-up
  table (MobileNetV3). An OFA ResNet-50 checkpoint takes --config largest[@r] | smallest[@r] | JSON.
  Otherwise profiles on the simulated board (SimulatedPlatform, latency model from the tables):
  --board NAME          xavier-nx (default) | odroid-xu3
  --device cpu|gpu      where inference runs (default gpu when a GPU table is given)
  --setting NAME=K=V,K=V  a hardware setting (knob values), repeatable; default: as the board is
  --warmup N --reps N --outlier-k K
  --out FILE            Profile JSON (resumes if it exists)
  --lut-out DIR         also time every layer (first setting) and write a look-up table there
  --noise X             relative latency jitter of the simulator (default 0.02)
  --predictor PTH       fill predicted accuracy
  --no-progress         no progress bar
)";

using demo::Args;

// A comma-separated list of numbers, each checked like a single option value.
std::vector<double> num_list(const std::string& s, const char* what, double lo, double hi) {
  std::vector<double> v;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) v.push_back(dynn::parse_double(tok, fmt::format("--{} item '{}'", what, tok), lo, hi));
  if (v.empty()) throw Error(ErrorCode::InvalidArgument, fmt::format("--{}: empty list", what));
  return v;
}
std::vector<int> int_list(const std::string& s, const char* what, int lo, int hi) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) v.push_back(static_cast<int>(dynn::parse_int(tok, fmt::format("--{} item '{}'", what, tok), lo, hi)));
  if (v.empty()) throw Error(ErrorCode::InvalidArgument, fmt::format("--{}: empty list", what));
  return v;
}

// Every output path is checked before the (possibly long) work starts.
void check_outputs(const Args& a, std::initializer_list<const char*> files, std::initializer_list<const char*> dirs) {
  for (const char* f : files)
    if (a.has(f)) demo::check_output_file(a.get(f), fmt::format("--{}", f));
  for (const char* d : dirs)
    if (a.has(d)) demo::check_output_dir(a.get(d), fmt::format("--{}", d));
}

// Named sub-networks from --config / --levels.
std::vector<std::pair<std::string, SubnetConfig>> subnets(const Args& a, LevelSet* levels_out = nullptr) {
  std::vector<std::pair<std::string, SubnetConfig>> out;
  if (a.has("levels")) {
    const LevelSet s = LevelSet::load(a.get("levels"));
    for (const auto& L : s.levels) out.emplace_back(fmt::format("L{}", L.level), L.subnet);
    if (levels_out) *levels_out = s;
  }
  int i = 0;
  for (const auto& c : a.all("config")) out.emplace_back(fmt::format("C{}", i++), SubnetConfig::parse(c));
  if (out.empty()) throw Error(ErrorCode::InvalidArgument, "no sub-network given: use --config or --levels");
  return out;
}
// The same as family-tagged sub-networks (profile tasks).
std::vector<std::pair<std::string, Subnet>> tagged(const std::vector<std::pair<std::string, SubnetConfig>>& named) {
  return {named.begin(), named.end()};
}

int cmd_lut(const Args& a) {
  if (a.has("help")) return std::printf("%s", kLutHelp), 0;
  if (!a.has("table")) throw Error(ErrorCode::InvalidArgument, "lut: --table DIR is required");
  const LatencyTable t = LatencyTable::load_dir(a.get("table"), a.number("width", 1.2, 0.1, 4));
  for (const auto& [name, c] : subnets(a)) {
    fmt::print("{}  {}  {:.3f} ms\n", name, c.to_string(), t.predict_ms(c));
    if (a.has("breakdown"))
      for (const auto& [k, v] : t.breakdown(c)) fmt::print("    {:9.4f}  {}\n", v, k);
  }
  return 0;
}

int cmd_predict(const Args& a) {
  if (a.has("help")) return std::printf("%s", kPredictHelp), 0;
  const double w = a.number("width", 1.2, 0.1, 4);
  const ofa_mbv3::Arch arch(w);
  std::optional<AccuracyPredictor> pred;
  if (a.has("predictor")) pred = AccuracyPredictor::load(a.get("predictor"));
  LevelSet lv;
  for (const auto& [name, c] : subnets(a, &lv)) {
    fmt::print("{}  {}  MACs {} ({:.1f} M, w{})", name, c.to_string(), arch.macs(c), arch.macs(c) / 1e6, w);
    if (pred) fmt::print("  predicted top-1 {:.4f}", pred->predict(c));
    fmt::print("\n");
  }
  return 0;
}

int cmd_search(const Args& a) {
  if (a.has("help")) return std::printf("%s", kSearchHelp), 0;
  if (!a.has("predictor")) throw Error(ErrorCode::InvalidArgument, "search: --predictor PTH is required");
  if (a.has("table") == a.has("macs")) throw Error(ErrorCode::InvalidArgument, "search: give exactly one of --table DIR or --macs");
  const double w = a.number("width", 1.2, 0.1, 4);
  EvolutionOptions o;
  o.seed = static_cast<uint64_t>(a.integer("seed", 1, 0, 1 << 30));
  o.population_size = a.integer("population", 100, 2, 1000000);
  o.generations = a.integer("generations", 500, 1, 10000000);
  o.mutate_prob = a.number("mutate-prob", 0.1, 0, 1);
  const size_t level_count = static_cast<size_t>(a.integer("levels", 6, 1, 1000));
  std::optional<double> constraint;
  if (a.has("constraint")) constraint = a.number("constraint", 0, 0, 1e12);
  std::vector<double> cons;
  if (a.has("constraints")) cons = num_list(a.get("constraints"), "constraints", 0, 1e12);
  std::vector<int> resolutions;
  if (a.has("resolutions")) resolutions = int_list(a.get("resolutions"), "resolutions", 1, 100000);
  check_outputs(a, {"out", "profile-out"}, {});
  const AccuracyPredictor pred = AccuracyPredictor::load(a.get("predictor"));
  std::optional<LatencyTable> table;
  EfficiencyFn eff;
  if (a.has("table")) {
    table = LatencyTable::load_dir(a.get("table"), w);
    eff = latency_efficiency(*table);
    o.resolutions = table->resolutions();
  } else {
    eff = macs_efficiency(w);
  }
  if (!resolutions.empty()) o.resolutions = resolutions;
  const char* unit = table ? "ms" : "M MACs";
  EvolutionFinder f(eff, predictor_accuracy(pred), o);
  if (constraint) {
    const Candidate c = f.search(*constraint);
    fmt::print("best under {} {}: {}  cost {:.3f} {}  predicted top-1 {:.4f}  MACs {:.1f} M\n", a.get("constraint"), unit,
               c.subnet.to_string(), c.efficiency, unit, c.accuracy, ofa_mbv3::count_macs(c.subnet, w) / 1e6);
    return 0;
  }
  if (cons.empty()) {
    double lo = 1e300, hi = 0;
    for (int r : o.resolutions) {
      lo = std::min(lo, eff(SubnetConfig::smallest(r)));
      hi = std::max(hi, eff(SubnetConfig::largest(r)));
    }
    for (int i = 0; i < 12; ++i) cons.push_back(lo + (hi - lo) * (i + 1) / 12.0);
  }
  const auto front = pareto_search(f, cons);
  const auto levels = select_levels(front, level_count);
  fmt::print("front: {} sub-networks; levels:\n", front.size());
  fmt::print("{:>5} {:>10} {:>9} {:>9}  {}\n", "level", unit, "top-1", "MMACs", "config");
  LevelSet out;
  out.supernet = ofa_mbv3::supernet_name(w);
  out.source = fmt::format("dynn-profile search (seed {}, population {}, generations {}; top1_percent = predictor x 100; latency_ms = {})",
                           o.seed, o.population_size, o.generations, table ? "table sum" : "MACs in millions");
  for (size_t i = 0; i < levels.size(); ++i) {
    const auto& c = levels[i];
    fmt::print("{:>5} {:>10.3f} {:>9.4f} {:>9.1f}  {}\n", i, c.efficiency, c.accuracy, ofa_mbv3::count_macs(c.subnet, w) / 1e6,
               c.subnet.to_string());
    out.levels.push_back({static_cast<int>(i), c.subnet, c.accuracy * 100, c.efficiency});
  }
  if (a.has("out")) out.save(a.get("out"));
  if (a.has("profile-out")) {
    Profile p;
    p.device_name = table ? table->name() : "macs";
    p.supernet = out.supernet;
    p.notes = out.source;
    p.points = levels_to_points(levels, a.get("device", "gpu"), w);
    p.save(a.get("profile-out"));
  }
  return 0;
}

HardwareSetting parse_setting(const std::string& s) {
  HardwareSetting hw;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    const auto eq = tok.find('=');
    if (eq == std::string::npos || eq == 0) throw Error(ErrorCode::InvalidArgument, fmt::format("--setting: '{}' is not knob=value", tok));
    const std::string knob = tok.substr(0, eq);
    if (hw.count(knob)) throw Error(ErrorCode::InvalidArgument, fmt::format("--setting '{}': knob '{}' given twice", s, knob));
    hw[knob] = dynn::parse_int(tok.substr(eq + 1), fmt::format("--setting: value of '{}'", knob), INT64_MIN, INT64_MAX);
  }
  return hw;
}

int cmd_profile(const Args& a) {
  if (a.has("help")) return std::printf("%s", kProfileHelp), 0;
  if (a.has("weights") || a.has("random")) {
#ifdef DYNN_PROFILE_HAVE_MODEL
    ModelProfileOptions o;
    o.weights = a.get("weights");
    o.width = a.number("random", 1.0, 0.25, 4);
    o.threads = a.has("threads") ? a.threads("threads") : 0;
    o.mbv3_subnets = [&a] { return tagged(subnets(a)); };
    o.configs = a.all("config");
    o.have_levels = a.has("levels");
    o.profiler.warmup = a.integer("warmup", 5, 0, 100000);
    o.profiler.repetitions = a.integer("reps", 30, 1, 1000000);
    o.profiler.outlier_k = a.number("outlier-k", 5, 0, 1e6);
    check_outputs(a, {"out"}, {"lut-out"});
    o.profiler.output_path = a.get("out");
    o.profiler.progress_bar = !a.has("no-progress");
    o.predictor = a.get("predictor");
    o.lut_out = a.get("lut-out");
    if (!o.lut_out.empty())
      o.lut_resolutions = int_list(a.get("resolutions", "224"), "resolutions", 1, 100000);
    return profile_model(o);
#else
    throw Error(ErrorCode::Unsupported, "profile: this build has no LibTorch model (configure with DYNN_WITH_TORCH=ON)");
#endif
  }
#ifndef DYNN_PROFILE_HAVE_SIM
  throw Error(ErrorCode::Unsupported, "profile: this build has no simulated platform; profile real models through the C++ API");
#else
  if (!a.has("cpu-table")) throw Error(ErrorCode::InvalidArgument, "profile: --cpu-table DIR is required (latency model of the simulator)");
  SimOptions so;
  so.latency_noise = a.number("noise", 0.02, 0, 10);
  std::vector<std::pair<std::string, HardwareSetting>> settings;
  int i = 0;
  for (const auto& s : a.all("setting")) settings.emplace_back(fmt::format("S{}", i++), parse_setting(s));
  if (settings.empty()) settings.emplace_back("", HardwareSetting{});
  auto sim = SimulatedPlatform::create(a.get("board", "xavier-nx"), so);
  load_latency_tables(*sim, a.get("cpu-table"), a.get("gpu-table"));
  const std::string device = a.get("device", a.has("gpu-table") ? "gpu" : "cpu");
  ProfilerOptions po;
  po.warmup = a.integer("warmup", 5, 0, 100000);
  po.repetitions = a.integer("reps", 30, 1, 1000000);
  po.outlier_k = a.number("outlier-k", 5, 0, 1e6);
  check_outputs(a, {"out"}, {"lut-out"});
  po.output_path = a.get("out");
  po.progress_bar = !a.has("no-progress");
  po.device_name = fmt::format("{} (simulated, {})", sim->board().name, device);
  po.supernet = "ofa_mbv3_d234_e346_k357_w1.2";
  ProfilerHooks h;
  h.prepare = [&](const ProfileTask& t) { sim->apply(t.hardware); };
  h.measure = [&](const ProfileTask& t) {
    const SimInference r = sim->simulate_inference(t.subnet, t.device);
    return Measurement{r.latency_s, r.energy_j, r.avg_power_w};
  };
  std::optional<AccuracyPredictor> pred;
  if (a.has("predictor")) {
    pred = AccuracyPredictor::load(a.get("predictor"));
    h.accuracy = [&](const Subnet& s) { return pred->predict(s); };
  }
  Profiler prof(po, h);
  const Profile p = prof.run(make_tasks(tagged(subnets(a)), settings, device));
  fmt::print("{:<16} {:>10} {:>10} {:>10} {:>8}  {}\n", "id", "median ms", "p90 ms", "energy mJ", "top-1", "setting");
  for (const auto& op : p.points) {
    std::string hw;
    for (const auto& [k, v] : op.hardware) hw += fmt::format("{}{}={}", hw.empty() ? "" : ",", k, v);
    fmt::print("{:<16} {:>10.3f} {:>10.3f} {:>10.2f} {:>8.4f}  {}\n", op.id, op.latency_ms, op.latency_p90_ms,
               op.energy_mj.value_or(0), op.accuracy, hw.empty() ? "(as is)" : hw);
  }
  if (a.has("lut-out")) {
    // A table for the first setting: every layer's reference time run through the simulator.
    sim->apply(settings.front().second);
    const LatencyTable ref = LatencyTable::load_dir(device == "gpu" ? a.get("gpu-table") : a.get("cpu-table"));
    LatencyTable out(1.2, po.device_name);
    for (int r : ref.resolutions()) {
      const auto& tr = ref.table(r);
      const LatencyTable one = prof.run_layers({r}, 1.2, [&](const LayerSpec& l) {
        auto it = tr.find(l.key());
        if (it == tr.end()) throw Error(ErrorCode::NotFound, fmt::format("reference table r={} has no '{}'", r, l.key()));
        return sim->simulate_work(it->second.mean, device).latency_s;
      });
      for (const auto& [k, e] : one.table(r)) out.set(r, k, e);
    }
    out.save_dir(a.get("lut-out"));
    fmt::print("wrote look-up table for {} resolutions to {}\n", out.resolutions().size(), a.get("lut-out"));
  }
  sim->restore();
  return 0;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" || std::string(argv[1]) == "help") {
    std::printf("%s", kUsage);
    return argc < 2 ? demo::kExitInput : 0;
  }
  return demo::run_tool("dynn-profile", [&] {
    const std::string cmd = argv[1];
    const std::set<std::string> common = {"config", "levels", "width"};
    auto with = [&](std::initializer_list<const char*> extra) {
      std::set<std::string> s = common;
      for (auto* e : extra) s.insert(e);
      return s;
    };
    // argv[1] is the subcommand; its options follow.
    auto parse = [&](const std::set<std::string>& valued, const std::set<std::string>& flags) {
      Args a(argc - 1, argv + 1, valued, flags);
      if (!a.positional.empty()) throw Error(ErrorCode::InvalidArgument, fmt::format("unexpected argument '{}'", a.positional[0]));
      return a;
    };
    if (cmd == "lut") return cmd_lut(parse(with({"table"}), {"help", "breakdown"}));
    if (cmd == "predict") return cmd_predict(parse(with({"predictor"}), {"help"}));
    if (cmd == "search")
      return cmd_search(parse(with({"predictor", "table", "constraint", "constraints", "levels", "out", "profile-out", "seed", "population",
                                    "generations", "mutate-prob", "resolutions", "device"}),
                              {"help", "macs"}));
    if (cmd == "profile")
      return cmd_profile(parse(with({"cpu-table", "gpu-table", "board", "device", "setting", "warmup", "reps", "outlier-k", "out", "lut-out",
                                     "noise", "predictor", "weights", "random", "threads", "resolutions"}),
                               {"help", "no-progress"}));
    std::fprintf(stderr, "dynn-profile: unknown subcommand '%s'\n\n%s", cmd.c_str(), kUsage);
    return demo::kExitInput;
  });
}
