#include <fstream>
#include <functional>
#include <set>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "dynn/error.hpp"
#include "dynn/profile.hpp"
#include "test_support.hpp"

using namespace dynn;
using nlohmann::json;

namespace {

// A table where every layer costs 1 ms, plus a marker on the first conv.
LatencyTable unit_table(int r) {
  LatencyTable t(1.2, "unit");
  for (const auto& l : t.all_layers(r)) t.set(r, l.key(), {3, 1.0, 0.1});
  return t;
}

std::string load_error(const std::string& text) {
  LatencyTable t;
  try {
    t.load_json(224, text, "'x.json'");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::Parse);
    return e.what();
  }
  FAIL("no error for " << text);
  return {};
}

const char* kNets6[] = {
    "ks=57773557775353373377 e=64464364644646464334 d=32322 r=176",
    "ks=73577357575353353337 e=64444666334646634333 d=32332 r=176",
    "ks=55737773777577737777 e=34344443443344444444 d=33333 r=192",
    "ks=73535733555777553337 e=66334433644464464633 d=23334 r=208",
    "ks=53377333753575737757 e=66434663463466664446 d=24443 r=224",
    "ks=55555773577777557555 e=66666646646666666663 d=44444 r=224",
};

}  // namespace

TEST_CASE("layer keys follow the published grammar", "[lut]") {
  LatencyTable t(1.2);
  const auto layers = t.network_layers(SubnetConfig::smallest(224));
  REQUIRE(layers.size() == 2 + 10 + 4);
  CHECK(layers[0].key() == "Conv-input:224x224x3-output:112x112x24");
  CHECK(layers[1].key() == "expanded_conv-input:112x112x24-output:112x112x24-expand:24-kernel:3-stride:1-idskip:1-se:0-hs:0");
  CHECK(layers[2].key() == "expanded_conv-input:112x112x24-output:56x56x32-expand:72-kernel:3-stride:2-idskip:0-se:0-hs:0");
  CHECK(layers[3].key() == "expanded_conv-input:56x56x32-output:56x56x32-expand:96-kernel:3-stride:1-idskip:1-se:0-hs:0");
  CHECK(layers[4].key() == "expanded_conv-input:56x56x32-output:28x28x48-expand:96-kernel:3-stride:2-idskip:0-se:1-hs:0");
  CHECK(layers[12].key() == "Conv_1-input:7x7x192-output:7x7x1152");
  CHECK(layers[13].key() == "AvgPool2D-input:7x7x1152-output:1x1x1152");
  CHECK(layers[14].key() == "Conv_2-input:1x1x1152-output:1x1x1536");
  CHECK(layers[15].key() == "Logits-input:1x1x1536-output:1000");
  // Odd sizes: r=164 -> 82, 41, 21, 11, 11, 6
  const auto l164 = t.network_layers(SubnetConfig::smallest(164));
  CHECK(l164[0].key() == "Conv-input:164x164x3-output:82x82x24");
  CHECK(l164.back().key() == "Logits-input:1x1x1536-output:1000");
  CHECK(l164[l164.size() - 4].key() == "Conv_1-input:6x6x192-output:6x6x1152");
}

TEST_CASE("all_layers lists the 96 distinct keys of a resolution", "[lut]") {
  LatencyTable t(1.2);
  const auto all = t.all_layers(200);
  std::set<std::string> keys;
  for (const auto& l : all) keys.insert(l.key());
  CHECK(all.size() == 96);
  CHECK(keys.size() == 96);
  // every layer of random sub-networks is among them
  uint32_t s = 7;
  auto pick = [&](const std::vector<int>& v) { s = s * 1103515245u + 12345u; return v[(s >> 16) % v.size()]; };
  const auto space = SearchSpace::ofa_mbv3();
  for (int n = 0; n < 50; ++n) {
    SubnetConfig c = SubnetConfig::smallest(200);
    for (auto& k : c.ks) k = pick(space.ks_values);
    for (auto& e : c.e) e = pick(space.e_values);
    for (auto& d : c.d) d = pick(space.d_values);
    for (const auto& l : t.network_layers(c)) CHECK(keys.count(l.key()) == 1);
  }
}

TEST_CASE("predict sums the table and names what is missing", "[lut]") {
  LatencyTable t = unit_table(224);
  CHECK(t.predict_ms(SubnetConfig::smallest(224)) == Approx(16.0));
  CHECK(t.predict_ms(SubnetConfig::largest(224)) == Approx(26.0));
  CHECK(t.breakdown(SubnetConfig::smallest(224)).size() == 16);
  CHECK_THROWS_WITH(t.predict_ms(SubnetConfig::smallest(160)), Catch::Contains("resolution 160 not covered"));
  t.load_json(160, "{}", "empty");
  CHECK_THROWS_WITH(t.predict_ms(SubnetConfig::smallest(160)), Catch::Contains("Conv-input:160x160x3"));
  CHECK(t.resolutions() == std::vector<int>{160, 224});
  CHECK(t.covers(224));
  CHECK(!t.covers(228));
}

TEST_CASE("save_dir / load_dir round trip in the published format", "[lut]") {
  test::TempDir dir("lut-roundtrip");
  LatencyTable t = unit_table(224);
  t.set(224, "Conv-input:224x224x3-output:112x112x24", {500, 0.994418, 0.0172});
  t.save_dir((dir.path / "tbl").string());
  CHECK(std::filesystem::exists(dir.path / "tbl" / "224_lookup_table.json"));
  std::ofstream(dir.path / "tbl" / "README.txt") << "ignored";
  const LatencyTable u = LatencyTable::load_dir((dir.path / "tbl").string());
  CHECK(u.resolutions() == std::vector<int>{224});
  CHECK(u.table(224).at("Conv-input:224x224x3-output:112x112x24").count == 500);
  CHECK(u.table(224).at("Conv-input:224x224x3-output:112x112x24").mean == 0.994418);
  CHECK(u.predict_ms(SubnetConfig::largest(224)) == Approx(t.predict_ms(SubnetConfig::largest(224))));
  CHECK(u.to_json(224) == t.to_json(224));
  CHECK_THROWS_AS(LatencyTable::load_dir((dir.path / "nope").string()), Error);
  std::filesystem::create_directories(dir.path / "empty");
  CHECK_THROWS_WITH(LatencyTable::load_dir((dir.path / "empty").string()), Catch::Contains("no '{r}_lookup_table.json'"));
  std::ofstream(dir.path / "tbl" / "160_lookup_table.json") << "{\"k\": {\"mean\": \"x\"}}";
  CHECK_THROWS_WITH(LatencyTable::load_dir((dir.path / "tbl").string()),
                    Catch::Contains("160_lookup_table.json") && Catch::Contains("'k'") && Catch::Contains("mean"));
}

TEST_CASE("malformed look-up tables give clear errors", "[lut]") {
  CHECK_THAT(load_error("{"), Catch::Contains("x.json") && Catch::Contains("not valid JSON"));
  CHECK_THAT(load_error("[1,2]"), Catch::Contains("expected an object"));
  CHECK_THAT(load_error(R"({"a": 3})"), Catch::Contains("entry 'a'"));
  CHECK_THAT(load_error(R"({"a": {"count": 3}})"), Catch::Contains("missing field 'mean'"));
  CHECK_THAT(load_error(R"({"a": {"mean": -1}})"), Catch::Contains("'mean'") && Catch::Contains("-1"));
  CHECK_THAT(load_error(R"({"a": {"mean": 1, "count": 1.5}})"), Catch::Contains("'count'"));
  CHECK_THAT(load_error(R"({"a": {"mean": 1, "median": 1}})"), Catch::Contains("unknown field 'median'"));
  CHECK_NOTHROW(LatencyTable().load_json(224, R"({"a": {"mean": 1}})"));
  // 64-bit values are not wrapped to -1, NaN-like overflow is refused, keys are quoted bounded.
  CHECK_THAT(load_error(R"({"a": {"mean": 1, "count": 18446744073709551615}})"),
             Catch::Contains("'count'") && Catch::Contains("18446744073709551615") && !Catch::Contains("-1"));
  CHECK_THAT(load_error(R"({"a": {"mean": 1e999}})"), Catch::Contains("x.json"));
  CHECK_THAT(load_error(R"({"a": {"mean": 1, "std": 1}, "a": {"mean": 2}})"), Catch::Contains("'a'") && Catch::Contains("twice"));
  CHECK(load_error("{\"" + std::string(100000, 'k') + "\": 3}").size() < 1000);
}

TEST_CASE("latency table file names are strict: one name per resolution, inside the search space", "[lut]") {
  test::TempDir dir("lut-names");
  unit_table(160).save_dir((dir.path / "ok").string());
  auto with_extra = [&](const std::string& name) {
    const auto d = dir.path / ("v" + std::to_string(std::hash<std::string>()(name)));
    std::filesystem::create_directories(d);
    std::filesystem::copy_file(dir.path / "ok" / "160_lookup_table.json", d / "160_lookup_table.json");
    std::filesystem::copy_file(dir.path / "ok" / "160_lookup_table.json", d / name);
    try {
      LatencyTable::load_dir(d.string());
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::Parse);
      return std::string(e.what());
    }
    return std::string("(loaded)");
  };
  // Leading zeros: two names for r = 160 (which one won depended on the listing order).
  CHECK_THAT(with_extra("0160_lookup_table.json"),
             Catch::Contains("0160_lookup_table.json") && Catch::Contains("leading zeros") && Catch::Contains("'160_lookup_table.json'"));
  CHECK_THAT(with_extra("000176_lookup_table.json"), Catch::Contains("leading zeros"));
  // Outside the search space (32..1024), however written; never an overflow.
  for (const char* name : {"0_lookup_table.json", "00_lookup_table.json", "31_lookup_table.json", "1025_lookup_table.json",
                           "99999_lookup_table.json", "99999999999999999999999_lookup_table.json"}) {
    INFO(name);
    CHECK_THAT(with_extra(name), Catch::Contains(name) && Catch::Contains("outside") && Catch::Contains("32..1024"));
  }
  // Names that are not table names at all are still ignored.
  CHECK(with_extra("160_lookup_table.json.bak") == "(loaded)");
  CHECK(with_extra("x160_lookup_table.json") == "(loaded)");
  // A folder named like a table is refused by name, not read.
  std::filesystem::create_directories(dir.path / "ok" / "176_lookup_table.json");
  CHECK_THROWS_WITH(LatencyTable::load_dir((dir.path / "ok").string()), Catch::Contains("176_lookup_table.json") && Catch::Contains("folder"));
}

TEST_CASE("an uncovered resolution is an error naming it and the covered ones, in a search too", "[lut][search]") {
  LatencyTable t = unit_table(160);
  for (const auto& l : t.all_layers(192)) t.set(192, l.key(), {3, 1.0, 0.1});
  CHECK_THROWS_WITH(t.predict_ms(SubnetConfig::smallest(176)), Catch::Contains("176") && Catch::Contains("160, 192"));
  // The search's default resolutions include 176: the table's error, not an infinite cost that
  // later surfaced as "x[0] = inf is not finite".
  EvolutionOptions o;
  o.population_size = 8;
  o.generations = 2;
  EvolutionFinder f(latency_efficiency(t), [](const std::vector<SubnetConfig>& cs) { return std::vector<double>(cs.size(), 0.5); }, o);
  try {
    f.search(1e9);
    FAIL("search over uncovered resolutions succeeded");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::NotFound);
    CHECK_THAT(std::string(e.what()), Catch::Contains("not covered") && Catch::Contains("160, 192") && !Catch::Contains("inf"));
  }
  o.resolutions = {160, 192};
  EvolutionFinder g(latency_efficiency(t), [](const std::vector<SubnetConfig>& cs) { return std::vector<double>(cs.size(), 0.5); }, o);
  CHECK(g.search(1e9).efficiency > 0);
}

TEST_CASE("save_dir refuses bad folders and leaves no temporary file when a write fails", "[lut]") {
  test::TempDir dir("lut-save");
  const LatencyTable t = unit_table(160);
  auto code_of = [](const std::function<void()>& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::Internal;
  };
  CHECK(code_of([&] { t.save_dir(""); }) == ErrorCode::InvalidArgument);
  std::ofstream(dir.path / "file") << "x";
  CHECK(code_of([&] { t.save_dir((dir.path / "file").string()); }) == ErrorCode::InvalidArgument);
  // The table's own name taken by a folder: the save fails, nothing half-written stays behind.
  std::filesystem::create_directories(dir.path / "out" / "160_lookup_table.json");
  CHECK_THROWS_WITH(t.save_dir((dir.path / "out").string()), Catch::Contains("160_lookup_table.json"));
  for (const auto& e : std::filesystem::directory_iterator(dir.path / "out")) CHECK(e.path().extension() != ".tmp");
  t.save_dir((dir.path / "good").string());
  CHECK(LatencyTable::load_dir((dir.path / "good").string()).to_json(160) == t.to_json(160));
  for (const auto& e : std::filesystem::directory_iterator(dir.path / "good")) CHECK(e.path().extension() != ".tmp");
}

TEST_CASE("Jetson Xavier NX tables: spec section 8 summary", "[lut][shared]") {
  const auto cpu = LatencyTable::load_dir(test::shared_path("data/dynamic_ofa/latency_lut_jetson_xavier_nx_cpu").string());
  const auto gpu = LatencyTable::load_dir(test::shared_path("data/dynamic_ofa/latency_lut_jetson_xavier_nx_gpu").string());
  CHECK(cpu.resolutions().size() == 17);
  CHECK(gpu.resolutions().front() == 160);
  CHECK(gpu.resolutions().back() == 224);
  for (int r : cpu.resolutions()) {
    CHECK(cpu.table(r).size() == 96);
    // Every key of the format is one the library generates.
    for (const auto& l : cpu.all_layers(r)) CHECK(cpu.table(r).count(l.key()) == 1);
  }
  struct Row { int r; double cs, cl, gs, gl; };
  const Row rows[] = {{160, 810.42, 3198.69, 21.07, 29.01}, {176, 731.32, 2992.92, 16.20, 29.05},
                      {192, 757.50, 3114.55, 16.74, 29.10}, {208, 784.63, 3300.81, 16.92, 29.82},
                      {224, 842.70, 3551.45, 17.37, 30.19}};
  for (const auto& row : rows) {
    INFO("r=" << row.r);
    CHECK(cpu.predict_ms(SubnetConfig::smallest(row.r)) == Approx(row.cs).margin(0.006));
    CHECK(cpu.predict_ms(SubnetConfig::largest(row.r)) == Approx(row.cl).margin(0.006));
    CHECK(gpu.predict_ms(SubnetConfig::smallest(row.r)) == Approx(row.gs).margin(0.006));
    CHECK(gpu.predict_ms(SubnetConfig::largest(row.r)) == Approx(row.gl).margin(0.006));
  }
  CHECK_THROWS_WITH(gpu.predict_ms(SubnetConfig::smallest(128)), Catch::Contains("resolution 128 not covered"));
  CHECK_THROWS_AS(gpu.predict_ms(SubnetConfig::smallest(162)), Error);
}

TEST_CASE("Jetson tables: nets_6 per-level LUT columns of spec 5.3", "[lut][shared]") {
  const auto cpu = LatencyTable::load_dir(test::shared_path("data/dynamic_ofa/latency_lut_jetson_xavier_nx_cpu").string());
  const auto gpu = LatencyTable::load_dir(test::shared_path("data/dynamic_ofa/latency_lut_jetson_xavier_nx_gpu").string());
  const double cpu_ms[] = {1208.5, 1295.1, 1580.8, 1766.5, 2128.8, 2902.4};
  const double gpu_ms[] = {18.24, 19.87, 23.70, 24.79, 27.29, 30.17};
  for (int i = 0; i < 6; ++i) {
    INFO("level " << i);
    const auto c = SubnetConfig::parse(kNets6[i]);
    CHECK(cpu.predict_ms(c) == Approx(cpu_ms[i]).margin(0.051));
    CHECK(gpu.predict_ms(c) == Approx(gpu_ms[i]).margin(0.0051));
  }
}

TEST_CASE("a published table survives a save/load round trip", "[lut][shared]") {
  const auto gpu = LatencyTable::load_dir(test::shared_path("data/dynamic_ofa/latency_lut_jetson_xavier_nx_gpu").string());
  test::TempDir dir("lut-published");
  gpu.save_dir(dir.path.string());
  const auto again = LatencyTable::load_dir(dir.path.string());
  for (int r : gpu.resolutions()) CHECK(again.to_json(r) == gpu.to_json(r));
  const auto c = SubnetConfig::parse(kNets6[3]);
  CHECK(again.predict_ms(c) == gpu.predict_ms(c));
}
