#include <cmath>

#include <catch2/catch.hpp>

#include "dynn/error.hpp"
#include "dynn/profile.hpp"
#include "test_support.hpp"

using namespace dynn;

namespace {

// A smooth synthetic "accuracy": bigger networks and resolutions score higher, with diminishing returns.
std::vector<double> toy_accuracy(const std::vector<SubnetConfig>& cs) {
  std::vector<double> out;
  for (const auto& c : cs) {
    const double m = static_cast<double>(ofa_mbv3::count_macs(c, 1.0)) / 1e6;
    double ks = 0;
    for (int k : c.ks) ks += k;
    out.push_back(0.6 + 0.2 * std::log(m) / std::log(600.0) + 1e-4 * ks);
  }
  return out;
}

EvolutionOptions small_opts(uint64_t seed) {
  EvolutionOptions o;
  o.population_size = 24;
  o.generations = 15;
  o.seed = seed;
  return o;
}

}  // namespace

TEST_CASE("evolution search respects a MAC constraint and is deterministic", "[search]") {
  EvolutionFinder f(macs_efficiency(1.0), toy_accuracy, small_opts(42));
  const Candidate a = f.search(250.0);
  CHECK(a.efficiency <= 250.0);
  CHECK(a.efficiency == Approx(ofa_mbv3::count_macs(a.subnet, 1.0) / 1e6));
  CHECK(a.accuracy == Approx(toy_accuracy({a.subnet})[0]));
  REQUIRE(f.best_history().size() == 15);
  for (size_t i = 1; i < f.best_history().size(); ++i) CHECK(f.best_history()[i] >= f.best_history()[i - 1]);
  CHECK(f.evaluated().size() == 24u * 16u);
  for (const auto& c : f.evaluated()) CHECK(c.efficiency <= 250.0);
  // Same seed, same result; the search improved on its random start.
  EvolutionFinder g(macs_efficiency(1.0), toy_accuracy, small_opts(42));
  const Candidate b = g.search(250.0);
  CHECK(b.subnet == a.subnet);
  CHECK(b.accuracy == a.accuracy);
  CHECK(a.accuracy > f.best_history().front() - 1e-12);
  const Candidate again = f.search(250.0);
  CHECK(again.subnet == a.subnet);
  // A looser constraint finds at least as good a network.
  EvolutionFinder h(macs_efficiency(1.0), toy_accuracy, small_opts(42));
  CHECK(h.search(500.0).accuracy > a.accuracy);
}

TEST_CASE("evolution search: infeasible constraints and bad options are errors", "[search]") {
  auto o = small_opts(1);
  o.max_tries = 200;
  EvolutionFinder f(macs_efficiency(1.0), toy_accuracy, o);
  CHECK_THROWS_WITH(f.search(10.0), Catch::Contains("constraint 10") && Catch::Contains("infeasible"));
  auto bad = small_opts(1);
  bad.population_size = 1;
  CHECK_THROWS_AS(EvolutionFinder(macs_efficiency(1.0), toy_accuracy, bad), Error);
  bad = small_opts(1);
  bad.resolutions.clear();
  CHECK_THROWS_AS(EvolutionFinder(macs_efficiency(1.0), toy_accuracy, bad), Error);
  CHECK_THROWS_AS(EvolutionFinder(nullptr, toy_accuracy, small_opts(1)), Error);
  EvolutionFinder wrong(macs_efficiency(1.0), [](const std::vector<SubnetConfig>&) { return std::vector<double>{1.0}; },
                        small_opts(1));
  CHECK_THROWS_WITH(wrong.search(400), Catch::Contains("returned 1 values"));
}

TEST_CASE("pareto_search sweeps constraints into one front; select_levels spreads it", "[search]") {
  EvolutionFinder f(macs_efficiency(1.0), toy_accuracy, small_opts(7));
  const auto front = pareto_search(f, {150, 250, 350, 450});
  REQUIRE(front.size() >= 4);
  for (size_t i = 1; i < front.size(); ++i) {
    CHECK(front[i].efficiency > front[i - 1].efficiency);
    CHECK(front[i].accuracy > front[i - 1].accuracy);
  }
  const auto lv = select_levels(front, 4);
  REQUIRE(lv.size() == 4);
  CHECK(lv.front().efficiency == front.front().efficiency);
  CHECK(lv.back().efficiency == front.back().efficiency);
  const auto pts = levels_to_points(lv, "gpu", 1.0);
  CHECK(pts[2].id == "L2");
  CHECK(pts[2].level == 2);
  CHECK(pts[2].macs / 1e6 == Approx(lv[2].efficiency));
}

TEST_CASE("profile_efficiency and profile_front", "[search]") {
  Profile p;
  p.supernet = "ofa_mbv3_d234_e346_k357_w1.0";
  auto add = [&](const std::string& id, SubnetConfig c, double lat, double acc, AccuracySource src) {
    OperatingPoint op;
    op.id = id;
    op.subnet = c;
    op.device = "cpu";
    op.latency_ms = lat;
    op.accuracy = acc;
    op.accuracy_source = src;
    p.add(op);
  };
  add("a", SubnetConfig::smallest(160), 5, 0.70, AccuracySource::Measured);
  add("b", SubnetConfig::largest(224), 20, 0.80, AccuracySource::Measured);
  add("c", SubnetConfig::smallest(224), 30, 0.75, AccuracySource::Measured);
  add("d", SubnetConfig::largest(160), 10, 0, AccuracySource::Unknown);
  const auto eff = profile_efficiency(p, "cpu");
  CHECK(eff(SubnetConfig::largest(224)) == 20);
  CHECK(std::isinf(eff(SubnetConfig::largest(192))));
  const auto front = profile_front(p);
  REQUIRE(front.size() == 2);  // d has no accuracy and no predictor; c is dominated
  CHECK(front[0].id == "a");
  CHECK(front[1].id == "b");
}

TEST_CASE("search with the Jetson GPU table and the predictor beats a random start", "[search][shared]") {
  const auto gpu = LatencyTable::load_dir(test::shared_path("data/dynamic_ofa/latency_lut_jetson_xavier_nx_gpu").string());
  const auto pred = AccuracyPredictor::load(test::shared_path("data/dynamic_ofa/acc_predictor.pth").string());
  auto o = small_opts(3);
  o.population_size = 30;
  o.generations = 20;
  EvolutionFinder f(latency_efficiency(gpu), predictor_accuracy(pred), o);
  const double limit = 24.79;  // nets_6 level 3 on this table
  const Candidate best = f.search(limit);
  CHECK(best.efficiency <= limit);
  CHECK(gpu.predict_ms(best.subnet) == Approx(best.efficiency));
  CHECK(pred.predict(best.subnet) == Approx(best.accuracy));
  CHECK(best.accuracy > f.best_history().front());
}
