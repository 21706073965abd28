// OFA ResNet-50 sub-networks under the runtime manager on the simulated Xavier NX: the simulator
// times a family without a latency table from its MACs, profile_model builds its operating
// points, and the manager keeps a changing latency target with them.
#include <catch2/catch.hpp>

#include "dynn/ofa_resnet50/arch.hpp"
#include "dynn/platform/simulated.hpp"
#include "dynn/profile.hpp"
#include "dynn/runtime.hpp"
#include "test_support.hpp"

using namespace dynn;
using dynn::test::error_of;
namespace rn = dynn::ofa_resnet50;

namespace {
// Three ResNet-50 sub-networks, from smallest to largest.
std::vector<std::pair<std::string, Subnet>> resnet_levels() {
  rn::Subnet mid = rn::Subnet::largest(192);
  mid.d = {0, 1, 1, 1, 1};
  mid.w = {1, 1, 1, 1, 1, 1};
  for (auto& e : mid.e) e = 0.25;
  return {{"R0", rn::Subnet::smallest(160)}, {"R1", mid}, {"R2", rn::Subnet::largest(224)}};
}
constexpr double kCpuMacsPerMs = 2.0e8;  // an assumed CPU rate at the board's reference clocks
}  // namespace

TEST_CASE("simulated model: a family without a latency table is timed from its MACs", "[families][runtime]") {
  SimulatedPlatform sim(SimBoard::xavier_nx());
  SimulatedModel::Options so;
  so.family = "ofa_resnet50";
  SimulatedModel unconfigured(sim, nullptr, so);
  CHECK(unconfigured.family() == "ofa_resnet50");
  CHECK(unconfigured.current_subnet() == Subnet(rn::Subnet::largest(224)));
  std::vector<float> x(3 * 224 * 224), y(1000);
  CHECK_THAT(error_of([&] { unconfigured.infer(x.data(), 1, 3, 224, 224, y.data(), y.size()); }, ErrorCode::Unsupported),
             Catch::Contains("no latency for the ofa_resnet50 sub-network") && Catch::Contains("macs_per_ms") &&
                 Catch::Contains("load_latency_tables"));
  CHECK_THAT(error_of([&] { unconfigured.set_subnet(SubnetConfig::largest(224)); }, ErrorCode::InvalidArgument),
             Catch::Contains("this model is ofa_resnet50"));

  so.macs_per_ms = {{"cpu", kCpuMacsPerMs}};
  SimulatedModel m(sim, nullptr, so);
  const Subnet small = rn::Subnet::smallest(160);
  m.set_subnet(small);
  const double macs = subnet_family("ofa_resnet50").published_macs(small);
  CHECK(m.subnet_info(small).macs == macs);
  CHECK(m.reference_ms(small, "cpu") == Approx(macs / kCpuMacsPerMs));
  std::vector<float> xs(3 * 160 * 160);
  const double t0 = sim.now();
  const double expect = sim.predict_latency_s(macs / kCpuMacsPerMs, "cpu");
  m.infer(xs.data(), 1, 3, 160, 160, y.data(), y.size());
  CHECK(sim.now() - t0 == Approx(expect).epsilon(0.02));
  CHECK_THAT(error_of([&] { m.infer(x.data(), 1, 3, 224, 224, y.data(), y.size()); }, ErrorCode::InvalidArgument),
             Catch::Contains("[1..4096, 3, 160, 160]"));
  // A recorded reference wins over the MAC rate.
  m.set_reference(small, "cpu", 3.0);
  CHECK(m.reference_ms(small, "cpu") == 3.0);
  CHECK_THROWS_AS(m.set_reference(SubnetConfig::largest(224), "cpu", 3.0), Error);
  SimulatedModel::Options bad = so;
  bad.macs_per_ms = {{"cpu", -1}};
  CHECK_THROWS_AS(SimulatedModel(sim, nullptr, bad), Error);
  bad.macs_per_ms = {{"npu", 1e8}};
  CHECK_THROWS_AS(SimulatedModel(sim, nullptr, bad), Error);
  // A stand-in has no BN statistics: said by name, not ignored.
  CHECK_THAT(error_of([&] { m.recalibrate_bn(small, [](std::vector<float>&, int64_t&) { return false; }); }, ErrorCode::Unsupported),
             Catch::Contains("this ofa_resnet50 model (simulated engine) has no per-sub-network BN statistics"));
  CHECK_THROWS_AS(m.set_bn_stats(small, BnStats{}), Error);
  CHECK_FALSE(m.has_bn_stats(small));
  bad = so;
  bad.family = "nope";
  CHECK_THAT(error_of([&] { SimulatedModel(sim, nullptr, bad); }, ErrorCode::InvalidArgument), Catch::Contains("unknown model family 'nope'"));
}

TEST_CASE("simulated model: without a MAC rate, the rate is calibrated on the board's MobileNetV3 table", "[families][runtime][shared]") {
  SimulatedPlatform sim(SimBoard::xavier_nx());
  load_latency_tables(sim, test::shared_path("data/dynamic_ofa/latency_lut_jetson_xavier_nx_cpu").string(),
                      test::shared_path("data/dynamic_ofa/latency_lut_jetson_xavier_nx_gpu").string());
  SimulatedModel::Options so;
  so.family = "ofa_resnet50";
  SimulatedModel m(sim, nullptr, so);
  const Subnet mbv3 = SubnetConfig::largest(224);
  for (const char* dev : {"cpu", "gpu"}) {
    const double rate = subnet_family("ofa_mbv3").published_macs(mbv3) / sim.reference_latency_ms(mbv3, dev);
    const Subnet big = rn::Subnet::largest(224);
    CHECK(m.reference_ms(big, dev) == Approx(subnet_family("ofa_resnet50").published_macs(big) / rate));
  }
  CHECK(sim.has_latency_table("gpu", "ofa_mbv3"));
  CHECK_FALSE(sim.has_latency_table("gpu", "ofa_resnet50"));
  CHECK_THAT(error_of([&] { (void)sim.reference_latency_ms(rn::Subnet::largest(224), "gpu"); }, ErrorCode::Unsupported),
             Catch::Contains("does not cover ofa_resnet50"));
}

TEST_CASE("runtime manager: OFA ResNet-50 sub-networks keep a changing latency target on the simulated board", "[families][runtime]") {
  auto sim = std::make_shared<SimulatedPlatform>(SimBoard::xavier_nx());
  SimulatedModel::Options so;
  so.family = "ofa_resnet50";
  so.macs_per_ms = {{"cpu", kCpuMacsPerMs}};
  auto model = std::make_shared<SimulatedModel>(*sim, nullptr, so);

  // Operating points: the three sub-networks x two CPU clocks, profiled on the simulator.
  const auto levels = resnet_levels();
  const auto khz = sim->knob("cpufreq.policy0.freq").values();
  REQUIRE(khz.size() >= 2);
  ProfilerOptions po;
  po.warmup = 1;
  po.repetitions = 3;
  po.supernet = "ofa_resnet50";
  const auto tasks = make_tasks(levels,
                                {{"lo", {{"cpufreq.policy0.freq", khz[khz.size() / 2]}}}, {"hi", {{"cpufreq.policy0.freq", khz.back()}}}},
                                "cpu");
  ModelProfilerHooks hooks;
  hooks.accuracy = [&](const Subnet& s) {  // an ordering only: bigger = more accurate
    for (size_t i = 0; i < levels.size(); ++i)
      if (levels[i].second == s) return 0.70 + 0.04 * static_cast<double>(i);
    return 0.0;
  };
  Profile profile = profile_model(*model, *sim, tasks, po, hooks);
  REQUIRE(profile.points.size() == 6);
  CHECK(Profile::from_json(profile.to_json()).family == "ofa_resnet50");
  for (const auto& p : profile.points) {
    CHECK(p.subnet.family() == "ofa_resnet50");
    CHECK(p.macs == subnet_family("ofa_resnet50").published_macs(p.subnet));
    CHECK(p.latency_ms > 0);
  }
  auto latency = [&](const char* id) { return profile.at(id).latency_ms; };
  REQUIRE(latency("R0@hi") < latency("R1@hi"));
  REQUIRE(latency("R1@hi") < latency("R2@hi"));
  REQUIRE(latency("R2@hi") < latency("R2@lo"));

  AppOptions a;
  a.model = model;
  a.points = profile.points;
  a.controller = make_controller("pareto", "{}");
  a.targets.latency_ms = latency("R2@hi") * 1.1;  // room for the largest, at the high clock
  a.knobs = {"cpufreq.policy0.freq"};
  RuntimeManager m(sim, std::move(a));
  std::vector<float> x, y(1000);
  auto step = [&] {
    const int r = m.plan().subnet.resolution();
    x.assign(3 * static_cast<size_t>(r) * static_cast<size_t>(r), 0.f);
    return m.infer(x.data(), 1, 3, r, r, y.data(), y.size());
  };
  for (int i = 0; i < 30; ++i) step();
  CHECK(m.point(step().point).subnet == levels[2].second);
  // A tighter target: the manager moves to a smaller ResNet-50 sub-network.
  m.set_targets(Targets{latency("R1@hi") * 1.05, 0, 0, 0});
  const size_t before = m.telemetry().size();
  for (int i = 0; i < 30; ++i) step();
  const StepResult last = step();
  CHECK(m.point(last.point).subnet != levels[2].second);
  CHECK(m.telemetry().summary(before + 2).within_target >= 0.95);
  CHECK(model->current_subnet() == m.point(last.point).subnet);

  // Points of another family are refused by name, before anything runs.
  AppOptions wrong;
  wrong.name = "wrong";
  wrong.model = model;
  OperatingPoint q;
  q.id = "mbv3";
  q.subnet = SubnetConfig::largest(224);
  q.latency_ms = 10;
  wrong.points = {q};
  wrong.controller = make_controller("pareto", "{}");
  CHECK_THAT(error_of([&] { m.add_app(std::move(wrong)); }, ErrorCode::InvalidArgument),
             Catch::Contains("point 'mbv3' (index 0) holds an ofa_mbv3 sub-network, the model is ofa_resnet50"));
}
