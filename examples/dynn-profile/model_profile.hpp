// Profiling the real LibTorch supernet on this machine (built when dynn::dynn is available).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "dynn/profile.hpp"

struct ModelProfileOptions {
  std::string weights;      // OFA checkpoint; empty: a random supernet of `width`
  double width = 1.0;
  int threads = 0;          // 0: leave as is
  // The sub-networks: an OFA MobileNetV3 model takes mbv3_subnets() (--config / --levels); a
  // model of another family reads `configs` with its own rules (largest[@r], smallest[@r], JSON).
  std::function<std::vector<std::pair<std::string, dynn::Subnet>>()> mbv3_subnets;
  std::vector<std::string> configs;
  bool have_levels = false;
  dynn::ProfilerOptions profiler;
  std::string predictor;    // acc_predictor.pth for predicted accuracy (optional)
  std::string lut_out;      // write a per-layer look-up table measured on this machine
  std::vector<int> lut_resolutions;
};

int profile_model(const ModelProfileOptions& o);
