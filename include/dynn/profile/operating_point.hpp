// An operating point: one sub-network on one device under one hardware setting, with what it costs
// (latency, power, energy) and what it delivers (accuracy). Controllers choose among these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dynn/platform/knob.hpp"  // HardwareSetting
#include "dynn/error.hpp"
#include "dynn/subnet.hpp"

namespace dynn {

enum class AccuracySource { Unknown, Measured, Predicted, Published };
const char* accuracy_source_name(AccuracySource s) noexcept;

struct OperatingPoint {
  std::string id;                 // unique within a profile, e.g. "L3@gpu:1109MHz"
  Subnet subnet;                  // of any family (a SubnetConfig converts)
  std::string device = "cpu";     // "cpu", "cuda:0", "gpu" (simulated Jetson GPU)
  HardwareSetting hardware;
  double latency_ms = 0;          // median
  double latency_p90_ms = 0;
  std::optional<double> power_w;            // mean power while running, where measured
  std::optional<double> energy_mj;          // energy per inference, where measured
  double accuracy = 0;            // top-1 as a fraction (0..1)
  AccuracySource accuracy_source = AccuracySource::Unknown;
  double macs = 0;                // multiply-accumulates per image
  int level = -1;                 // index along a Pareto set of sub-networks, where assigned

  // Field ranges (the minimum is 0, -1 for level): validate() and the profile JSON reader use these.
  static constexpr double kMaxLatencyMs = 1e9, kMaxPowerW = 1e6, kMaxEnergyMj = 1e12, kMaxMacs = 1e15;
  static constexpr int kMaxLevel = 1000000;

  // The one check of a point's fields, for every way a point comes in (profile JSON, the C ABI):
  // latency_ms, latency_p90_ms 0..1e9; power_w 0..1e6; energy_mj 0..1e12; accuracy 0..1; macs
  // 0..1e15; level -1..1e6; a device of dynn/device.hpp. Throws `code` with a message
  // "<where>.<field> is <value>, must be ...".
  void validate(const std::string& where, ErrorCode code = ErrorCode::InvalidArgument) const;
};

}  // namespace dynn
