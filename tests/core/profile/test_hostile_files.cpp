// Hostile files for the profile-area formats: non-regular and oversized files refused without
// blocking, duplicate keys and levels refused, empty level sets refused at load, loose latency
// table names refused, atomic saves that leave no temporary file behind.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <functional>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/json_strict.hpp"
#include "dynn/error.hpp"
#include "dynn/parse.hpp"
#include "dynn/profile.hpp"
#include "dynn/runtime.hpp"
#include "test_support.hpp"

using namespace dynn;
using dynn::test::error_of;
namespace fs = std::filesystem;

namespace {

const char* kArch =
    R"({"ks":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"e":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"d":[2,2,2,2,2],"r":160})";

std::string levels_json(const std::string& levels) {
  return std::string(R"({"supernet": "ofa_mbv3_d234_e346_k357_w1.2", "levels": [)") + levels + "]}";
}
std::string level(int n) { return fmt::format(R"({{"level": {}, "arch": {}, "top1_percent": 70, "latency_ms": 10}})", n, kArch); }

}  // namespace

TEST_CASE("checked number parsing: whole text, finite, in range, option named", "[parse]") {
  CHECK(parse_int("224", "r", 1, 1000) == 224);
  CHECK(parse_int("-3", "x", -5, 5) == -3);
  for (const char* bad : {"", " 12", "12 ", "+12", "0x10", "1e3", "nan", "inf", "224xyz", "abc", "9223372036854775808",
                          "-9223372036854775809", "99999999999999999999", "1.5"})
    CHECK_THAT(error_of([&] { parse_int(bad, "--population", 0, INT64_MAX); }), Catch::Contains("--population"));
  CHECK_THAT(error_of([&] { parse_int("0", "--levels", 1, 100); }), Catch::Contains("--levels") && Catch::Contains("[1, 100]"));
  CHECK(parse_double("0.25", "w", 0, 1) == 0.25);
  CHECK(parse_double("1e-3", "w", 0, 1) == 1e-3);
  for (const char* bad : {"", "nan", "NaN", "inf", "-inf", "1e999", "0x1p3", "1.5.2", "2 ", "1,5", "--1"})
    CHECK_THAT(error_of([&] { parse_double(bad, "--mutate-prob", -1e300, 1e300); }), Catch::Contains("--mutate-prob"));
  CHECK_THAT(error_of([&] { parse_double("2", "--mutate-prob", 0, 1); }), Catch::Contains("outside"));
  // Mutations of valid numbers: a value or a clear error, never a crash.
  const std::string base = "12345.678e-2";
  for (size_t i = 0; i < base.size(); ++i)
    for (char c : {'\0', 'x', '-', '.', 'e', ' ', '\xff'}) {
      std::string s = base;
      s[i] = c;
      try {
        (void)parse_double(s, "x", -1e300, 1e300);
      } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::InvalidArgument);
      }
    }
}

TEST_CASE("error texts cut user input at UTF-8 character boundaries", "[parse]") {
  const std::string s = "ab\xc3\xa9\xc3\xa9\xe2\x82\xac";  // "abéé€"
  for (size_t n = 0; n < s.size(); ++n) {
    const std::string e = ellipsize(s, n);
    const std::string body = e.substr(0, e.size() - 3);
    CHECK(s.compare(0, body.size(), body) == 0);
    // The cut never lands inside a character: the next byte of s is not a continuation byte.
    CHECK((body.size() == s.size() || (static_cast<unsigned char>(s[body.size()]) & 0xC0) != 0x80));
  }
  CHECK(ellipsize(s, 100) == s);
}

TEST_CASE("strict JSON: duplicate keys, 64-bit wrap and deep nesting are errors naming them", "[parse]") {
  CHECK_THAT(error_of([] { json_strict::parse(R"({"r": 224, "r": 128})", "subnet JSON"); }),
             Catch::Contains("'r'") && Catch::Contains("twice") && Catch::Contains("subnet JSON"));
  CHECK_THAT(error_of([] { json_strict::parse(R"({"a": {"k": 1, "k": 2}})", "x"); }), Catch::Contains("'k'"));
  CHECK_NOTHROW(json_strict::parse(R"([{"k": 1}, {"k": 2}])", "x"));  // same key in different objects
  CHECK_THAT(error_of([] { json_strict::parse(std::string(100, '[') + std::string(100, ']'), "x"); }), Catch::Contains("deeper"));
  const auto j = json_strict::parse(R"({"t": 18446744073709551615, "f": 224.5, "n": -1, "s": "2", "big": 1e300})", "x");
  CHECK_THAT(error_of([&] { json_strict::integer(j["t"], "threads", 1, 1024); }),
             Catch::Contains("threads") && Catch::Contains("18446744073709551615"));
  CHECK_THAT(error_of([&] { json_strict::integer(j["f"], "r", 1, 1024); }), Catch::Contains("not an integer"));
  CHECK_THAT(error_of([&] { json_strict::integer(j["n"], "r", 1, 1024); }), Catch::Contains("-1"));
  CHECK_THAT(error_of([&] { json_strict::integer(j["s"], "r", 1, 1024); }), Catch::Contains("string"));
  CHECK_THAT(error_of([&] { json_strict::number(j["big"], "ms", 0, 1e9); }), Catch::Contains("outside"));
  CHECK(json_strict::integer(j["n"], "x", -5, 5) == -1);
}

TEST_CASE("level sets: empty sets and repeated levels are refused at load", "[levels]") {
  CHECK_NOTHROW(LevelSet::from_json(levels_json(level(0) + "," + level(1))));
  CHECK_THAT(error_of([] { LevelSet::from_json(levels_json("")); }), Catch::Contains("empty"));
  CHECK_THAT(error_of([] { LevelSet::from_json(levels_json(level(2) + "," + level(2))); }),
             Catch::Contains("levels[1]") && Catch::Contains("level 2 appears twice"));
  CHECK_THAT(error_of([] { LevelSet::from_json(R"({"supernet": "ofa_mbv3_d234_e346_k357_w1.2", "levels": [], "levels": []})"); }),
             Catch::Contains("twice"));
  CHECK_THAT(error_of([] { LevelSet::from_json(levels_json(fmt::format(R"({{"level": 18446744073709551615, "arch": {}, "top1_percent": 70, "latency_ms": 10}})", kArch))); }),
             Catch::Contains("18446744073709551615"));
}

TEST_CASE("JSON files: FIFOs, devices and folders are refused without blocking, sizes are capped", "[levels]") {
  dynn::test::TempDir dir("hostile-json");
  const fs::path fifo = dir.path / "levels.json";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THAT(error_of([&] { LevelSet::load(fifo.string()); }), Catch::Contains("FIFO") && Catch::Contains("levels.json"));
  CHECK_THAT(error_of([&] { Profile::load(fifo.string()); }), Catch::Contains("FIFO"));
  CHECK_THAT(error_of([] { LevelSet::load("/dev/zero"); }), Catch::Contains("/dev/zero"));
  CHECK_THAT(error_of([&] { LevelSet::load(dir.path.string()); }), Catch::Contains("folder"));
  ErrorCode code{};
  error_of([&] { LevelSet::load((dir.path / "missing.json").string()); }, &code);
  CHECK(code == ErrorCode::NotFound);
  // A sparse file larger than the text cap is refused by size, not read.
  const fs::path huge = dir.path / "huge.json";
  { std::ofstream f(huge); }
  fs::resize_file(huge, (size_t(64) << 20) + 1);
  CHECK_THAT(error_of([&] { LevelSet::load(huge.string()); }), Catch::Contains("bytes"));
}

TEST_CASE("atomic saves: a failed save leaves no temporary file; empty and folder paths are refused", "[levels]") {
  dynn::test::TempDir dir("hostile-save");
  const LevelSet s = LevelSet::from_json(levels_json(level(0)));
  CHECK_THAT(error_of([&] { s.save(""); }), Catch::Contains("empty"));
  CHECK(!fs::exists(".tmp"));
  CHECK_THAT(error_of([&] { s.save(dir.path.string()); }), Catch::Contains("folder"));
  // The rename fails (the target is a non-empty folder): the .tmp must be gone afterwards.
  fs::create_directories(dir.path / "taken" / "x");
  const fs::path target = dir.path / "taken";
  error_of([&] { s.save(target.string()); });
  CHECK(!fs::exists(target.string() + ".tmp"));
  // Profiles share the same writer.
  Profile p;
  CHECK_THAT(error_of([&] { p.save(""); }), Catch::Contains("empty"));
  // A missing folder is a clear error too.
  CHECK_THAT(error_of([&] { s.save((dir.path / "no" / "such" / "l.json").string()); }), Catch::Contains("l.json"));
  CHECK(!fs::exists(dir.path / "no"));
  s.save((dir.path / "ok.json").string());
  CHECK(LevelSet::load((dir.path / "ok.json").string()).levels.size() == 1);
  CHECK(!fs::exists(dir.path / "ok.json.tmp"));
}

TEST_CASE("latency table directories: file names are strict and an uncovered resolution is named", "[lut]") {
  dynn::test::TempDir dir("hostile-lut");
  LatencyTable t(1.2, "t");
  for (const auto& l : t.all_layers(160)) t.set(160, l.key(), {1, 1.0, 0.0});
  t.save_dir((dir.path / "ok").string());
  const LatencyTable back = LatencyTable::load_dir((dir.path / "ok").string(), 1.2);
  CHECK(back.resolutions() == std::vector<int>{160});
  CHECK_THAT(error_of([&] { back.predict_ms(SubnetConfig::smallest(176)); }),
             Catch::Contains("176") && Catch::Contains("r = 160"));
  auto variant = [&](const std::string& name) {
    const fs::path d = dir.path / ("v-" + name);
    fs::create_directories(d);
    fs::copy_file(dir.path / "ok" / "160_lookup_table.json", d / "160_lookup_table.json");
    fs::copy_file(dir.path / "ok" / "160_lookup_table.json", d / name);
    return d.string();
  };
  CHECK_THAT(error_of([&] { LatencyTable::load_dir(variant("0160_lookup_table.json")); }), Catch::Contains("0160_lookup_table.json"));
  CHECK_THAT(error_of([&] { LatencyTable::load_dir(variant("0_lookup_table.json")); }), Catch::Contains("0_lookup_table.json"));
  CHECK_THAT(error_of([&] { LatencyTable::load_dir(variant("99999_lookup_table.json")); }), Catch::Contains("99999"));
  // Duplicate keys inside a table file.
  const fs::path d = dir.path / "dupkey";
  fs::create_directories(d);
  std::ofstream(d / "160_lookup_table.json") << R"({"a": {"count": 1, "mean": 1}, "a": {"count": 1, "mean": 2}})";
  CHECK_THAT(error_of([&] { LatencyTable::load_dir(d.string()); }), Catch::Contains("'a'") && Catch::Contains("twice"));
  // A FIFO named like a table.
  const fs::path f = dir.path / "fifo";
  fs::create_directories(f);
  REQUIRE(::mkfifo((f / "160_lookup_table.json").c_str(), 0600) == 0);
  CHECK_THAT(error_of([&] { LatencyTable::load_dir(f.string()); }), Catch::Contains("FIFO"));
}

TEST_CASE("sub-network specs: repeated keys, wrapped and fractional numbers are errors naming the key", "[parse]") {
  const std::string ks(20, '3'), e(20, '3');
  const std::string compact = "ks=" + ks + " e=" + e + " d=22222 r=224";
  CHECK(SubnetConfig::parse(compact).r == 224);
  CHECK_THAT(error_of([&] { SubnetConfig::parse(compact + " r=128"); }), Catch::Contains("'r' given twice"));
  CHECK_THAT(error_of([&] { SubnetConfig::parse("ks=" + ks + " " + compact); }), Catch::Contains("'ks' given twice"));
  const std::string lists = R"("ks":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"e":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"d":[2,2,2,2,2])";
  CHECK_THAT(error_of([&] { SubnetConfig::from_json("{" + lists + R"(,"r":224,"r":128})"); }), Catch::Contains("'r'") && Catch::Contains("twice"));
  CHECK_THAT(error_of([&] { SubnetConfig::from_json("{" + lists + R"(,"r":18446744073709551615})"); }),
             Catch::Contains("'r'") && Catch::Contains("18446744073709551615") && !Catch::Contains("-1 "));
  CHECK_THAT(error_of([&] { SubnetConfig::from_json("{" + lists + R"(,"r":224.5})"); }), Catch::Contains("'r'") && Catch::Contains("not an integer"));
  CHECK_THAT(error_of([&] { SubnetConfig::from_json("{" + lists + R"(,"r":1e300})"); }), Catch::Contains("'r'"));
  CHECK_THAT(error_of([&] { SubnetConfig::from_json(R"({"ks":[18446744073709551615],"e":[3],"d":[2],"r":224})"); }), Catch::Contains("ks[0]"));
}

TEST_CASE("operating points and controller parameters: knob values never wrap, knobs never repeat", "[parse]") {
  Profile p;
  OperatingPoint op;
  op.id = "a";
  op.subnet = SubnetConfig::smallest(160);
  op.device = "cpu";
  op.hardware = {{"threads", 2}};
  op.latency_ms = op.latency_p90_ms = 10;
  op.accuracy = 0.7;
  p.points.push_back(op);
  const std::string good = p.to_json();
  CHECK_NOTHROW(Profile::from_json(good));
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  CHECK_THAT(error_of([&] { Profile::from_json(replaced(R"("threads": 2)", R"("threads": 18446744073709551615)")); }),
             Catch::Contains("hardware.threads") && Catch::Contains("18446744073709551615"));
  CHECK_THAT(error_of([&] { Profile::from_json(replaced(R"("threads": 2)", R"("threads": 2, "threads": 1)")); }),
             Catch::Contains("'threads'") && Catch::Contains("twice"));
  CHECK_THAT(error_of([] { make_controller("fixed", R"({"point": 18446744073709551615})"); }), Catch::Contains("point"));
  CHECK_THAT(error_of([] { make_controller("pareto", R"({"jitter_k": 1, "jitter_k": 2})"); }), Catch::Contains("twice"));
  CHECK_THAT(error_of([] { Targets::from_json(R"({"latency_ms": 10, "latency_ms": 20})"); }), Catch::Contains("twice"));
}

TEST_CASE("error texts quote whole UTF-8 characters of the input", "[parse]") {
  const std::string m = error_of([] { SubnetConfig::parse("ks=33\xc3\xa9" "33 e=3 d=2 r=224"); });
  CHECK_THAT(m, Catch::Contains("'\xc3\xa9'"));
  // Every message is valid UTF-8 when the input was.
  size_t i = 0;
  while (i < m.size()) {
    const auto c = static_cast<unsigned char>(m[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    REQUIRE(len > 0);
    for (size_t k = 1; k < len; ++k) REQUIRE((static_cast<unsigned char>(m[i + k]) & 0xC0) == 0x80);
    i += len;
  }
}
