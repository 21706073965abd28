#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "dynn/error.hpp"
#include "dynn/profile.hpp"
#include "test_support.hpp"

using namespace dynn;
using nlohmann::json;

namespace {

OperatingPoint make_point(const std::string& id, double lat, double acc, std::optional<double> energy = std::nullopt) {
  OperatingPoint p;
  p.id = id;
  p.subnet = SubnetConfig::smallest(160);
  p.device = "cpu";
  p.hardware = {{"cpu_freq_khz", 1200000}, {"threads", 2}};
  p.latency_ms = lat;
  p.latency_p90_ms = lat * 1.1;
  p.accuracy = acc;
  p.accuracy_source = AccuracySource::Predicted;
  p.energy_mj = energy;
  p.macs = 1e8;
  return p;
}

Profile sample_profile() {
  Profile p;
  p.device_name = "test-device";
  p.supernet = "ofa_mbv3_d234_e346_k357_w1.2";
  p.created = "2024-01-01T00:00:00Z";
  p.add(make_point("a", 10, 0.70, 5.0));
  auto b = make_point("b", 20, 0.80);
  b.subnet = SubnetConfig::largest(224);
  b.power_w = 3.5;
  b.level = 2;
  b.accuracy_source = AccuracySource::Measured;
  p.add(b);
  return p;
}

std::string expect_parse_error(const std::string& text) {
  try {
    Profile::from_json(text);
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("no error for: " << text);
  return {};
}

}  // namespace

TEST_CASE("Profile JSON round trip keeps every field", "[profile]") {
  const Profile p = sample_profile();
  const Profile q = Profile::from_json(p.to_json());
  REQUIRE(q.points.size() == 2);
  CHECK(q.device_name == "test-device");
  CHECK(q.supernet == p.supernet);
  CHECK(q.created == p.created);
  const auto& b = q.at("b");
  CHECK(b.subnet == SubnetConfig::largest(224));
  CHECK(b.power_w.value() == 3.5);
  CHECK(!b.energy_mj.has_value());
  CHECK(b.level == 2);
  CHECK(b.accuracy_source == AccuracySource::Measured);
  CHECK(b.hardware.at("cpu_freq_khz") == 1200000);
  CHECK(q.at("a").energy_mj.value() == 5.0);
  CHECK(q.at("a").latency_p90_ms == Approx(11.0));
  CHECK(q.to_json() == p.to_json());
}

TEST_CASE("Profile save/load and lookups", "[profile]") {
  test::TempDir dir("profile-save");
  const auto path = (dir.path / "p.json").string();
  Profile p = sample_profile();
  p.created.clear();
  p.save(path);
  const Profile q = Profile::load(path);
  CHECK(q.created.size() == 20);  // filled in on save
  CHECK(q.find("a") != nullptr);
  CHECK(q.find("zzz") == nullptr);
  CHECK_THROWS_WITH(q.at("zzz"), Catch::Contains("zzz"));
  CHECK(q.find(SubnetConfig::largest(224))->id == "b");
  CHECK(q.find(SubnetConfig::largest(224), "gpu") == nullptr);
  HardwareSetting hw{{"cpu_freq_khz", 1}};
  CHECK(q.find(SubnetConfig::smallest(160), "cpu", &hw) == nullptr);
  CHECK(q.with_device("cpu").size() == 2);
  CHECK_THROWS_AS(Profile::load((dir.path / "missing.json").string()), Error);
  Profile r = q;
  CHECK_THROWS_AS(r.add(make_point("a", 1, 0.5)), Error);
  CHECK_THROWS_AS(r.add(make_point("", 1, 0.5)), Error);
  r.upsert(make_point("a", 1, 0.5));
  CHECK(r.at("a").latency_ms == 1);
  CHECK(r.points.size() == 2);
}

TEST_CASE("malformed profiles give errors naming the field and point index", "[profile]") {
  const json good = json::parse(sample_profile().to_json());
  auto mutate = [&](auto fn) {
    json j = good;
    fn(j);
    return expect_parse_error(j.dump());
  };
  CHECK_THAT(expect_parse_error("{"), Catch::Contains("not valid JSON"));
  CHECK_THAT(expect_parse_error("[]"), Catch::Contains("expected an object"));
  CHECK_THAT(mutate([](json& j) { j.erase("format"); }), Catch::Contains("'format'"));
  CHECK_THAT(mutate([](json& j) { j["format"] = "other"; }), Catch::Contains("dynn-profile"));
  CHECK_THAT(mutate([](json& j) { j["version"] = 99; }), Catch::Contains("version 99"));
  CHECK_THAT(mutate([](json& j) { j["version"] = "1"; }), Catch::Contains("version"));
  CHECK_THAT(mutate([](json& j) { j.erase("device_name"); }), Catch::Contains("device_name"));
  CHECK_THAT(mutate([](json& j) { j["points"] = 3; }), Catch::Contains("points"));
  CHECK_THAT(mutate([](json& j) { j["extra"] = 3; }), Catch::Contains("extra"));
  CHECK_THAT(mutate([](json& j) { j["points"][1].erase("latency_ms"); }),
             Catch::Contains("points[1]") && Catch::Contains("latency_ms"));
  CHECK_THAT(mutate([](json& j) { j["points"][1]["latency_ms"] = "fast"; }),
             Catch::Contains("points[1]") && Catch::Contains("latency_ms") && Catch::Contains("string"));
  CHECK_THAT(mutate([](json& j) { j["points"][0]["latency_ms"] = -1; }), Catch::Contains("points[0]"));
  CHECK_THAT(mutate([](json& j) { j["points"][0]["accuracy"] = 1.5; }), Catch::Contains("accuracy"));
  CHECK_THAT(mutate([](json& j) { j["points"][0]["accuracy_source"] = "guessed"; }), Catch::Contains("guessed"));
  CHECK_THAT(mutate([](json& j) { j["points"][1]["subnet"]["ks"][0] = 4; }),
             Catch::Contains("points[1]") && Catch::Contains("subnet") && Catch::Contains("ks[0]"));
  CHECK_THAT(mutate([](json& j) { j["points"][1]["hardware"]["threads"] = 1.5; }), Catch::Contains("hardware.threads"));
  CHECK_THAT(mutate([](json& j) { j["points"][1]["id"] = "a"; }), Catch::Contains("duplicate id 'a'"));
  CHECK_THAT(mutate([](json& j) { j["points"][0]["level"] = "x"; }), Catch::Contains("level"));
  CHECK_THAT(mutate([](json& j) { j["points"][0]["typo"] = 1; }), Catch::Contains("typo"));
  CHECK_THAT(mutate([](json& j) { j["points"][0] = 7; }), Catch::Contains("points[0]"));
  // optional fields may be absent or null
  json j = good;
  j["points"][0].erase("power_w");
  j["points"][0].erase("level");
  CHECK_NOTHROW(Profile::from_json(j.dump()));
}

TEST_CASE("profiles: wrapped numbers, repeated keys and repeated ids are errors naming them", "[profile]") {
  const std::string good = sample_profile().to_json(-1);
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  auto err = [](const std::string& text) {
    try {
      Profile::from_json(text);
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::Parse);
      return std::string(e.what());
    }
    FAIL("no error");
    return std::string();
  };
  CHECK_THAT(err(replaced(R"("threads":2)", R"("threads":18446744073709551615)")),
             Catch::Contains("points[0]") && Catch::Contains("hardware.threads") && Catch::Contains("18446744073709551615"));
  CHECK_THAT(err(replaced(R"("threads":2)", R"("threads":-9223372036854775809)")),
             Catch::Contains("hardware.threads") && Catch::Contains("-9223372036854775809"));
  CHECK_THAT(err(replaced(R"("threads":2)", R"("threads":2,"threads":4)")), Catch::Contains("'threads'") && Catch::Contains("twice"));
  CHECK_THAT(err(replaced(R"("threads":2)", R"("threads":2e0)")), Catch::Contains("hardware.threads") && Catch::Contains("not an integer"));
  CHECK_THAT(err(replaced(R"("latency_ms":10.0)", R"("latency_ms":18446744073709551615)")),
             Catch::Contains("points[0]") && Catch::Contains("latency_ms") && Catch::Contains("18446744073709551615"));
  CHECK_THAT(err(replaced(R"("latency_ms":10.0)", R"("latency_ms":1e999)")), Catch::Contains("1e999"));
  CHECK_THAT(err(replaced(R"("latency_ms":10.0)", R"("latency_ms":10.0,"latency_ms":1.0)")), Catch::Contains("'latency_ms'"));
  CHECK_THAT(err(replaced(R"("level":-1)", R"("level":18446744073709551615)")), Catch::Contains("level") && Catch::Contains("18446744073709551615"));
  CHECK_THAT(err(replaced(R"("level":-1)", R"("level":4294967295)")), Catch::Contains("level") && Catch::Contains("4294967295"));
  CHECK_THAT(err(replaced(R"("version":1)", R"("version":18446744073709551617)")), Catch::Contains("18446744073709551617"));
  CHECK_THAT(err(replaced(R"("version":1)", R"("version":1,"version":1)")), Catch::Contains("'version'"));
  CHECK_THAT(err(replaced(R"("r":160)", R"("r":18446744073709551615)")),
             Catch::Contains("points[0]") && Catch::Contains("'r'") && Catch::Contains("18446744073709551615"));
  CHECK_THAT(err(replaced(R"("r":160)", R"("r":160,"r":224)")), Catch::Contains("'r'") && Catch::Contains("twice"));
  CHECK_THAT(err(replaced(R"("id":"b")", R"("id":"a")")), Catch::Contains("points[1].id") && Catch::Contains("duplicate id 'a'"));
}

TEST_CASE("profiles: save refuses what load would refuse and writes nothing", "[profile]") {
  test::TempDir dir("profile-save-check");
  const auto path = (dir.path / "p.json").string();
  Profile p = sample_profile();
  p.points.push_back(p.points[0]);  // the same id twice, bypassing add()
  auto err = [&] {
    try {
      p.save(path);
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::InvalidArgument);
      return std::string(e.what());
    }
    FAIL("no error");
    return std::string();
  };
  CHECK_THAT(err(), Catch::Contains("duplicate id 'a'"));
  CHECK_FALSE(std::filesystem::exists(path));
  p.points.pop_back();
  p.points[0].latency_ms = std::numeric_limits<double>::quiet_NaN();  // would be written as null
  CHECK_THAT(err(), Catch::Contains("points[0]") && Catch::Contains("latency_ms"));
  CHECK_FALSE(std::filesystem::exists(path));
  p.points[0].latency_ms = 10;
  p.save(path);
  CHECK(Profile::load(path).points.size() == 2);
}

TEST_CASE("pareto front over two objectives", "[pareto]") {
  std::vector<std::vector<double>> v = {{10, 0.70}, {20, 0.80}, {15, 0.65}, {20, 0.75}, {5, 0.60}, {30, 0.80}};
  const std::vector<Direction> d = {Direction::Minimize, Direction::Maximize};
  CHECK(pareto_front_indices(v, d) == std::vector<size_t>{0, 1, 4});
  CHECK(dominates(v[1], v[3], d));
  CHECK(!dominates(v[1], v[1], d));
  CHECK(!dominates(v[0], v[1], d));
  v.push_back({10, 0.70});  // duplicate of point 0: kept
  CHECK(pareto_front_indices(v, d) == std::vector<size_t>{0, 1, 4, 6});
  v.push_back({1, std::numeric_limits<double>::quiet_NaN()});
  CHECK(pareto_front_indices(v, d) == std::vector<size_t>{0, 1, 4, 6});
  CHECK(pareto_front_indices({}, d).empty());
  CHECK_THROWS_AS(pareto_front_indices(v, {}), Error);
  CHECK_THROWS_AS(pareto_front_indices({{1, 2, 3}}, d), Error);
}

TEST_CASE("pareto front over three objectives matches brute force", "[pareto]") {
  // Deterministic pseudo-random points.
  uint32_t s = 12345;
  auto rnd = [&] { s = s * 1664525u + 1013904223u; return static_cast<double>(s >> 8) / (1u << 24); };
  std::vector<std::vector<double>> v;
  for (int i = 0; i < 300; ++i) v.push_back({std::round(rnd() * 20), std::round(rnd() * 20), std::round(rnd() * 20)});
  const std::vector<Direction> d = {Direction::Minimize, Direction::Maximize, Direction::Minimize};
  std::vector<size_t> brute;
  for (size_t i = 0; i < v.size(); ++i) {
    bool dom = false;
    for (size_t j = 0; j < v.size() && !dom; ++j) dom = dominates(v[j], v[i], d);
    if (!dom) brute.push_back(i);
  }
  CHECK(pareto_front_indices(v, d) == brute);
  CHECK(!brute.empty());
}

TEST_CASE("pareto front of operating points with named objectives", "[pareto]") {
  std::vector<OperatingPoint> pts = {make_point("a", 10, 0.7, 4.0), make_point("b", 20, 0.8, 9.0),
                                     make_point("c", 12, 0.69, 3.0), make_point("d", 25, 0.79, 10.0),
                                     make_point("e", 5, 0.5)};
  auto f2 = pareto_front(pts, {Objective::latency(), Objective::accuracy()});
  REQUIRE(f2.size() == 3);
  CHECK(f2[0].id == "e");
  CHECK(f2[1].id == "a");
  CHECK(f2[2].id == "b");
  // With energy, c is no longer dominated (least energy), e drops (energy not measured).
  auto f3 = pareto_front_indices(pts, {Objective::latency(), Objective::accuracy(), Objective::energy()});
  CHECK(f3 == std::vector<size_t>{0, 1, 2});
  CHECK(Objective::by_name("macs").name == "macs");
  CHECK_THROWS_WITH(Objective::by_name("speed"), Catch::Contains("speed"));
  Objective broken{"x", Direction::Minimize, nullptr};
  CHECK_THROWS_AS(pareto_front_indices(pts, {broken}), Error);
}

TEST_CASE("select_spread keeps ends and spreads the rest", "[pareto]") {
  const std::vector<double> x = {5, 1, 2, 3, 10, 7, 9};
  CHECK(select_spread(x, 3) == std::vector<size_t>{1, 0, 4});  // 1, ~5.5 -> 5, 10
  CHECK(select_spread(x, 10).size() == 7);
  CHECK(select_spread(x, 0).empty());
  CHECK(select_spread(x, 1) == std::vector<size_t>{4});
  CHECK(select_spread(x, 2) == std::vector<size_t>{1, 4});
  CHECK_THROWS_AS(select_spread({1, std::nan("")}, 1), Error);
}
