#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "dynn/error.hpp"
#include "runtime_fixtures.hpp"
#include "test_support.hpp"

using namespace dynn;

namespace {
std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
Telemetry sample() {
  Telemetry t({"gpu.freq", "threads"}, {"L0", "L1"}, {"MHz", "threads"});
  for (int i = 0; i < 10; ++i) {
    TelemetryRow r;
    r.step = static_cast<uint64_t>(i);
    r.time_s = i * 0.05;
    r.latency_ms = i < 8 ? 50 : 70;
    r.target_latency_ms = 60;
    r.point = i < 5 ? 1 : 0;
    r.level = r.point;
    r.accuracy = r.point ? 0.78 : 0.74;
    r.power_w = 5 + i;
    r.energy_mj = r.power_w * r.latency_ms;
    r.temperature_c = 40;
    int64_t k[2] = {1000 - 100 * (i % 3), 2};
    t.add(r, k);
  }
  return t;
}
}  // namespace

TEST_CASE("telemetry: summary", "[runtime]") {
  auto t = sample();
  auto s = t.summary();
  CHECK(s.count == 10);
  CHECK(s.misses == 2);
  CHECK(s.within_target == Approx(0.8));
  CHECK(s.mean_accuracy == Approx(0.76));
  CHECK(s.max_latency_ms == 70);
  CHECK(s.switches == 1);
  CHECK(s.mean_power_w == Approx(9.5));
  auto tail = t.summary(8);
  CHECK(tail.count == 2);
  CHECK(tail.within_target == 0);
  CHECK(t.summary(20).count == 0);
  CHECK_THAT(s.to_string(), Catch::Contains("80.00% within target"));
}

TEST_CASE("telemetry: CSV, JSON and SVG files", "[runtime]") {
  auto t = sample();
  test::TempDir dir("telemetry");
  t.write_csv((dir.path / "t.csv").string());
  t.write_json((dir.path / "t.json").string());
  t.write_svg((dir.path / "t.svg").string(), "a <title>");
  auto csv = slurp(dir.path / "t.csv");
  std::istringstream lines(csv);
  std::string header, first;
  std::getline(lines, header);
  std::getline(lines, first);
  CHECK_THAT(header, Catch::StartsWith("step,time_s,latency_ms,target_latency_ms") && Catch::EndsWith(",gpu.freq,threads"));
  CHECK(first == "0,0,50,60,0,0,1,L1,1,0.78,5,250,40,0,1000,2");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 11);
  auto j = nlohmann::json::parse(slurp(dir.path / "t.json"));
  CHECK(j["format"] == "dynn-telemetry");
  REQUIRE(j["rows"].size() == 10);
  CHECK(j["rows"][9]["latency_ms"] == 70);
  CHECK(j["rows"][9]["knobs"]["gpu.freq"] == 1000);
  CHECK(j["rows"][0]["point_id"] == "L1");
  auto svg = slurp(dir.path / "t.svg");
  CHECK_THAT(svg, Catch::StartsWith("<svg") && Catch::Contains("a &lt;title&gt;") && Catch::Contains("frequency (MHz)") &&
                      Catch::Contains("power (W)") && Catch::Contains("threads / CPUs / device") && Catch::EndsWith("</svg>\n"));
  CHECK_THROWS_WITH(t.write_csv((dir.path / "no/such/dir/t.csv").string()), Catch::Contains("no/such/dir"));
  // Missing knob values are written empty / null.
  Telemetry u({"a"}, {});
  u.add(TelemetryRow{}, nullptr);
  CHECK_THAT(u.to_csv(), Catch::EndsWith(",\n"));
  CHECK(nlohmann::json::parse(u.to_json())["rows"][0]["knobs"]["a"].is_null());
}

TEST_CASE("telemetry plot: time from the first inference, panels only for series that exist", "[runtime]") {
  // A machine without DVFS or power sensors, a platform clock far from zero.
  Telemetry t({"threads", "affinity"}, {"a", "b"}, {"threads", "cpumask"});
  for (int i = 0; i < 20; ++i) {
    TelemetryRow r;
    r.step = static_cast<uint64_t>(i);
    r.time_s = 460 + i;
    r.latency_ms = 10;
    r.target_latency_ms = 12;
    r.point = i % 2;
    const int64_t k[2] = {1 + i % 2, 0b11};
    t.add(r, k);
  }
  const std::string svg = t.to_svg("no sensors");
  CHECK_THAT(svg, Catch::Contains("time since start (s)") && Catch::Contains(">0</text>") && Catch::Contains(">18</text>"));
  CHECK_THAT(svg, !Catch::Contains(">460</text>") && !Catch::Contains("frequency (MHz)") && !Catch::Contains("power (W)"));
  CHECK_THAT(svg, Catch::Contains("threads / CPUs / device") && Catch::Contains("affinity (CPUs)"));
  // No knobs at all: latency and point panels only.
  Telemetry bare({}, {"a"});
  TelemetryRow r;
  r.latency_ms = 5;
  bare.add(r, nullptr);
  CHECK_THAT(bare.to_svg("bare"), !Catch::Contains("threads / CPUs / device") && Catch::Contains("latency (ms)"));
}

TEST_CASE("SvgChart: bars and empty panels render", "[runtime]") {
  SvgChart c("bars", "controller");
  auto& p = c.add_panel("share (%)");
  p.categories = {"a", "b"};
  p.series.push_back({"x", {0, 1}, {50, 100}, SvgChart::Style::Bars, ""});
  c.add_panel("empty");
  auto s = c.render();
  CHECK_THAT(s, Catch::Contains("<rect x=") && Catch::Contains(">a</text>"));
}

TEST_CASE("telemetry plot: points without a level among levels (found by the search) are named", "[runtime]") {
  Telemetry t({}, {"L0", "L1", "search1@L0"});
  for (int i = 0; i < 30; ++i) {
    TelemetryRow r;
    r.time_s = i * 0.01;
    r.latency_ms = 10;
    r.point = i % 3;
    r.level = i % 3 == 2 ? -1 : i % 3;
    t.add(r, nullptr);
  }
  const std::string svg = t.to_svg("search");
  CHECK_THAT(svg, Catch::Contains("level (-1: none, e.g. found by search)"));
  CHECK_THAT(svg, Catch::Contains(">0</text>") && !Catch::Contains(">-0</text>"));
}
