#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "dynn/error.hpp"
#include "runtime_fixtures.hpp"

using namespace dynn;

TEST_CASE("registry: built-ins by name with JSON parameters", "[runtime]") {
  auto names = ControllerRegistry::global().names();
  for (const char* n : {"fixed", "performance", "powersave", "ondemand", "schedutil", "dynamic-ofa", "pareto", "feedback", "energy"})
    CHECK(std::find(names.begin(), names.end(), n) != names.end());
  auto c = make_controller("pareto", R"({"margin": 0.1, "gain_down": 0.5})");
  CHECK(c->name() == "pareto");
  CHECK(make_controller("schedutil", R"({"rate_limit_ms": 5, "knobs": ["gpu.freq"]})")->name() == "schedutil");
  CHECK(make_controller("fixed", R"({"point": "L3", "hardware": {"gpu.freq": 500}})")->name() == "fixed");
  CHECK(make_controller("fixed", R"({"point": 2})")->name() == "fixed");
  CHECK(make_controller("dynamic-ofa", "")->name() == "dynamic-ofa");
  CHECK_FALSE(ControllerRegistry::global().description("energy").empty());
}

TEST_CASE("registry: unknown names and bad parameters name what is wrong", "[runtime]") {
  auto code = [](auto fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::Internal;
  };
  CHECK_THROWS_WITH(make_controller("pid"), Catch::Contains("'pid'") && Catch::Contains("pareto"));
  CHECK(code([] { make_controller("pid"); }) == ErrorCode::NotFound);
  CHECK_THROWS_WITH(make_controller("pareto", R"({"margin": 2})"), Catch::Contains("margin") && Catch::Contains("2"));
  CHECK_THROWS_WITH(make_controller("pareto", R"({"margin": "big"})"), Catch::Contains("margin") && Catch::Contains("number"));
  CHECK_THROWS_WITH(make_controller("pareto", R"({"marginn": 0.1})"), Catch::Contains("marginn") && Catch::Contains("known: "));
  CHECK(code([] { make_controller("pareto", R"({"marginn": 0.1})"); }) == ErrorCode::InvalidArgument);
  CHECK_THROWS_WITH(make_controller("pareto", "{margin: 1"), Catch::Contains("not valid JSON"));
  CHECK(code([] { make_controller("pareto", "{margin: 1"); }) == ErrorCode::Parse);
  CHECK_THROWS_WITH(make_controller("pareto", "[1, 2]"), Catch::Contains("object"));
  CHECK_THROWS_WITH(make_controller("dynamic-ofa", R"({"window": 0})"), Catch::Contains("window"));
  CHECK_THROWS_WITH(make_controller("dynamic-ofa", R"({"window": 2.5})"), Catch::Contains("integer"));
  CHECK_THROWS_WITH(make_controller("dynamic-ofa", R"({"hysteresis": "sticky"})"), Catch::Contains("sticky") && Catch::Contains("lock-up"));
  CHECK_THROWS_WITH(make_controller("fixed", R"({"point": -3})"), Catch::Contains("point"));
  CHECK_THROWS_WITH(make_controller("fixed", R"({"hardware": {"gpu.freq": "max"}})"), Catch::Contains("gpu.freq"));
  CHECK_THROWS_WITH(make_controller("schedutil", R"({"knobs": "gpu.freq"})"), Catch::Contains("knobs"));
  // ondemand has no rate limit: a schedutil-only key is unknown there.
  CHECK_THROWS_WITH(make_controller("ondemand", R"({"rate_limit_ms": 5})"), Catch::Contains("rate_limit_ms"));
}

namespace {
// An application's own controller: always the fastest point.
class Fastest : public Controller {
 public:
  explicit Fastest(int bias) : m_bias(bias) {}
  std::string name() const override { return "fastest"; }
  void bind(const ControlContext& ctx) override { m_n = static_cast<int>(ctx.points.size()); }
  void step(const Observation&, Decision& out) override { out.point = std::min(m_bias, m_n - 1); }

 private:
  int m_bias, m_n = 0;
};
}  // namespace

TEST_CASE("registry: applications register their own controllers", "[runtime]") {
  ControllerRegistry r;  // a private one, empty
  CHECK(r.names().empty());
  r.add("fastest", "always point <bias>", [](ControllerParams& p) {
    return std::make_unique<Fastest>(static_cast<int>(p.integer("bias", 0, 0, 100)));
  });
  CHECK(r.contains("fastest"));
  auto c = r.create("fastest", R"({"bias": 2})");
  auto ctx = test::context_of(test::dofa_points());
  test::Driver d(*c, ctx);
  CHECK(d.first() == 2);
  CHECK_THROWS_WITH(r.create("fastest", R"({"bias": 2, "x": 1})"), Catch::Contains("'x'"));
  CHECK_THROWS_WITH(r.add("fastest", "", [](ControllerParams&) { return std::unique_ptr<Controller>(); }),
                    Catch::Contains("already registered"));
  r.add("fastest", "", [](ControllerParams&) { return std::unique_ptr<Controller>(); }, true);
  CHECK_THROWS_WITH(r.create("fastest"), Catch::Contains("returned nothing"));
  CHECK(r.remove("fastest"));
  CHECK_FALSE(r.contains("fastest"));
  CHECK_THROWS_AS(r.create("fastest"), Error);
  CHECK_THROWS_WITH(r.add("", "", [](ControllerParams&) { return std::unique_ptr<Controller>(); }), Catch::Contains("empty name"));
  r.register_builtins();
  CHECK(r.contains("pareto"));
}

TEST_CASE("targets: validation and JSON", "[runtime]") {
  auto t = Targets::from_json(R"({"latency_ms": 60, "accuracy": 0.76})");
  CHECK(t.latency_ms == 60);
  CHECK(t.accuracy == 0.76);
  CHECK_FALSE(t.has_power());
  CHECK(Targets::from_json(t.to_json()) == t);
  CHECK_THROWS_WITH(Targets::from_json(R"({"latency": 60})"), Catch::Contains("latency"));
  CHECK_THROWS_WITH(Targets::from_json(R"({"accuracy": 76})"), Catch::Contains("0.76"));
  CHECK_THROWS_WITH(Targets::from_json(R"({"power_w": -1})"), Catch::Contains("power_w"));
  CHECK_THROWS_WITH(Targets::from_json(R"({"power_w": "x"})"), Catch::Contains("power_w"));
  CHECK_THROWS_WITH(Targets::from_json("nope"), Catch::Contains("not valid JSON"));
  Targets nan;
  nan.latency_ms = std::nan("");
  CHECK_THROWS_WITH(nan.validate(), Catch::Contains("latency_ms"));
}

TEST_CASE("controller parameters and targets: wrapped, huge and repeated values are errors naming them", "[runtime]") {
  auto err = [](auto fn, ErrorCode want) {
    try {
      fn();
    } catch (const Error& e) {
      CHECK(e.code() == want);
      return std::string(e.what());
    }
    FAIL("no error");
    return std::string();
  };
  const auto bad = ErrorCode::InvalidArgument;
  // Integer parameters: no 64-bit wrap (18446744073709551615 is not -1), no fractions.
  for (const char* v : {"18446744073709551615", "9223372036854775808", "4294967297", "-1"})
    CHECK_THAT(err([&] { make_controller("dynamic-ofa", fmt::format(R"({{"window": {}}})", v)); }, bad),
               Catch::Contains("'window'") && Catch::Contains(v));
  CHECK_THAT(err([] { make_controller("dynamic-ofa", R"({"initial_level": 18446744073709551615})"); }, bad),
             Catch::Contains("initial_level") && Catch::Contains("18446744073709551615"));
  CHECK_THAT(err([] { make_controller("dynamic-ofa", R"({"warmup": 1e300})"); }, bad), Catch::Contains("warmup") && Catch::Contains("not an integer"));
  CHECK_THAT(err([] { make_controller("dynamic-ofa", R"({"window": 99999999999999999999})"); }, ErrorCode::Parse),
             Catch::Contains("'window'") && Catch::Contains("99999999999999999999"));
  CHECK_THAT(err([] { make_controller("fixed", R"({"point": 18446744073709551615})"); }, bad),
             Catch::Contains("'point'") && Catch::Contains("18446744073709551615"));
  CHECK_THAT(err([] { make_controller("fixed", R"({"point": 1.5})"); }, bad), Catch::Contains("'point'"));
  CHECK_THAT(err([] { make_controller("fixed", R"({"hardware": {"gpu.freq": 18446744073709551615}})"); }, bad),
             Catch::Contains("gpu.freq") && Catch::Contains("18446744073709551615"));
  // Number parameters: the literal quoted, not its rounded double; 1e999 is refused by the parser.
  CHECK_THAT(err([] { make_controller("pareto", R"({"margin": 18446744073709551615})"); }, bad),
             Catch::Contains("'margin'") && Catch::Contains("18446744073709551615"));
  CHECK_THAT(err([] { make_controller("pareto", R"({"margin": 1e999})"); }, ErrorCode::Parse), Catch::Contains("1e999"));
  CHECK_THAT(err([] { make_controller("pareto", R"({"margin": -1e999})"); }, ErrorCode::Parse), Catch::Contains("1e999"));
  // Repeated keys, also inside a knob setting.
  CHECK_THAT(err([] { make_controller("dynamic-ofa", R"({"window": 5, "window": 20})"); }, ErrorCode::Parse),
             Catch::Contains("'window'") && Catch::Contains("twice"));
  CHECK_THAT(err([] { make_controller("fixed", R"({"hardware": {"gpu.freq": 500, "gpu.freq": 1000}})"); }, ErrorCode::Parse),
             Catch::Contains("'gpu.freq'") && Catch::Contains("twice") && Catch::Contains("hardware"));
  // Unknown keys are quoted shortened.
  CHECK(err([] { make_controller("pareto", "{\"" + std::string(5000, 'k') + "\": 1}"); }, bad).size() < 1000);
  // Targets.
  CHECK_THAT(err([] { Targets::from_json(R"({"accuracy": 18446744073709551615})"); }, bad), Catch::Contains("accuracy"));
  CHECK_THAT(err([] { Targets::from_json(R"({"latency_ms": 1e999})"); }, ErrorCode::Parse), Catch::Contains("1e999"));
  CHECK_THAT(err([] { Targets::from_json(R"({"accuracy": 0.5, "accuracy": 0.9})"); }, ErrorCode::Parse), Catch::Contains("'accuracy'"));
  CHECK_THAT(err([] { Targets::from_json(R"({"power_w": true})"); }, ErrorCode::Parse), Catch::Contains("power_w"));
  CHECK(Targets::from_json(R"({"latency_ms": 1e300})").latency_ms == 1e300);
}
