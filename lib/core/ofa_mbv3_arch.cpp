#include "dynn/ofa_mbv3_arch.hpp"

#include <cmath>

#include <fmt/format.h>

#include "dynn/error.hpp"
#include "dynn/parse.hpp"

namespace dynn::ofa_mbv3 {

double width_mult_from_name(const std::string& name) {
  const std::string prefix = "ofa_mbv3_d234_e346_k357_w";
  if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size())
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("supernet name '{}' is not of the form {}<width>, e.g. {}1.2", ellipsize(name), prefix, prefix));
  const std::string w = name.substr(prefix.size());
  auto bad = [&] {
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("supernet name '{}': width '{}' is not a multiplier in (0.05, 10]", ellipsize(name), ellipsize(w)));
  };
  // The checked parser: no blanks, hex, "nan"/"inf" or trailing text, whatever the locale.
  double v = 0;
  try {
    v = parse_double(w, "width", 0, 10);
  } catch (const Error&) {
    bad();
  }
  if (!(v > 0.05)) bad();
  return v;
}

std::string supernet_name(double width_mult) {
  return fmt::format("ofa_mbv3_d234_e346_k357_w{:.1f}", width_mult);
}

int BlockInfo::mid(int expand_ratio) const {
  return make_divisible(std::nearbyint(static_cast<double>(cin) * expand_ratio), 8);
}

int BlockInfo::se_mid(int expand_ratio) const {
  if (!use_se) return 0;
  return make_divisible(static_cast<double>(mid(expand_ratio) / 4), 8);
}

Arch::Arch(double width_mult) : m_width_mult(width_mult) {
  if (!(width_mult > 0.05) || width_mult > 10)
    throw Error(ErrorCode::InvalidArgument, fmt::format("OFA MobileNetV3: width multiplier {} out of range (0.05, 10]", width_mult));
  auto w = [&](int base) { return make_divisible(base * width_mult, 8); };
  m_first_conv = w(kBaseWidths[0]);
  m_first_block = w(kBaseWidths[1]);
  for (int s = 0; s < kNumStages; ++s) m_stage[static_cast<size_t>(s)] = w(kBaseWidths[static_cast<size_t>(2 + s)]);
  m_final_expand = w(kBaseWidths[7]);
  m_feature_mix = w(kBaseWidths[8]);
  for (int i = 0; i < kNumBlocks; ++i) {
    BlockInfo& b = m_blocks[static_cast<size_t>(i)];
    b.block = i + 1;
    b.stage = i / kBlocksPerStage;
    b.index_in_stage = i % kBlocksPerStage;
    const auto s = static_cast<size_t>(b.stage);
    b.cout = m_stage[s];
    b.cin = b.index_in_stage == 0 ? (b.stage == 0 ? m_first_block : m_stage[s - 1]) : m_stage[s];
    b.stride = b.index_in_stage == 0 ? kStageStride[s] : 1;
    b.use_se = kStageSE[s];
    b.use_hswish = kStageHSwish[s];
    b.shortcut = b.stride == 1 && b.cin == b.cout;
  }
}

int Arch::stage_width(int stage) const {
  if (stage < 0 || stage >= kNumStages)
    throw Error(ErrorCode::InvalidArgument, fmt::format("OFA MobileNetV3: stage {} out of range 0..{}", stage, kNumStages - 1));
  return m_stage[static_cast<size_t>(stage)];
}

const BlockInfo& Arch::block(int b) const {
  if (b < 1 || b > kNumBlocks)
    throw Error(ErrorCode::InvalidArgument, fmt::format("OFA MobileNetV3: block {} out of range 1..{}", b, kNumBlocks));
  return m_blocks[static_cast<size_t>(b - 1)];
}

std::vector<ActiveBlock> Arch::active_blocks(const SubnetConfig& c) const {
  c.validate(SearchSpace::ofa_mbv3());
  std::vector<ActiveBlock> out;
  out.reserve(static_cast<size_t>(c.total_depth()));
  int h = first_feature_size(c.r);
  for (int s = 0; s < kNumStages; ++s) {
    for (int j = 0; j < c.d[static_cast<size_t>(s)]; ++j) {
      const int i = s * kBlocksPerStage + j;
      ActiveBlock a;
      a.info = &m_blocks[static_cast<size_t>(i)];
      a.kernel = c.ks[static_cast<size_t>(i)];
      a.expand = c.e[static_cast<size_t>(i)];
      a.mid = a.info->mid(a.expand);
      a.se_mid = a.info->se_mid(a.expand);
      a.h_in = h;
      a.h_out = conv_out_size(h, a.info->stride);
      h = a.h_out;
      out.push_back(a);
    }
  }
  return out;
}

int Arch::last_feature_size(const SubnetConfig& c) const {
  int h = first_feature_size(c.r);
  for (int s = 0; s < kNumStages; ++s) h = conv_out_size(h, kStageStride[static_cast<size_t>(s)]);
  return h;
}

int64_t Arch::macs(const SubnetConfig& c) const {
  const auto blocks = active_blocks(c);
  const int64_t h0 = first_feature_size(c.r);
  const int64_t C0 = m_first_conv, C1 = m_first_block;
  int64_t total = 27 * C0 * h0 * h0 + (9 * C0 + C0 * C1) * h0 * h0;
  int64_t h_last = h0;
  for (const auto& a : blocks) {
    const int64_t hi = a.h_in, ho = a.h_out, mid = a.mid;
    total += a.info->cin * mid * hi * hi;
    total += mid * a.kernel * a.kernel * ho * ho;
    if (a.info->use_se) total += 2 * mid * a.se_mid;
    total += mid * a.info->cout * ho * ho;
    h_last = ho;
  }
  const int64_t C5 = m_stage[kNumStages - 1];
  total += C5 * m_final_expand * h_last * h_last + int64_t{m_final_expand} * m_feature_mix +
           int64_t{m_feature_mix} * kNumClasses;
  return total;
}

int64_t Arch::parameters(const SubnetConfig& c) const {
  const int64_t C0 = m_first_conv, C1 = m_first_block;
  // first conv + BN; first block: depthwise 3x3 + BN, pointwise + BN.
  int64_t total = 27 * C0 + 2 * C0 + 9 * C0 + 2 * C0 + C0 * C1 + 2 * C1;
  for (const auto& a : active_blocks(c)) {
    const int64_t mid = a.mid, cin = a.info->cin, cout = a.info->cout;
    total += cin * mid + 2 * mid;                    // expand + BN
    total += mid * a.kernel * a.kernel + 2 * mid;    // depthwise + BN
    if (a.info->use_se) total += 2 * mid * a.se_mid + a.se_mid + mid;  // SE reduce/expand with biases
    total += mid * cout + 2 * cout;                  // project + BN
  }
  const int64_t C5 = m_stage[kNumStages - 1], FE = m_final_expand, FM = m_feature_mix;
  return total + C5 * FE + 2 * FE + FE * FM + FM * kNumClasses + kNumClasses;
}

int64_t count_macs(const SubnetConfig& c, double width_mult) { return Arch(width_mult).macs(c); }

}  // namespace dynn::ofa_mbv3
