// profile_model: Profiler hooks for any DynamicModel on any Platform. On the simulated Xavier NX
// (virtual time, energy counter, GPU DVFS) and on a plain platform with a model that fails.
#include <catch2/catch.hpp>

#include "dynn/platform/simulated.hpp"
#include "dynn/runtime.hpp"
#include "test_support.hpp"

using namespace dynn;

TEST_CASE("profile_model: sub-networks x GPU clocks on the simulator, knobs and model put back", "[runtime][profiler]") {
  SimulatedPlatform sim(SimBoard::xavier_nx());
  const SubnetConfig small = SubnetConfig::uniform(3, 3, 2, 160), big = SubnetConfig::uniform(7, 6, 4, 224);
  SimulatedModel::Options so;
  so.device = "cpu";
  auto model = std::make_shared<SimulatedModel>(sim, nullptr, so);
  model->set_reference(small, "gpu", 10.0);
  model->set_reference(big, "gpu", 40.0);
  model->set_subnet(small);
  Knob& freq = sim.knob("gpu.freq");
  const auto clocks = freq.values();
  REQUIRE(clocks.size() >= 2);
  const int64_t freq0 = freq.get(), lo = clocks[clocks.size() / 2], hi = clocks.back();
  const int threads0 = model->num_threads();

  ProfilerOptions po;
  po.warmup = 1;
  po.repetitions = 3;
  const auto tasks = make_tasks({{"small", small}, {"big", big}},
                                {{"lo", {{"gpu.freq", lo}, {"device", 0}}}, {"hi", {{"gpu.freq", hi}, {"device", 0}}}}, "gpu");
  std::vector<std::string> seen;
  ModelProfilerHooks hooks;
  hooks.accuracy = [&](const Subnet& c) { return c == big ? 0.8 : 0.7; };
  hooks.on_progress = [&](const ProfilerProgress& p) { seen.push_back(p.current); };
  const double t0 = sim.now();
  const Profile p = profile_model(*model, sim, tasks, po, hooks);
  REQUIRE(p.points.size() == 4);
  CHECK(sim.now() > t0);  // the timings are virtual time
  auto at = [&](const std::string& id) -> const OperatingPoint& {
    for (const auto& op : p.points)
      if (op.id == id) return op;
    FAIL("no point " << id);
    return p.points.front();
  };
  // The recorded latencies at the reference clock, scaled by DVFS: a faster clock is faster,
  // the bigger network slower, and every point has energy from the simulator's counter.
  CHECK(at("small@hi").latency_ms < at("small@lo").latency_ms);
  CHECK(at("big@hi").latency_ms < at("big@lo").latency_ms);
  CHECK(at("big@hi").latency_ms / at("small@hi").latency_ms == Approx(40.0 / 10.0).epsilon(0.05));  // one clock scales both
  for (const auto& op : p.points) {
    CHECK(op.device == "gpu");
    REQUIRE(op.energy_mj.has_value());
    CHECK(*op.energy_mj > 0);
    CHECK(op.accuracy == (op.subnet == big ? 0.8 : 0.7));
  }
  CHECK(seen.size() >= 4);
  // Put back: the clock, the model's device (it ran on the GPU), its threads and sub-network; the
  // device knob drives no model any more.
  CHECK(freq.get() == freq0);
  CHECK(model->device() == "cpu");
  CHECK(model->num_threads() == threads0);
  CHECK(model->current_subnet() == small);
  auto* dev = dynamic_cast<CallbackKnob*>(&sim.knob("device"));
  REQUIRE(dev);
  CHECK_FALSE(dev->bound());
}

TEST_CASE("profile_model: bad tasks are refused before anything changes; a failing model restores the knobs", "[runtime][profiler]") {
  auto plat = std::make_shared<Platform>("profiler-test");
  plat->add_knob(std::make_unique<CallbackKnob>(KnobSpec{"gpu.freq", "MHz", "", KnobType::Numeric, {}, 100, 1000, {}}, 1000));
  int runs = 0;
  CallbackModel model([&](const Subnet&, const std::string&, int) {
    if (++runs > 3) throw Error(ErrorCode::Io, "the model failed");
  });
  ProfilerOptions po;
  po.warmup = 0;
  po.repetitions = 2;
  const SubnetConfig s = SubnetConfig::smallest(128);

  auto tasks = make_tasks({{"s", s}}, {{"x", {{"no.such.knob", 1}}}});
  CHECK(dynn::test::error_of([&] { profile_model(model, *plat, tasks, po); }).find("no.such.knob") != std::string::npos);
  tasks = make_tasks({{"s", s}}, {{"a", {}}}, "tpu");
  CHECK(dynn::test::error_of([&] { profile_model(model, *plat, tasks, po); }).find("tpu") != std::string::npos);
  CHECK(runs == 0);

  tasks = make_tasks({{"s", s}}, {{"f500", {{"gpu.freq", 500}}}, {"f200", {{"gpu.freq", 200}}}});
  CHECK(dynn::test::error_of([&] { profile_model(model, *plat, tasks, po); }).find("the model failed") != std::string::npos);
  CHECK(plat->knob("gpu.freq").get() == 1000);
  CHECK_FALSE(plat->knob("gpu.freq").changed());
  // A model that works: a plain platform times on its steady clock; no energy counter, no energy.
  runs = -1000;
  const Profile ok = profile_model(model, *plat, tasks, po);
  REQUIRE(ok.points.size() == 2);
  for (const auto& op : ok.points) {
    CHECK(op.latency_ms >= 0);
    CHECK_FALSE(op.energy_mj.has_value());
  }
  CHECK(plat->knob("gpu.freq").get() == 1000);
}
