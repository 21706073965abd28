// Shared pieces of the runtime experiments: paths, the Dynamic-OFA levels as operating points,
// a simulated model, result tables and the output folder.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dynn/error.hpp"
#include "dynn/platform.hpp"
#include "dynn/platform/simulated.hpp"
#include "dynn/profile.hpp"
#include "dynn/runtime.hpp"

namespace bench {

inline std::filesystem::path shared_dir() {
  if (const char* e = std::getenv("DYNN_SHARED_DIR"); e && *e) return e;
  return DYNN_SHARED_DIR_DEFAULT;
}

inline std::filesystem::path shared(const std::string& rel) {
  auto p = shared_dir() / rel;
  if (!std::filesystem::exists(p))
    throw dynn::Error(dynn::ErrorCode::NotFound, fmt::format("{} is missing (set DYNN_SHARED_DIR to the shared folder)", p.string()));
  return p;
}

// --out DIR (default ./runtime-results), created.
inline std::filesystem::path out_dir(int argc, char** argv, const std::string& sub) {
  std::filesystem::path out = "runtime-results";
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--out") out = argv[i + 1];
  out /= sub;
  std::filesystem::create_directories(out);
  return out;
}

// Dynamic-OFA's six GPU levels (nets_6_levels.json): configs, recorded top-1 and latency.
inline std::vector<dynn::OperatingPoint> dofa_levels(const std::string& device = "gpu") {
  return dynn::LevelSet::load(shared("data/dynamic_ofa/nets_6_levels.json").string()).to_operating_points(device);
}

// A model whose inference is SimulatedPlatform work: a sub-network's reference latency is the
// latency recorded for it (Dynamic-OFA's measurement at the default clocks), else the LUT sum.
inline std::shared_ptr<dynn::SimulatedModel> sim_model(dynn::SimulatedPlatform& sim, const std::vector<dynn::OperatingPoint>& recorded,
                                                       bool use_recorded = true) {
  dynn::SimulatedModel::Options o;
  if (use_recorded) o.recorded = recorded;
  if (!recorded.empty()) o.device = recorded.front().device;
  return std::make_shared<dynn::SimulatedModel>(sim, nullptr, std::move(o));
}

inline std::unique_ptr<dynn::SimulatedPlatform> xavier(double noise = 0, uint64_t seed = 1,
                                                       const dynn::SimBoard& board = dynn::SimBoard::xavier_nx()) {
  dynn::SimOptions o;
  o.latency_noise = noise;
  o.seed = seed;
  auto sim = std::make_unique<dynn::SimulatedPlatform>(board, o);
  dynn::load_latency_tables(*sim, shared("data/dynamic_ofa/latency_lut_jetson_xavier_nx_cpu").string(),
                            shared("data/dynamic_ofa/latency_lut_jetson_xavier_nx_gpu").string());
  return sim;
}

// Non-owning shared_ptr (the manager takes shared ownership; the benchmark owns the platform).
template <class T>
std::shared_ptr<T> borrow(T& t) {
  return std::shared_ptr<T>(&t, [](T*) {});
}

inline float* logits() {
  static std::vector<float> v(1000);
  return v.data();
}

inline dynn::StepResult infer(dynn::RuntimeManager& m, int app = 0) {
  float in = 0;
  const auto& p = m.plan(app);
  return m.infer(&in, 1, 3, p.subnet.resolution(), p.subnet.resolution(), logits(), 1000, app);
}

// Deterministic CPU work for fake models on this machine: `iters` dependent multiply-adds.
inline void burn(long iters) {
  static volatile double sink = 0;
  double x = 1.0;
  for (long i = 0; i < iters; ++i) x = x * 1.0000001 + 1e-9;
  sink = x;
}
// Iterations of burn() that take about `ms` on this machine now (timed over >= 20 ms).
inline long burn_iters_for(double ms) {
  using Clk = std::chrono::steady_clock;
  long iters = 100000;
  for (;;) {
    const auto a = Clk::now();
    burn(iters);
    const double took = std::chrono::duration<double, std::milli>(Clk::now() - a).count();
    if (took > 20 || iters > (1L << 34)) return static_cast<long>(static_cast<double>(iters) * ms / took);
    iters *= 2;
  }
}

inline const std::vector<int64_t> kCpuKhz = {115200, 729600, 1190400, 1907200};
inline const char* kCpuKnobs[] = {"cpufreq.policy0.freq", "cpufreq.policy2.freq", "cpufreq.policy4.freq"};

// Online core counts of the hot-plug grid (nvpmodel's 2/4/6-core modes, and cpu0 alone): the
// highest-numbered cores go offline first, so whole clusters are gated.
inline const std::vector<int> kOnlineCores = {6, 4, 2, 1};

// Levels x 15 GPU x 4 CPU frequencies (the three CPU policies together), profiled on the
// simulator with dynn::Profiler: latency and whole-board energy per inference. With hotplug,
// also x kOnlineCores (every point then sets cpu1..5.online; the 6-core points keep their names,
// the others end in "_<n>cores").
inline std::vector<dynn::OperatingPoint> profile_grid(const std::vector<dynn::OperatingPoint>& levels,
                                                      const dynn::SimBoard& board = dynn::SimBoard::xavier_nx(), bool hotplug = false) {
  using namespace dynn;
  auto sim = xavier(0, 1, board);
  sim->apply({{"device", 0}});
  std::vector<std::pair<std::string, Subnet>> subnets;
  std::map<size_t, const OperatingPoint*> by_subnet;
  for (const auto& p : levels) {
    subnets.emplace_back(p.id, p.subnet);
    by_subnet[p.subnet.hash()] = &p;
  }
  std::vector<std::pair<std::string, HardwareSetting>> settings;
  const std::vector<int> online = hotplug ? kOnlineCores : std::vector<int>{0};
  for (int64_t g : sim->knob("gpu.freq").values())
    for (int64_t c : kCpuKhz)
      for (int n : online) {
        HardwareSetting hs{{"gpu.freq", g}};
        for (const char* k : kCpuKnobs) hs[k] = c;
        std::string id = fmt::format("gpu{}_cpu{}", g / 1000000, c / 1000);
        if (hotplug) {
          for (int cpu = 1; cpu < 6; ++cpu) hs[fmt::format("cpu{}.online", cpu)] = cpu < n ? 1 : 0;
          if (n < 6) id += fmt::format("_{}cores", n);
        }
        settings.emplace_back(id, hs);
      }
  ProfilerOptions po;
  po.warmup = 1;
  po.repetitions = 3;
  po.device_name = "jetson-xavier-nx (simulated)";
  ProfilerHooks hooks;
  hooks.prepare = [&](const ProfileTask& t) { sim->apply(t.hardware); };
  hooks.measure = [&](const ProfileTask& t) {
    auto r = sim->simulate_work(by_subnet.at(t.subnet.hash())->latency_ms, "gpu");
    sim->advance(0.02);  // a gap like the frames have, so the thermal state stays comparable
    return Measurement{r.latency_s, r.energy_j, std::nullopt};
  };
  hooks.accuracy = [&](const Subnet& s) { return by_subnet.at(s.hash())->accuracy; };
  Profiler prof(po, hooks);
  Profile p = prof.run(make_tasks(subnets, settings, "gpu"));
  for (auto& q : p.points) {
    q.level = by_subnet.at(q.subnet.hash())->level;
    q.accuracy_source = AccuracySource::Published;
  }
  sim->restore();
  return p.points;
}


inline void write_text_file_or_warn(const std::string& path, const std::string& text) {
  try {
    dynn::write_text_file(path, text);
  } catch (const std::exception& e) {
    fmt::print(stderr, "warning: {}\n", e.what());
  }
}

// A table printed as Markdown.
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::string str() const {
    std::string o = "| " + fmt::format("{}", fmt::join(header, " | ")) + " |\n|";
    for (size_t i = 0; i < header.size(); ++i) o += "---|";
    o += "\n";
    for (const auto& r : rows) o += "| " + fmt::format("{}", fmt::join(r, " | ")) + " |\n";
    return o;
  }
};

}  // namespace bench
