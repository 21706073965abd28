// Torch-free consumer: the umbrella <dynn/dynn.hpp> with dynn::core alone (no LibTorch anywhere).
#include <dynn/dynn.hpp>

#include <cstring>
#include <iostream>

int main() {
  int fails = 0;
  auto expect = [&](bool ok, const char* what) {
    if (!ok) {
      std::cerr << "consumer_core: " << what << " failed\n";
      ++fails;
    }
  };
  expect(std::strcmp(dynn::version_string(), DYNN_VERSION_STRING) == 0, "version_string() == DYNN_VERSION_STRING");
  expect(dynn::parse_int("42", "--n", 0, 100) == 42, "parse_int");
  bool refused = false;
  try {
    dynn::parse_int("42x", "--n", 0, 100);
  } catch (const dynn::Error&) {
    refused = true;
  }
  expect(refused, "parse_int refuses trailing garbage");
  const dynn::SearchSpace space = dynn::SearchSpace::ofa_mbv3();
  expect(space.num_blocks() == 20, "SearchSpace::ofa_mbv3().num_blocks() == 20");
  const auto cfg = dynn::SubnetConfig::smallest(128, space);
  expect(cfg == dynn::SubnetConfig::parse(cfg.to_string(), space), "SubnetConfig round trip");
  auto plat = dynn::SimulatedPlatform::create("xavier-nx");
  expect(plat != nullptr, "SimulatedPlatform::create");
  std::cout << "dynn " << dynn::version_string() << " (core): " << cfg.to_string() << "\n";
  return fails ? 1 : 0;
}
