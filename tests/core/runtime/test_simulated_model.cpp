// SimulatedModel: the one model whose inference time is the simulator's (demo, C ABI simulate
// mode, benchmarks). Recorded reference latencies, latency-table fallback, a wrapped model, errors.
#include <catch2/catch.hpp>

#include "dynn/platform/simulated.hpp"
#include "dynn/runtime.hpp"
#include "test_support.hpp"

using namespace dynn;

namespace {
OperatingPoint recorded_point(const Subnet& s, const std::string& device, double ms) {
  OperatingPoint p;
  p.id = "p";
  p.subnet = s;
  p.device = device;
  p.latency_ms = ms;
  return p;
}
}  // namespace

TEST_CASE("simulated model: an inference advances virtual time by the recorded latency, per image", "[runtime]") {
  SimulatedPlatform sim;
  const SubnetConfig s = SubnetConfig::uniform(3, 3, 2, 160);
  SimulatedModel::Options o;
  o.recorded = {recorded_point(s, "gpu", 40.0)};
  o.device = "gpu";
  SimulatedModel m(sim, nullptr, o);
  m.set_subnet(s);
  const double expected_s = sim.predict_latency_s(40.0, "gpu");
  REQUIRE(expected_s > 0);
  std::vector<float> x(2 * 3 * 160 * 160), y(2000, 1.f);
  const double t0 = sim.now();
  m.infer(x.data(), 2, 3, 160, 160, y.data(), y.size());
  CHECK(sim.now() - t0 == Approx(2 * expected_s).epsilon(0.02));
  CHECK(std::all_of(y.begin(), y.end(), [](float v) { return v == 0.f; }));
  CHECK(m.inferences() == 1);

  // A point that sets hardware is not a reference measurement; neither is another device's.
  OperatingPoint pinned = recorded_point(SubnetConfig::uniform(5, 4, 3, 192), "gpu", 10.0);
  pinned.hardware["gpu.freq"] = 1;
  SimulatedModel::Options o2;
  o2.recorded = {pinned, recorded_point(s, "cpu", 5.0)};
  o2.device = "cuda:0";
  SimulatedModel m2(sim, nullptr, o2);
  CHECK(m2.device() == "gpu");  // one vocabulary: cuda:0 is the board's GPU
  m2.set_subnet(s);
  std::vector<float> x1(3 * 160 * 160), y1(1000);
  // No reference for (gpu, s) and no latency tables loaded: the error says what to call.
  const std::string msg = test::error_of([&] { m2.infer(x1.data(), 1, 3, 160, 160, y1.data(), y1.size()); });
  CHECK_THAT(msg, Catch::Contains("latency table"));
}

TEST_CASE("simulated model: refuses bad shapes, small buffers, unknown devices and bad references", "[runtime]") {
  SimulatedPlatform sim;
  SimulatedModel m(sim);
  const SubnetConfig s = SubnetConfig::uniform(3, 3, 2, 128);
  m.set_subnet(s);
  m.set_reference(s, "cpu", 3.0);
  std::vector<float> x(3 * 128 * 128), y(1000);
  CHECK_THROWS_WITH(m.infer(x.data(), 1, 3, 160, 160, y.data(), y.size()), Catch::Contains("[1..4096, 3, 128, 128]"));
  CHECK_THROWS_WITH(m.infer(x.data(), 1, 3, 128, 128, y.data(), 999), Catch::Contains("capacity 999"));
  CHECK_THROWS_WITH(m.set_device("gpu:1"), Catch::Contains("one GPU"));
  CHECK_THROWS_WITH(m.set_device("tpu"), Catch::Contains("'tpu'"));
  CHECK_THROWS_AS(m.set_reference(s, "cpu", 0), Error);
  CHECK_THROWS_AS(m.set_reference(s, "cpu", std::nan("")), Error);
  CHECK_THROWS_AS(m.set_num_threads(0), Error);
  SubnetConfig bad = s;
  bad.ks[0] = 4;
  CHECK_THROWS_AS(m.set_subnet(bad), Error);
  CHECK(m.current_subnet() == s);
  const double t0 = sim.now();
  m.infer(x.data(), 1, 3, 128, 128, y.data(), y.size());
  CHECK(sim.now() > t0);
}

TEST_CASE("simulated model: a wrapped model computes the logits and follows every switch", "[runtime]") {
  SimulatedPlatform sim;
  int runs = 0;
  auto inner = std::make_shared<CallbackModel>([&](const Subnet&, const std::string&, int) { ++runs; });
  SimulatedModel m(sim, inner);
  const SubnetConfig s = SubnetConfig::uniform(5, 6, 4, 224);
  m.set_subnet(s);
  CHECK(inner->current_subnet() == s);
  m.set_num_threads(3);
  CHECK(inner->num_threads() == 3);
  CHECK(m.num_threads() == 3);
  m.set_reference(s, "cpu", 20.0);
  std::vector<float> x(3 * 224 * 224), y(1000);
  const double t0 = sim.now();
  m.infer(x.data(), 1, 3, 224, 224, y.data(), y.size());
  CHECK(runs == 1);
  CHECK(sim.now() - t0 == Approx(sim.predict_latency_s(20.0, "cpu")).epsilon(0.02));
  CHECK(m.family() == inner->family());
}

TEST_CASE("simulated model: without a model inside it runs with the board's thread count", "[runtime]") {
  // Bound to the platform's threads knob (the first app of a manager), it must not change the
  // thread count the simulator times other apps' CPU work with.
  SimulatedPlatform sim;
  const int64_t board_threads = sim.knob("threads").get();
  REQUIRE(board_threads > 1);
  SimulatedModel m(sim, nullptr);
  CHECK(m.num_threads() == board_threads);
  m.set_num_threads(1);
  CHECK(m.num_threads() == 1);
}
