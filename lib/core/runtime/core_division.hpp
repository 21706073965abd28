// Core division between CPU apps of one manager: a pure function, so the policy is tested apart
// from the manager's bookkeeping. Each app gets a contiguous share of the CPUs, first evenly, then
// each period the app with the least slack (mean latency / target highest, above 0.95) takes one
// core from the app with the most (below 0.85), if that one keeps at least its minimum.
#pragma once

#include <cstdint>
#include <vector>

namespace dynn::runtime_detail {

struct CoreShare {
  int min_cores = 1;
  uint64_t mask = 0;      // current share (0 = none yet)
  int slack_n = 0;        // measurements since the last division
  double slack_sum = 0;   // sum of latency / target over them
};

inline int popcount64(uint64_t m) {
  int c = 0;
  for (; m; m &= m - 1) ++c;
  return c;
}

// New masks for `shares` over the sorted CPU ids `cpus`; empty when the CPUs cannot give every app
// its minimum (affinity is then left alone).
std::vector<uint64_t> divide_cores(const std::vector<int>& cpus, const std::vector<CoreShare>& shares);

}  // namespace dynn::runtime_detail
