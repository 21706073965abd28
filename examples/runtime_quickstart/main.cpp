// The example of docs/runtime.md: a runtime manager on the simulated Jetson Xavier NX keeps a
// 60 ms latency target with Dynamic-OFA's levels while a co-runner takes part of the GPU.
//   dynn-runtime-quickstart [path/to/shared]   (default: the configured DYNN_SHARED_DIR)
#include <dynn/platform.hpp>
#include <dynn/platform/simulated.hpp>
#include <dynn/profile.hpp>
#include <dynn/runtime.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) try {
  std::string shared = argc > 1 ? argv[1] : DYNN_SHARED_DIR_DEFAULT;
  // 1. A platform: here the simulator (virtual time); Platform::detect() on a real board.
  auto sim = std::make_shared<dynn::SimulatedPlatform>();
  sim->add_interference({dynn::SimInterference::Target::Gpu, /*start s*/ 2.5, /*duration s*/ 10, /*share*/ 0.25});

  // 2. Operating points: Dynamic-OFA's six GPU levels (sub-network, recorded latency and top-1).
  auto points = dynn::LevelSet::load(shared + "/data/dynamic_ofa/nets_6_levels.json").to_operating_points("gpu");

  // 3. A model. Any dynn::DynamicModel (OfaMbv3Supernet with LibTorch); here a SimulatedModel
  //    without a network: an inference is simulated work of the level's recorded latency.
  dynn::SimulatedModel::Options timing;
  timing.recorded = points;
  timing.device = "gpu";
  auto model = std::make_shared<dynn::SimulatedModel>(*sim, nullptr, timing);

  // 4. The manager: one app with a controller from the registry and its targets.
  dynn::AppOptions app;
  app.model = model;
  app.points = points;
  app.controller = dynn::make_controller("pareto", R"({"margin": 0.02})");
  app.targets.latency_ms = 60;
  app.knobs = {"gpu.freq"};
  dynn::RuntimeManager manager(sim, std::move(app));

  std::vector<float> logits(1000);
  std::vector<float> pixels;  // a SimulatedModel without a network reads no pixels, but checks the shape
  while (sim->now() < 8.0) {
    const dynn::OperatingPoint& next = manager.plan();  // size the input for next.subnet.resolution()
    pixels.resize(3 * static_cast<size_t>(next.subnet.resolution()) * next.subnet.resolution());
    auto r = manager.infer(pixels.data(), 1, 3, next.subnet.resolution(), next.subnet.resolution(), logits.data(), logits.size());
    if (!r.met) std::cout << "t=" << sim->now() << " s: " << next.id << " took " << r.latency_ms << " ms\n";
    if (sim->now() > 5.0) manager.set_targets(dynn::Targets{70, 0, 0, 0});  // targets may change at any step
  }
  std::cout << manager.telemetry().summary().to_string() << "\n";
  manager.telemetry().write_svg("runtime_quickstart.svg", "pareto, 60 ms, GPU co-runner at 2.5 s");
  manager.telemetry().write_csv("runtime_quickstart.csv");
  return 0;
} catch (const std::exception& e) {
  std::cerr << "error: " << e.what() << "\n";
  return 1;
}
