// What every family's LibTorch supernet shares: the device vocabulary, the engine names and the
// checks every infer() makes before any work.
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <string>

namespace dynn::torch_detail {

// dynn's device names (dynn/device.hpp) as a LibTorch device; Unsupported / NotFound when the GPU
// is not there. Turns TF32 off (OFA's float32 results need full-precision convolutions).
at::Device parse_device(const std::string& d);
// "fast", "aten" or "reference"; InvalidArgument otherwise.
void check_engine(const std::string& e);
// InvalidArgument naming the count and the first index when x holds NaN or inf.
void check_finite_input(const float* x, size_t count);

}  // namespace dynn::torch_detail
