#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "dynn/error.hpp"
#include "dynn/ofa_mbv3_arch.hpp"
#include "dynn/profile.hpp"
#include "test_support.hpp"

using namespace dynn;
using dynn::test::error_of;
using nlohmann::json;

namespace {

AccuracyPredictor::Layer layer(int in, int out, float w, float b) {
  AccuracyPredictor::Layer L;
  L.in = in;
  L.out = out;
  L.weight.assign(static_cast<size_t>(in * out), w);
  L.bias.assign(static_cast<size_t>(out), b);
  return L;
}

TensorData tensor(std::vector<int64_t> shape, const std::vector<float>& values) {
  TensorData t;
  t.dtype = DType::Float32;
  t.shape = shape;
  int64_t stride = 1;
  t.strides.assign(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 0;) { t.strides[i] = stride; stride *= shape[i]; }
  auto buf = std::make_shared<std::vector<uint8_t>>(values.size() * sizeof(float));
  std::memcpy(buf->data(), values.data(), buf->size());
  t.storage = buf;
  t.location = "cpu";
  return t;
}

}  // namespace

TEST_CASE("predictor encoding follows spec section 7", "[predictor]") {
  auto c = SubnetConfig::smallest(224);
  auto f = AccuracyPredictor::encode(c);
  int ones = 0;
  for (float v : f) ones += v == 1.f;
  CHECK(ones == 2 * 10 + 1);  // 10 active blocks x (ks, e) + resolution
  CHECK(f[0] == 1.f);         // block 0 ks=3
  CHECK(f[60] == 1.f);        // block 0 e=3
  CHECK(f[3 * 2] == 0.f);     // block 2 skipped (d=2): all zero
  CHECK(f[127] == 1.f);       // r=224 -> bucket 7
  c.ks[1] = 7;
  c.e[1] = 6;
  c.r = 176;
  f = AccuracyPredictor::encode(c);
  CHECK(f[3 + 2] == 1.f);
  CHECK(f[60 + 3 + 2] == 1.f);
  CHECK(f[124] == 1.f);  // (176-112)/16 = 4
  c.r = 175;
  CHECK(AccuracyPredictor::encode(c)[123] == 1.f);
  c.r = 112;
  CHECK(AccuracyPredictor::encode(c)[120] == 1.f);
  c.r = 240;
  CHECK_THROWS_WITH(AccuracyPredictor::encode(c), Catch::Contains("resolution 240"));
  c.r = 100;
  CHECK_THROWS_AS(AccuracyPredictor::encode(c), Error);
}

TEST_CASE("predictor MLP with synthetic weights", "[predictor]") {
  // 128 -> 2 (w=1, b=-1) -> ReLU -> 1 (w=0.5, b=0.25): output = 0.25 + (n_ones - 1)
  auto p = AccuracyPredictor::from_layers({layer(128, 2, 1.f, -1.f), layer(2, 1, 0.5f, 0.25f)});
  CHECK(p.predict(SubnetConfig::smallest(224)) == Approx(0.25 + 20.0));
  CHECK(p.predict(SubnetConfig::largest(160)) == Approx(0.25 + 40.0));
  std::vector<SubnetConfig> many;
  for (int i = 0; i < 600; ++i) many.push_back(i % 2 ? SubnetConfig::smallest(224) : SubnetConfig::largest(160));
  const auto out = p.predict(many);
  REQUIRE(out.size() == 600);
  CHECK(out[598] == Approx(40.25));
  CHECK(out[599] == Approx(20.25));
  // ReLU really clamps: negative hidden units contribute nothing.
  auto q = AccuracyPredictor::from_layers({layer(128, 1, -1.f, 0.f), layer(1, 1, 1.f, 0.5f)});
  CHECK(q.predict(SubnetConfig::smallest(224)) == 0.5);
  CHECK_THROWS_AS(AccuracyPredictor::from_layers({}), Error);
  CHECK_THROWS_AS(AccuracyPredictor::from_layers({layer(127, 1, 1, 1)}), Error);
  CHECK_THROWS_AS(AccuracyPredictor::from_layers({layer(128, 2, 1, 1)}), Error);
  auto bad = layer(128, 1, 1, 1);
  bad.bias.push_back(0);
  CHECK_THROWS_AS(AccuracyPredictor::from_layers({bad}), Error);
  AccuracyPredictor empty;
  CHECK_THROWS_AS(empty.predict(SubnetConfig::smallest(224)), Error);
}

TEST_CASE("predictor from a state dict checks keys and shapes", "[predictor]") {
  StateDict sd;
  auto add = [&](const std::string& k, std::vector<int64_t> shape) {
    size_t n = 1;
    for (auto s : shape) n *= static_cast<size_t>(s);
    sd.entries.emplace_back(k, tensor(shape, std::vector<float>(n, 0.01f)));
  };
  add("0.weight", {4, 128});
  add("0.bias", {4});
  add("2.weight", {4, 4});
  add("2.bias", {4});
  add("4.weight", {4, 4});
  CHECK_THROWS_WITH(AccuracyPredictor::from_state_dict(sd), Catch::Contains("'4.bias'"));
  add("4.bias", {3});
  CHECK_THROWS_WITH(AccuracyPredictor::from_state_dict(sd), Catch::Contains("'4.bias'") && Catch::Contains("[3]"));
  sd.entries.pop_back();
  add("4.bias", {4});
  add("6.weight", {1, 4});
  add("6.bias", {1});
  const auto p = AccuracyPredictor::from_state_dict(sd);
  CHECK(std::isfinite(p.predict(SubnetConfig::smallest(224))));
}

TEST_CASE("predictor golden values from Dynamic-OFA acc_predictor.pth", "[predictor][shared]") {
  const auto p = AccuracyPredictor::load(test::shared_path("data/dynamic_ofa/acc_predictor.pth").string());
  const auto levels = LevelSet::load(test::shared_path("data/dynamic_ofa/nets_6_levels.json").string());
  const double golden[] = {0.7869, 0.7990, 0.8141, 0.8224, 0.8339, 0.8479};
  REQUIRE(levels.levels.size() == 6);
  for (size_t i = 0; i < 6; ++i) {
    INFO("level " << i);
    CHECK(p.predict(levels.levels[i].subnet) == Approx(golden[i]).margin(0.00005));
  }
  CHECK(p.predict(SubnetConfig::smallest(224)) == Approx(0.7774).margin(0.00005));
  CHECK(p.predict(SubnetConfig::largest(224)) == Approx(0.8359).margin(0.00005));
  CHECK(p.predict(SubnetConfig::smallest(160)) == Approx(0.7531).margin(0.00005));
  CHECK(p.predict(SubnetConfig::largest(160)) == Approx(0.8075).margin(0.00005));
  // nets_7 levels 1, 2, 4, 5 (spec 5.3)
  const auto l7 = LevelSet::load(test::shared_path("data/dynamic_ofa/nets_7_levels.json").string());
  REQUIRE(l7.levels.size() == 7);
  CHECK(p.predict(l7.levels[1].subnet) == Approx(0.8048).margin(0.00005));
  CHECK(p.predict(l7.levels[2].subnet) == Approx(0.8127).margin(0.00005));
  CHECK(p.predict(l7.levels[4].subnet) == Approx(0.8301).margin(0.00005));
  CHECK(p.predict(l7.levels[5].subnet) == Approx(0.8467).margin(0.00005));
  CHECK_THROWS_AS(AccuracyPredictor::load("/nonexistent/acc.pth"), Error);
}

TEST_CASE("Dynamic-OFA levels files load", "[levels][shared]") {
  const auto s = LevelSet::load(test::shared_path("data/dynamic_ofa/nets_6_levels.json").string());
  CHECK(s.supernet == "ofa_mbv3_d234_e346_k357_w1.2");
  CHECK(s.levels[0].subnet.r == 176);
  CHECK(s.levels[0].subnet.to_string() == "ks=57773557775353373377 e=64464364644646464334 d=32322 r=176");
  CHECK(s.levels[5].top1_percent == Approx(79.03));
  CHECK(s.levels[5].latency_ms == Approx(61.7347));
  const auto ops = s.to_operating_points("gpu");
  REQUIRE(ops.size() == 6);
  CHECK(ops[3].id == "L3");
  CHECK(ops[3].macs / 1e6 == Approx(375.5).margin(0.051));
  CHECK(ops[3].accuracy == Approx(0.7754));
  CHECK(ops[3].accuracy_source == AccuracySource::Published);
}

TEST_CASE("levels JSON round trip and malformed input", "[levels]") {
  LevelSet s;
  s.supernet = "ofa_mbv3_d234_e346_k357_w1.0";
  s.source = "test";
  s.levels.push_back({0, SubnetConfig::smallest(160), 70.5, 12.0});
  s.levels.push_back({1, SubnetConfig::largest(224), 80.0, 30.0});
  const auto t = LevelSet::from_json(s.to_json());
  REQUIRE(t.levels.size() == 2);
  CHECK(t.levels[1].subnet == SubnetConfig::largest(224));
  CHECK(t.to_json() == s.to_json());
  test::TempDir dir("levels");
  s.save((dir.path / "l.json").string());
  CHECK(LevelSet::load((dir.path / "l.json").string()).levels.size() == 2);
  const json good = json::parse(s.to_json());
  auto err = [&](auto fn) {
    json j = good;
    fn(j);
    try {
      LevelSet::from_json(j.dump());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(err([](json& j) { j.erase("levels"); }), Catch::Contains("'levels'"));
  CHECK_THAT(err([](json& j) { j["supernet"] = "mobilenet"; }), Catch::Contains("mobilenet"));
  CHECK_THAT(err([](json& j) { j["levels"][1]["arch"]["d"] = {1, 2}; }), Catch::Contains("levels[1].arch"));
  CHECK_THAT(err([](json& j) { j["levels"][1]["arch"]["r"] = {224, 160}; }), Catch::Contains("levels[1].arch"));
  CHECK_THAT(err([](json& j) { j["levels"][0]["top1_percent"] = 120; }), Catch::Contains("levels[0].top1_percent"));
  CHECK_THAT(err([](json& j) { j["levels"][0].erase("latency_ms"); }), Catch::Contains("levels[0]") && Catch::Contains("latency_ms"));
  CHECK_THAT(err([](json& j) { j["levels"][0]["level"] = -3; }), Catch::Contains("levels[0].level"));
  CHECK_THROWS_AS(LevelSet::from_json("nope"), Error);
  CHECK_THROWS_AS(LevelSet::load("/nonexistent.json"), Error);
}

#include "../../../examples/common/nets6_levels.hpp"

namespace {
std::string levels_text(const std::string& entries, const std::string& extra = "") {
  return R"({"supernet": "ofa_mbv3_d234_e346_k357_w1.2")" + extra + R"(, "levels": [)" + entries + "]}";
}
std::string level_entry(const std::string& level, const std::string& more = "") {
  return R"({"level": )" + level + R"(, "arch": )" + SubnetConfig::smallest(160).to_json() + R"(, "top1_percent": 70, "latency_ms": 10)" +
         more + "}";
}
}  // namespace

TEST_CASE("levels: an empty set, a repeated level, a repeated key or a wrapped number is refused at load", "[levels]") {
  // The embedded copy of Dynamic-OFA's nets_6 levels (used when ../shared is absent) still loads.
  const LevelSet embedded = LevelSet::from_json(demo::kEmbeddedNets6Levels);
  CHECK(embedded.levels.size() == 6);
  CHECK(LevelSet::from_json(embedded.to_json()).to_json() == embedded.to_json());
  CHECK(embedded.to_operating_points().size() == 6);

  CHECK_THAT(error_of([] { LevelSet::from_json(levels_text("")); }, ErrorCode::Parse), Catch::Contains("levels") && Catch::Contains("empty"));
  CHECK_THAT(error_of([] { LevelSet::from_json(levels_text(level_entry("3") + "," + level_entry("1") + "," + level_entry("3"))); },
                          ErrorCode::Parse),
             Catch::Contains("levels[2]") && Catch::Contains("level 3 appears twice"));
  CHECK_THAT(error_of([] { LevelSet::from_json(levels_text(level_entry("0", R"(, "level": 1)"))); }, ErrorCode::Parse),
             Catch::Contains("'level'") && Catch::Contains("twice") && Catch::Contains("levels[0]"));
  CHECK_THAT(error_of([] { LevelSet::from_json(levels_text(level_entry("0"), R"(, "supernet": "ofa_mbv3_d234_e346_k357_w1.0")")); },
                          ErrorCode::Parse),
             Catch::Contains("'supernet'") && Catch::Contains("twice"));
  for (const char* bad : {"18446744073709551615", "4294967296", "-1", "0.5", "1e300"})
    CHECK_THAT(error_of([&] { LevelSet::from_json(levels_text(level_entry(bad))); }, ErrorCode::Parse),
               Catch::Contains("levels[0].level") && Catch::Contains(bad == std::string("1e300") ? "1e+300" : bad));
  CHECK_THAT(error_of([] { LevelSet::from_json(levels_text(level_entry("99999999999999999999"))); }, ErrorCode::Parse),
             Catch::Contains("99999999999999999999") && Catch::Contains("levels[0].level"));
  CHECK_THAT(error_of([] { LevelSet::from_json(levels_text(level_entry("0", R"(, "latency_ms": 5)"))); }, ErrorCode::Parse),
             Catch::Contains("'latency_ms'") && Catch::Contains("twice"));
  // Figures: the value quoted as written; 1e999 is not a number JSON can hold.
  std::string e = level_entry("0");
  e.replace(e.find("\"latency_ms\": 10"), 16, "\"latency_ms\": 18446744073709551615");
  CHECK_THAT(error_of([&] { LevelSet::from_json(levels_text(e)); }, ErrorCode::Parse),
             Catch::Contains("levels[0].latency_ms") && Catch::Contains("18446744073709551615"));
  e = level_entry("0");
  e.replace(e.find("\"latency_ms\": 10"), 16, "\"latency_ms\": 1e999");
  CHECK_THAT(error_of([&] { LevelSet::from_json(levels_text(e)); }, ErrorCode::Parse), Catch::Contains("1e999"));
  // A misspelt field is an error, not ignored.
  CHECK_THAT(error_of([] { LevelSet::from_json(levels_text(level_entry("0", R"(, "top1": 80)"))); }, ErrorCode::Parse),
             Catch::Contains("levels[0]") && Catch::Contains("'top1'"));
  CHECK_THAT(error_of([] { LevelSet::from_json(levels_text(level_entry("0"), R"(, "level": [])")); }, ErrorCode::Parse),
             Catch::Contains("'level'"));
  // Supernet widths go through the checked parser: no blanks, hex or trailing text.
  for (const char* w : {"w 1.2", "w0x1p0", "w1.2abc", "wnan", "winf", "w1e999", "w0.05", "w10.5", "w", "w1,2"}) {
    const std::string text = R"({"supernet": "ofa_mbv3_d234_e346_k357_)" + std::string(w) + R"(", "levels": [)" + level_entry("0") + "]}";
    CHECK_THAT(error_of([&] { LevelSet::from_json(text); }, ErrorCode::Parse), Catch::Contains("supernet"));
  }
  CHECK(ofa_mbv3::width_mult_from_name("ofa_mbv3_d234_e346_k357_w1.0") == 1.0);
}

TEST_CASE("levels built in code: an empty or inconsistent set is never written or used", "[levels]") {
  test::TempDir dir("levels-validate");
  const std::string path = (dir.path / "l.json").string();
  LevelSet s;
  s.supernet = "ofa_mbv3_d234_e346_k357_w1.2";
  CHECK_THAT(error_of([&] { s.save(path); }, ErrorCode::InvalidArgument), Catch::Contains("no levels"));
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK_THAT(error_of([&] { s.to_operating_points(); }, ErrorCode::InvalidArgument), Catch::Contains("no levels"));
  s.levels.push_back({0, SubnetConfig::smallest(160), 70, 10});
  CHECK_NOTHROW(s.validate());
  s.levels.push_back({0, SubnetConfig::largest(224), 80, 20});
  CHECK_THAT(error_of([&] { s.to_json(); }, ErrorCode::InvalidArgument), Catch::Contains("levels[1]") && Catch::Contains("twice"));
  s.levels[1].level = 1;
  s.levels[1].latency_ms = std::numeric_limits<double>::quiet_NaN();
  CHECK_THAT(error_of([&] { s.save(path); }, ErrorCode::InvalidArgument), Catch::Contains("levels[1].latency_ms"));
  CHECK_FALSE(std::filesystem::exists(path));
  s.levels[1].latency_ms = 20;
  s.levels[1].subnet.r = 5;
  CHECK_THAT(error_of([&] { s.save(path); }, ErrorCode::InvalidArgument), Catch::Contains("levels[1].arch"));
  s.levels[1].subnet.r = 224;
  s.save(path);
  CHECK(LevelSet::load(path).levels.size() == 2);
}
