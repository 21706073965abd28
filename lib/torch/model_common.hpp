// What every family's LibTorch supernet shares: the device vocabulary, the engine names and the
// checks every infer() makes before any work.
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "dynn/bn_stats.hpp"

namespace dynn::torch_detail {

// dynn's device names (dynn/device.hpp) as a LibTorch device; Unsupported / NotFound when the GPU
// is not there. Turns TF32 off (OFA's float32 results need full-precision convolutions).
at::Device parse_device(const std::string& d);
// "fast", "aten" or "reference"; InvalidArgument otherwise.
void check_engine(const std::string& e);
// InvalidArgument naming the count and the first index when x holds NaN or inf.
void check_finite_input(const float* x, size_t count);

// Per-sub-network BN statistics as tensors (mean, var), one per BN layer in layout order.
using BnTensors = std::vector<std::pair<at::Tensor, at::Tensor>>;
// BnStats checked against a sub-network's BN layout (names and channel counts): a missing or extra
// name, a wrong length or a negative / non-finite variance is InvalidArgument naming it.
BnTensors bn_tensors(const std::vector<std::pair<std::string, int>>& layout, const BnStats& stats, const std::string& subnet,
                     const at::Device& device);

// OFA's set_running_statistics: the batch-size-weighted means of per-batch BN means and biased
// variances over the calibration batches.
class BnAccumulator {
 public:
  explicit BnAccumulator(std::vector<std::pair<std::string, int>> layout) : m_layout(std::move(layout)) {}
  // One batch of n images: its batch statistics per BN layer, in layout order.
  void add(const BnTensors& batch, int64_t n);
  // InvalidArgument when no image was added.
  BnStats result() const;

 private:
  std::vector<std::pair<std::string, int>> m_layout;
  std::vector<at::Tensor> m_mean, m_var;
  int64_t m_total = 0;
};
// Checks one calibration batch (n >= 1 images of [3, r, r]) and returns it as an NCHW tensor on `device`.
at::Tensor calibration_batch(std::vector<float>& data, int64_t n, int r, const at::Device& device);

}  // namespace dynn::torch_detail
