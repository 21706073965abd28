// Width arithmetic of the OFA MobileNetV3 supernet (docs/ofa_spec.md sections 1-3, 9), torch-free.
//
// One place computes every channel count, stride and feature-map size, so the LibTorch model, the
// MAC counter, the latency look-up tables and the profiler agree. Any width multiplier works: the
// released supernets are w1.0 and w1.2, other multipliers follow make_divisible exactly.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "dynn/make_divisible.hpp"
#include "dynn/subnet_config.hpp"

namespace dynn::ofa_mbv3 {

constexpr int kNumStages = 5;
constexpr int kBlocksPerStage = 4;
constexpr int kNumBlocks = kNumStages * kBlocksPerStage;  // elastic blocks 1..20
// first_conv, first block, stages 1-5, final expand, feature mix (current OFA code).
constexpr std::array<int, 9> kBaseWidths = {16, 16, 24, 40, 80, 112, 160, 960, 1280};
constexpr std::array<int, kNumStages> kStageStride = {2, 2, 2, 1, 2};
constexpr std::array<bool, kNumStages> kStageSE = {false, true, false, true, true};
constexpr std::array<bool, kNumStages> kStageHSwish = {false, false, true, true, true};
constexpr int kNumClasses = 1000;

using dynn::make_divisible;

// Spatial size after a conv with pad k//2: ceil(h / stride).
inline int conv_out_size(int h, int stride) { return (h + stride - 1) / stride; }

// "ofa_mbv3_d234_e346_k357_w1.2" -> 1.2 ; throws InvalidArgument for another name.
double width_mult_from_name(const std::string& supernet_name);
std::string supernet_name(double width_mult);  // 1.2 -> "ofa_mbv3_d234_e346_k357_w1.2"

// Static facts of elastic block b (1..20) for a given width multiplier.
struct BlockInfo {
  int block = 0;           // supernet index 1..20
  int stage = 0;           // 0..4
  int index_in_stage = 0;  // 0..3
  int cin = 0, cout = 0;
  int stride = 1;
  bool use_se = false;
  bool use_hswish = false;
  bool shortcut = false;   // identity residual (index_in_stage >= 1)

  int mid(int expand_ratio) const;     // make_divisible(round(cin * e), 8)
  int se_mid(int expand_ratio) const;  // make_divisible(mid // 4, 8) (0 when the block has no SE)
  int mid_max() const { return mid(6); }
  int se_mid_max() const { return se_mid(6); }
};

// One block of a concrete sub-network at a concrete resolution.
struct ActiveBlock {
  const BlockInfo* info = nullptr;
  int kernel = 3, expand = 3;
  int mid = 0, se_mid = 0;
  int h_in = 0, h_out = 0;
};

class Arch {
 public:
  explicit Arch(double width_mult = 1.0);
  static Arch for_supernet(const std::string& name) { return Arch(width_mult_from_name(name)); }

  double width_mult() const { return m_width_mult; }
  int first_conv_width() const { return m_first_conv; }    // C0
  int first_block_width() const { return m_first_block; }  // C1
  int stage_width(int stage) const;                       // stage 0..4
  int final_expand_width() const { return m_final_expand; }
  int feature_mix_width() const { return m_feature_mix; }

  const BlockInfo& block(int b) const;  // b = 1..20; throws InvalidArgument otherwise
  const std::array<BlockInfo, kNumBlocks>& blocks() const { return m_blocks; }

  // Feature size after first_conv (= ceil(r/2)) and the blocks that run, in order.
  static int first_feature_size(int r) { return conv_out_size(r, 2); }
  std::vector<ActiveBlock> active_blocks(const SubnetConfig& c) const;  // validates c
  int last_feature_size(const SubnetConfig& c) const;                   // h5

  // Exact multiply-accumulates per image (spec section 9, OFA count_net_flops convention).
  int64_t macs(const SubnetConfig& c) const;
  // Parameters of the static sub-network (convs, BN affine, SE and classifier biases; the
  // supernet's kernel-transform matrices are not part of a sub-network).
  int64_t parameters(const SubnetConfig& c) const;

 private:
  double m_width_mult;
  int m_first_conv, m_first_block, m_final_expand, m_feature_mix;
  std::array<int, kNumStages> m_stage{};
  std::array<BlockInfo, kNumBlocks> m_blocks{};
};

// Convenience: Arch(width_mult).macs(c).
int64_t count_macs(const SubnetConfig& c, double width_mult = 1.0);

}  // namespace dynn::ofa_mbv3
