// Sub-network configurations of a once-for-all supernet and the search space they live in.
//
// A SubnetConfig is the OFA "arch dict": per-block kernel size (ks) and expand ratio (e), per-stage
// depth (d) and the input resolution (r). ks/e are indexed by absolute block position, also for
// blocks that depth skips; the canonical form makes those entries irrelevant to equality/hashing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dynn {

// The elastic dimensions of a supernet family.
struct SearchSpace {
  std::string family;              // e.g. "ofa_mbv3"
  std::vector<int> ks_values;      // allowed kernel sizes, ascending
  std::vector<int> e_values;       // allowed expand ratios, ascending
  std::vector<int> d_values;       // allowed stage depths, ascending
  int num_stages = 0;
  int blocks_per_stage = 0;        // = max depth; ks/e have num_stages*blocks_per_stage entries
  int min_resolution = 0;          // accepted input sizes (inclusive)
  int max_resolution = 0;
  std::vector<int> trained_resolutions;  // sizes the supernet was trained at (informative)

  int num_blocks() const { return num_stages * blocks_per_stage; }

  // OFA MobileNetV3 (ks {3,5,7}, e {3,4,6}, d {2,3,4}, 5 stages of up to 4 blocks, r 128..224 step 4
  // trained; any r in 32..1024 runs).
  static SearchSpace ofa_mbv3();
};

struct SubnetConfig {
  static constexpr const char* kFamily = "ofa_mbv3";  // its family (dynn::Subnet)
  std::vector<int> ks;  // num_blocks entries
  std::vector<int> e;   // num_blocks entries
  std::vector<int> d;   // num_stages entries
  int r = 224;

  // Uniform config: every block ks=k, e=e, every stage depth d.
  static SubnetConfig uniform(int k, int e, int d, int r, const SearchSpace& space = SearchSpace::ofa_mbv3());
  static SubnetConfig smallest(int r = 224, const SearchSpace& space = SearchSpace::ofa_mbv3());
  static SubnetConfig largest(int r = 224, const SearchSpace& space = SearchSpace::ofa_mbv3());

  // Throws dynn::Error(InvalidArgument) naming the field, index and value that is wrong.
  void validate(const SearchSpace& space = SearchSpace::ofa_mbv3()) const;

  // Block b (0-based over all num_blocks) runs iff its index within the stage < d[stage].
  bool block_active(int block, const SearchSpace& space = SearchSpace::ofa_mbv3()) const;
  int total_depth() const;  // sum of d

  // Skipped blocks get the smallest ks/e of the space, so configs that run the same network compare equal.
  SubnetConfig canonical(const SearchSpace& space = SearchSpace::ofa_mbv3()) const;

  // JSON in OFA arch-dict form: {"ks":[...],"e":[...],"d":[...],"r":224}. Parsing also accepts
  // "r":[224], "image_size":224, "wid":null (published tools) and "family":"ofa_mbv3"; unknown
  // keys are an error.
  static SubnetConfig from_json(const std::string& text, const SearchSpace& space = SearchSpace::ofa_mbv3());
  std::string to_json() const;

  // Compact log form: "ks=7777... e=6666... d=44444 r=224" (digits, one per entry); parse accepts it back.
  std::string to_string() const;
  static SubnetConfig parse(const std::string& text, const SearchSpace& space = SearchSpace::ofa_mbv3());

  size_t hash() const;  // hash of the canonical form
};

// Equality of the networks that run (canonical forms).
bool operator==(const SubnetConfig& a, const SubnetConfig& b);
inline bool operator!=(const SubnetConfig& a, const SubnetConfig& b) { return !(a == b); }

}  // namespace dynn

template <>
struct std::hash<dynn::SubnetConfig> {
  size_t operator()(const dynn::SubnetConfig& c) const { return c.hash(); }
};
