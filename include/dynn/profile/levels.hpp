// Dynamic-OFA "levels" files (nets_6_levels.json, nets_7_levels.json in ../shared/data/dynamic_ofa):
// the runtime demo's Pareto sub-networks with their recorded ImageNet top-1 and latency.
//   {"supernet": "ofa_mbv3_d234_e346_k357_w1.2", "source": "...",
//    "levels": [{"level": 0, "arch": {"wid": null, "ks": [..], "e": [..], "d": [..], "r": [176]},
//                "top1_percent": 74.202, "latency_ms": 41.16}, ...]}
// dynn writes the same format (with "r" as a plain integer, which both readers accept).
#pragma once

#include <string>
#include <vector>

#include "dynn/profile/operating_point.hpp"

namespace dynn {

struct Level {
  int level = 0;
  SubnetConfig subnet;
  double top1_percent = 0;  // recorded ImageNet top-1 (%)
  double latency_ms = 0;    // recorded latency (ms)
};

struct LevelSet {
  std::string supernet;  // e.g. "ofa_mbv3_d234_e346_k357_w1.2"
  std::string source;    // where the levels came from (free text)
  std::vector<Level> levels;

  // Validates every field; errors (Parse) name the field and the level index ("levels[2].arch: ...").
  // An empty "levels" array and a level number given twice are errors.
  static LevelSet from_json(const std::string& text);
  static LevelSet load(const std::string& path);
  // Error(InvalidArgument) naming the problem: no levels, a level number twice, an invalid
  // supernet name or sub-network, a non-finite or out-of-range figure. to_json, save and
  // to_operating_points check first, so no set is written that from_json would refuse.
  void validate() const;
  std::string to_json() const;
  void save(const std::string& path) const;

  // Operating points "L<level>" on `device`: accuracy = top1/100 (Published), latency = recorded,
  // MACs for the supernet's width multiplier, level set.
  std::vector<OperatingPoint> to_operating_points(const std::string& device = "gpu") const;
};

}  // namespace dynn
