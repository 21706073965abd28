// load_latency_tables: LUT directories into a SimulatedPlatform. It lives in the profile layer
// because the platform layer must not read profile formats; the simulator only sees
// SimLatencyModel.
#include <memory>

#include "dynn/profile/latency_table.hpp"

namespace dynn {

void load_latency_tables(SimulatedPlatform& sim, const std::string& cpu_dir, const std::string& gpu_dir) {
  auto cpu = std::make_shared<LatencyTable>(LatencyTable::load_dir(cpu_dir));
  std::shared_ptr<LatencyTable> gpu;
  if (!gpu_dir.empty()) gpu = std::make_shared<LatencyTable>(LatencyTable::load_dir(gpu_dir));
  sim.set_latency_tables(cpu, gpu);
}

}  // namespace dynn
