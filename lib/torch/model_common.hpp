// What every family's LibTorch supernet shares: the device vocabulary, the engine names and the
// checks every infer() makes before any work.
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "dynn/bn_stats.hpp"
#include "dynn/error.hpp"

namespace dynn::torch_detail {

// dynn's device names (dynn/device.hpp) as a LibTorch device; Unsupported / NotFound when the GPU
// is not there. Turns TF32 off (OFA's float32 results need full-precision convolutions).
at::Device parse_device(const std::string& d);
// "fast", "aten" or "reference"; InvalidArgument otherwise.
void check_engine(const std::string& e);
// InvalidArgument naming the count and the first index when x holds NaN or inf.
void check_finite_input(const float* x, size_t count);

// The checks every infer() makes before any work, in one order: null pointers, batch 1..4096,
// 3 channels, the sub-network's resolution (describe() names it, only on that error), the logits
// capacity (BufferTooSmall), a finite input. Returns the logits count, n * classes.
template <class Describe>
size_t check_infer_args(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, const float* logits, size_t capacity,
                        int resolution, int classes, Describe&& describe);
// LibTorch's part of an inference: the model's thread count applied on this thread (when set),
// the input moved to the device, forward(x) run without autograd, the logits copied out.
void run_aten(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, const at::Device& device, int threads, float* logits,
              size_t count, const std::function<at::Tensor(const at::Tensor&)>& forward);

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

template <class Describe>
size_t check_infer_args(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, const float* logits, size_t capacity,
                        int resolution, int classes, Describe&& describe) {
  if (!input || !logits) throw Error(ErrorCode::InvalidArgument, "infer: input and logits must not be null");
  if (n < 1 || n > 4096) throw Error(ErrorCode::InvalidArgument, fmt::format("infer: batch size {} outside 1..4096", n));
  if (c != 3) throw Error(ErrorCode::InvalidArgument, fmt::format("infer: input has {} channels, the supernet needs 3", c));
  if (h != resolution || w != resolution)
    throw Error(ErrorCode::InvalidArgument, fmt::format("infer: input is {}x{} but sub-network {} runs at resolution {}x{}", h, w,
                                                        describe(), resolution, resolution));
  const size_t need = static_cast<size_t>(n) * static_cast<size_t>(classes);
  if (capacity < need)
    throw Error(ErrorCode::BufferTooSmall, fmt::format("infer: logits buffer holds {} floats, {} needed", capacity, need));
  check_finite_input(input, static_cast<size_t>(n * c * h * w));
  return need;
}

}  // namespace dynn::torch_detail
