#include "torch/model_common.hpp"

#include <cmath>

#include <fmt/format.h>

#include "dynn/device.hpp"
#include "dynn/error.hpp"

namespace dynn::torch_detail {

// The library's device vocabulary (dynn/device.hpp) mapped onto LibTorch: "gpu:N" is cuda:N.
at::Device parse_device(const std::string& d) {
  const Device dev = Device::parse(d);
  if (dev.is_cpu()) return at::kCPU;
  if (!at::hasCUDA())
    throw Error(ErrorCode::Unsupported, fmt::format("device '{}': this LibTorch build has no CUDA support or no GPU is visible", d));
  if (dev.index >= static_cast<int>(at::getNumGPUs()))
    throw Error(ErrorCode::NotFound, fmt::format("device '{}': only {} GPU(s) visible", d, at::getNumGPUs()));
  // OFA's float32 results need full-precision convolutions and matmuls: TF32 (on by default for
  // cuDNN on Ampere and later) would move logits by ~1e-3 relative. Process-wide, see docs/gpu.md.
  at::globalContext().setAllowTF32CuDNN(false);
  at::globalContext().setAllowTF32CuBLAS(false);
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(dev.index));
}

void check_engine(const std::string& e) {
  if (e != "fast" && e != "aten" && e != "reference")
    throw Error(ErrorCode::InvalidArgument, fmt::format("engine '{}' is not 'fast', 'aten' or 'reference'", e));
}

// Non-finite input pixels: both engines refuse them the same way, before any work (the fast
// engine's clamps would otherwise turn NaN into normal-looking logits). One vectorisable pass:
// x * 0 is 0 for finite x and NaN for NaN or inf.
void check_finite_input(const float* x, size_t count) {
  float acc = 0.f;
  for (size_t i = 0; i < count; ++i) acc += x[i] * 0.f;
  if (acc == 0.f) return;
  size_t bad = 0, first = count;
  for (size_t i = 0; i < count; ++i)
    if (!std::isfinite(x[i])) {
      if (first == count) first = i;
      ++bad;
    }
  throw Error(ErrorCode::InvalidArgument,
              fmt::format("infer: input holds {} non-finite value(s) (NaN or inf), the first at index {} ({})", bad, first,
                          x[first]));
}

}  // namespace dynn::torch_detail
