// The OFA ResNet-50 family (once-for-all's OFAResNets, published as ofa_resnet50), torch-free:
// its sub-network description, the width arithmetic and MAC/parameter counts. One place computes
// every channel count, stride and feature-map size, so the LibTorch model, the counters and the
// C ABI agree.
//
// A sub-network is exactly OFA's set_active_subnet(d=..., e=..., w=...) plus the resolution:
//   d: 5 ints in {0,1,2}: d[0] keeps input_stem.1 when 2 (skips it otherwise); d[1..4] are the
//      extra depths of the 4 stages (stage s runs its first base_depth[s] + d blocks);
//   e: 18 expand ratios in {0.2,0.25,0.35}, one per block (skipped blocks included);
//   w: 6 indexes into {0.65,0.8,1.0}: input_stem.0/.1 outputs, input_stem.2 output, 4 stages.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dynn/checkpoint.hpp"

namespace dynn::ofa_resnet50 {

inline constexpr const char* kFamily = "ofa_resnet50";
inline constexpr int kNumStages = 4;
inline constexpr std::array<int, kNumStages> kBaseDepth = {2, 2, 4, 2};
inline constexpr int kMaxExtraDepth = 2;                          // depth list {0, 1, 2}
inline constexpr std::array<int, kNumStages> kBlocksPerStage = {4, 4, 6, 4};
inline constexpr int kNumBlocks = 18;
inline constexpr std::array<int, kNumStages> kStageStride = {1, 2, 2, 2};
inline constexpr std::array<double, 3> kExpandRatios = {0.2, 0.25, 0.35};
inline constexpr std::array<double, 3> kWidthMults = {0.65, 0.8, 1.0};
inline constexpr double kBnEps = 1e-5;
inline constexpr int kMinResolution = 32;
inline constexpr int kMaxResolution = 1024;

struct Subnet {
  static constexpr const char* kFamily = ofa_resnet50::kFamily;  // its family (dynn::Subnet)
  std::array<int, 5> d{};
  std::array<double, kNumBlocks> e{};
  std::array<int, 6> w{};
  int r = 224;

  static Subnet largest(int r = 224);
  static Subnet smallest(int r = 224);

  // Throws Error(InvalidArgument) naming the key, index, value and the allowed values.
  void validate() const;
  // Skipped blocks get e = 0.2 and a skipped stem block d[0] = 0, so sub-networks that run the same
  // layers compare equal.
  Subnet canonical() const;
  bool block_active(int block) const;  // block 0..17

  // {"d":[5 ints],"e":[18 numbers],"w":[6 ints],"r":224} (an optional "family":"ofa_resnet50"
  // is accepted; "r" may be [224]). Unknown keys, missing keys, wrong lengths and values outside
  // the space are Error(InvalidArgument) naming the key.
  static Subnet from_json(const std::string& text);
  std::string to_json() const;  // the same form, e written as 0.2 / 0.25 / 0.35
  // Compact log form: "d=02000 e=<18 digits: 0 for 0.2, 1 for 0.25, 2 for 0.35> w=000000 r=128".
  std::string to_string() const;
  size_t hash() const;          // of the canonical form
};
bool operator==(const Subnet& a, const Subnet& b);  // canonical forms
inline bool operator!=(const Subnet& a, const Subnet& b) { return !(a == b); }

// The widths of a supernet, read from its tensor shapes (any base widths; the published
// supernet has stem 64 and stages 256/512/1024/2048).
struct Widths {
  int stem = 0;                           // input_stem.2 output at w = 1.0
  int stem_mid = 0;                       // input_stem.0/.1 output at w = 1.0
  std::array<int, kNumStages> stage{};    // stage outputs at w = 1.0
  int num_classes = 0;

  // Channel count of each width index (OFA's make_divisible(base * mult, 8) lists).
  int stem_out(int wi) const;      // input_stem.2
  int stem_mid_out(int wi) const;  // input_stem.0 and .1 (make_divisible(stem_out // 2, 8))
  int stage_out(int stage, int wi) const;
  int mid_max(int stage) const;    // make_divisible(round(stage * 0.35), 8)
  static int middle(int out, double e);  // make_divisible(round(out * e), 8), Python rounding
  // The published full-size layout.
  static Widths published();
};

// One bottleneck block that runs.
struct ActiveBlock {
  int block = 0, stage = 0;         // supernet block index 0..17, stage 0..3
  int cin = 0, mid = 0, cout = 0;
  int stride = 1;
  bool downsample = false;          // avgpool(stride, ceil) + 1x1 conv + BN shortcut (first block of a stage)
  int h_in = 0, h_out = 0;
};

// A concrete sub-network at its resolution: what runs, layer by layer.
struct ActiveNet {
  int stem_mid = 0, stem = 0;       // channels of input_stem.0/.1 and input_stem.2
  bool stem_residual = false;       // input_stem.1 runs
  int h_stem = 0, h_pool = 0;       // after input_stem (ceil(r/2)) and after the max pool
  std::vector<ActiveBlock> blocks;
  int features = 0;                 // channels into the classifier
};
ActiveNet resolve(const Widths& widths, const Subnet& s);  // validates s

// Multiply-accumulates per image (convolutions and the classifier, OFA's count_net_flops
// convention: BN, ReLU, pooling and additions not counted) and parameters of the static
// sub-network (convs, BN affine, classifier with bias).
int64_t macs(const Widths& widths, const Subnet& s);
int64_t parameters(const Widths& widths, const Subnet& s);

// The BN layers of the static sub-network OFA's get_active_subnet() builds, in module order, with
// their channel counts: "input_stem.0.bn", "input_stem.1.conv.bn" (when input_stem.1 runs),
// "input_stem.{2|1}.bn", then per running block k (numbered 0.. over the blocks that run)
// "blocks.k.conv1.bn", ".conv2.bn", ".conv3.bn" and, for the first block of a stage,
// "blocks.k.downsample.bn". The names BnStats are keyed by.
std::vector<std::pair<std::string, int>> bn_layout(const Widths& widths, const Subnet& s);

// Reads the widths from a state dict in either key spelling (dynamic "conv.conv.weight" or static
// "conv.weight"); throws Error(InvalidArgument) naming the key and shape that don't fit.
Widths widths_from_state_dict(const StateDict& sd);
// Every tensor of the supernet with these widths, in module order and the dynamic spelling
// (num_batches_tracked entries are optional: shape {}, int64).
struct TensorSpec {
  std::string key;
  std::vector<int64_t> shape;
  bool optional = false;
};
std::vector<TensorSpec> expected_tensors(const Widths& widths);
// True when the keys look like an OFA ResNet (input_stem.* and blocks.*.conv1.*).
bool looks_like(const StateDict& sd);
// The dynamic-module spelling of a key ("input_stem.0.bn.weight" -> "input_stem.0.bn.bn.weight";
// a DataParallel "module." prefix dropped).
std::string canonical_key(const std::string& key);

}  // namespace dynn::ofa_resnet50

template <>
struct std::hash<dynn::ofa_resnet50::Subnet> {
  size_t operator()(const dynn::ofa_resnet50::Subnet& s) const { return s.hash(); }
};
