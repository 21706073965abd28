#include "dynn/profile/operating_point.hpp"

#include <cmath>

#include <fmt/format.h>

#include "dynn/device.hpp"

namespace dynn {

void OperatingPoint::validate(const std::string& where, ErrorCode code) const {
  auto range = [&](const char* field, double v, double lo, double hi) {
    if (!std::isfinite(v) || v < lo || v > hi)
      throw Error(code, fmt::format("{}.{} is {}, must be a finite number in [{}, {}]", where, field, v, lo, hi));
  };
  range("latency_ms", latency_ms, 0, kMaxLatencyMs);
  range("latency_p90_ms", latency_p90_ms, 0, kMaxLatencyMs);
  if (power_w) range("power_w", *power_w, 0, kMaxPowerW);
  if (energy_mj) range("energy_mj", *energy_mj, 0, kMaxEnergyMj);
  range("accuracy", accuracy, 0, 1);
  range("macs", macs, 0, kMaxMacs);
  range("level", level, -1, kMaxLevel);
  try {
    Device::parse(device);
  } catch (const Error& e) {
    throw Error(code, fmt::format("{}.device: {}", where, e.what()));
  }
}

}  // namespace dynn
