// Per-sub-network BatchNorm statistics, as OFA's set_running_statistics computes them and
// Dynamic-OFA ships them: every family's supernet takes them instead of the supernet's shared
// running statistics when that sub-network runs (set_bn_stats / recalibrate_bn).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace dynn {

// Keyed by the BN names of the static sub-network OFA's get_active_subnet() builds (compacted
// block numbering): "first_conv.bn", "blocks.3.mobile_inverted_conv.depth_conv.bn" (ofa_mbv3);
// "input_stem.0.bn", "blocks.5.conv2.bn", "blocks.4.downsample.bn" (ofa_resnet50). Values: (mean,
// variance) of the active channels only.
struct BnStats {
  std::map<std::string, std::pair<std::vector<float>, std::vector<float>>> mean_var;
};

// Calibration images for recalibrate_bn: next(data, n) fills data with n normalised images
// [n, 3, r, r] and returns false when there are no more.
using BnBatchSource = std::function<bool(std::vector<float>& data, int64_t& n)>;

}  // namespace dynn
