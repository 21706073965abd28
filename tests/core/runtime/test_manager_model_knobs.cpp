// The platform's "device" and "threads" knobs drive the model of the manager that bound them, in
// the one device vocabulary (-1 cpu, N gpu:N), and are put back through it when the manager goes.
#include <catch2/catch.hpp>

#include "dynn/platform/simulated.hpp"
#include "dynn/runtime.hpp"
#include "runtime_fixtures.hpp"

using namespace dynn;

TEST_CASE("manager: the device knob moves the bound model and is restored when the manager goes", "[runtime]") {
  auto sim = std::make_shared<SimulatedPlatform>();
  auto model = std::make_shared<CallbackModel>([](const Subnet&, const std::string&, int) {});
  REQUIRE(model->device() == "cpu");
  {
    AppOptions a;
    a.model = model;
    a.points = test::level_points({10, 20}, {0.7, 0.75}, "cpu");
    a.controller = make_controller("fixed", R"({"point": 0})");
    a.knobs = {"device"};
    RuntimeManager m(sim, std::move(a));
    Knob& dev = sim->knob("device");
    CHECK(dev.get() == -1);
    dev.set(0);
    CHECK(model->device() == "gpu");
    CHECK(dev.get() == 0);
    CHECK_THROWS_AS(dev.set(1), Error);  // the board has one GPU
  }
  CHECK(model->device() == "cpu");  // put back through the model
  sim->knob("device").set(0);       // unbound: the model no longer follows
  CHECK(model->device() == "cpu");
}

TEST_CASE("manager: points with a device outside the vocabulary are refused when the app is added", "[runtime]") {
  auto sim = std::make_shared<SimulatedPlatform>();
  AppOptions a;
  a.points = test::level_points({10}, {0.7}, "npu");
  a.controller = make_controller("fixed", R"({"point": 0})");
  CHECK_THROWS_WITH(RuntimeManager(sim, std::move(a)), Catch::Contains("'npu'") && Catch::Contains("point 'L0'"));
}
