// The manager on the simulated Xavier NX with Dynamic-OFA's published levels (reads ../shared).
#include <catch2/catch.hpp>

#include "dynn/platform/simulated.hpp"
#include "dynn/profile.hpp"
#include "runtime_fixtures.hpp"
#include "test_support.hpp"

using namespace dynn;

namespace {
struct Scenario {
  Telemetry telemetry;
  size_t onset = 0;
};

// 60 ms, GPU co-runner (x1.33) from 2.5 s; levels run as simulated work of their recorded latency.
Scenario run(const std::string& controller, const std::string& params) {
  auto sim = std::make_shared<SimulatedPlatform>();
  sim->apply({{"gpu.freq", 1109250000}});
  sim->add_interference({SimInterference::Target::Gpu, 2.5, 100, 0.25});
  auto pts = LevelSet::load(test::shared_path("data/dynamic_ofa/nets_6_levels.json").string()).to_operating_points("gpu");
  AppOptions a;
  SimulatedModel::Options timing;
  timing.recorded = pts;
  timing.device = "gpu";
  a.model = std::make_shared<SimulatedModel>(*sim, nullptr, timing);
  a.points = pts;
  a.controller = make_controller(controller, params);
  a.targets = Targets{60, 0, 0, 0};
  a.knobs = {"gpu.freq"};
  RuntimeManager m(sim, std::move(a));
  std::vector<float> logits(1000);
  std::vector<float> px;
  while (sim->now() < 10) {
    const int r = m.plan().subnet.resolution();  // the model checks the input against the sub-network
    px.assign(3 * static_cast<size_t>(r) * r, 0.f);
    m.infer(px.data(), 1, 3, r, r, logits.data(), logits.size());
  }
  Scenario s{m.telemetry(), 0};
  while (s.onset < s.telemetry.size() && s.telemetry.rows()[s.onset].time_s < 2.5) ++s.onset;
  return s;
}
}  // namespace

TEST_CASE("simulated Dynamic-OFA scenario: pareto recovers in two inferences, dynamic-ofa in dozens", "[runtime][shared]") {
  auto p = run("pareto", "{}");
  CHECK(p.telemetry.summary().within_target >= 0.98);
  // The co-runner's first slow inference is taken for a spike, the second is followed at once.
  auto after = p.telemetry.summary(p.onset + 3);
  CHECK(after.misses == 0);
  CHECK(p.telemetry.rows()[p.onset + 3].level == 0);  // only L0 fits 60 ms under the co-runner
  CHECK(p.telemetry.rows()[p.onset - 1].level == 4);  // L4 before it (L5 is 61.7 ms)
  auto d = run("dynamic-ofa", R"({"initial_level": 4})");
  auto tail = d.telemetry.summary(d.onset, d.onset + 60);
  CHECK(tail.misses > 30);  // the published policy needs its 20-image window, and 21 images per level
  CHECK(d.telemetry.rows().back().level <= 1);  // on its way down, one level per window
}
