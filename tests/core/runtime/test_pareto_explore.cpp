// pareto's exploration: a slowdown that hits one hardware setting only (a competing load on the
// CPUs of the two-thread points) is escaped by trying the other setting, in virtual time.
#include <catch2/catch.hpp>

#include "dynn/platform/knob.hpp"
#include "runtime_fixtures.hpp"

using namespace dynn;

namespace {

struct World {
  std::shared_ptr<VirtualClock> clock = std::make_shared<VirtualClock>();
  std::shared_ptr<Platform> platform = std::make_shared<Platform>("explore", clock);
  double t2_slowdown = 1;  // the competing load: only the two-thread points feel it
  std::shared_ptr<CallbackModel> model;
  std::unique_ptr<RuntimeManager> manager;

  explicit World(const std::string& params) {
    platform->add_knob(std::make_unique<CallbackKnob>(KnobSpec{"threads", "threads", "", KnobType::Numeric, {}, 1, 2, {}}, 2));
    // Profiled: L0..L3 at 2 threads 6/8/10/12 ms, at 1 thread 9/12/15/18 ms; target 14 ms.
    model = std::make_shared<CallbackModel>([this](const Subnet& s, const std::string&, int threads) {
      const double base = 6.0 + (s.resolution() - 160) / 8 * 2.0;  // level_points: r = 160 + 8 * level
      clock->sleep((threads == 2 ? base * t2_slowdown : base * 1.5) / 1000.0);
    });
    auto t2 = test::level_points({6, 8, 10, 12}, {0.74, 0.75, 0.76, 0.77}, "cpu");
    auto t1 = test::level_points({9, 12, 15, 18}, {0.74, 0.75, 0.76, 0.77}, "cpu");
    std::vector<OperatingPoint> pts;
    for (auto& p : t2) p.id += "/t2", p.hardware = {{"threads", 2}}, pts.push_back(p);
    for (auto& p : t1) p.id += "/t1", p.hardware = {{"threads", 1}}, pts.push_back(p);
    AppOptions a;
    a.model = model;
    a.points = pts;
    a.knobs = {"threads"};
    a.controller = make_controller("pareto", params);
    a.targets.latency_ms = 14;
    manager = std::make_unique<RuntimeManager>(platform, std::move(a));
  }
  StepResult step() {
    const OperatingPoint& p = manager->plan();
    std::vector<float> x(3 * static_cast<size_t>(p.subnet.resolution()) * static_cast<size_t>(p.subnet.resolution())), y(1000);
    return manager->infer(x.data(), 1, 3, p.subnet.resolution(), p.subnet.resolution(), y.data(), y.size());
  }
  const OperatingPoint& current() { return manager->point(manager->decision().point); }
};

}  // namespace

TEST_CASE("pareto explores another thread count when every point it believes in misses", "[runtime][explore]") {
  World w("{}");
  for (int i = 0; i < 20; ++i) w.step();
  CHECK(w.current().id == "L3/t2");  // 12 ms: the most accurate point that fits 14 ms
  w.t2_slowdown = 3;                 // two-thread points: 18..36 ms now; one-thread ones unaffected
  int misses = 0;
  for (int i = 0; i < 200; ++i) misses += !w.step().met;
  INFO("misses in the 200 steps after the slowdown: " << misses);
  CHECK(misses <= 6);                           // the first slow step, a probe or two, and one retry of t2 per exploration
  CHECK(w.current().hardware.at("threads") == 1);
  CHECK(w.manager->telemetry().summary(20).within_target >= 0.97);
  CHECK(w.manager->telemetry().summary(120).switches <= 6);  // steady: no ping-pong between t1 and t2
  // The load goes: the two-thread points come back once the exploration has aged out.
  w.t2_slowdown = 1;
  for (int i = 0; i < 300; ++i) w.step();
  CHECK(w.current().hardware.at("threads") == 2);
  CHECK(w.manager->telemetry().summary(w.manager->telemetry().size() - 50).within_target == 1.0);
}

TEST_CASE("pareto without exploration stays on the slowed-down setting", "[runtime][explore]") {
  World w(R"({"explore": false})");
  for (int i = 0; i < 20; ++i) w.step();
  w.t2_slowdown = 3;
  for (int i = 0; i < 100; ++i) w.step();
  CHECK(w.current().hardware.at("threads") == 2);  // the device's correction alone cannot tell the settings apart
  CHECK(w.manager->telemetry().summary(40).within_target < 0.1);
}
