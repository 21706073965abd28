// An operating point: one sub-network on one device under one hardware setting, with what it costs
// (latency, power, energy) and what it delivers (accuracy). Controllers choose among these.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "dynn/subnet_config.hpp"

namespace dynn {

// Knob name -> value for the numeric knobs of a Platform (frequencies in the knob's unit, thread
// counts, affinity masks, device index). Knobs not listed are left as they are.
using HardwareSetting = std::map<std::string, int64_t>;

enum class AccuracySource { Unknown, Measured, Predicted, Published };
const char* accuracy_source_name(AccuracySource s) noexcept;

struct OperatingPoint {
  std::string id;                 // unique within a profile, e.g. "L3@gpu:1109MHz"
  SubnetConfig subnet;
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
};

}  // namespace dynn
