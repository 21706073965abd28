#include "torch/model_common.hpp"

#include <c10/core/GradMode.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include "dynn/device.hpp"
#include "dynn/error.hpp"
#include "dynn/parse.hpp"
#include "dynn/threads.hpp"

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
// NaN and inf are the floats whose exponent bits are all ones, and an OR of integer tests (unlike
// a float sum, whose order the compiler must keep) vectorises.
void check_finite_input(const float* x, size_t count) {
  uint32_t any = 0;
  for (size_t i = 0; i < count; ++i) {
    uint32_t u;
    std::memcpy(&u, x + i, sizeof u);
    any |= static_cast<uint32_t>((u & 0x7f800000u) == 0x7f800000u);
  }
  if (!any) return;
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

BnTensors bn_tensors(const std::vector<std::pair<std::string, int>>& layout, const BnStats& stats, const std::string& subnet,
                     const at::Device& device) {
  BnTensors out;
  for (const auto& [name, ch] : layout) {
    auto it = stats.mean_var.find(name);
    if (it == stats.mean_var.end())
      throw Error(ErrorCode::InvalidArgument, fmt::format("BN statistics: missing '{}' for sub-network {}", name, subnet));
    const auto& [mean, var] = it->second;
    if (mean.size() != static_cast<size_t>(ch) || var.size() != static_cast<size_t>(ch))
      throw Error(ErrorCode::InvalidArgument, fmt::format("BN statistics: '{}' has {} means and {} variances, the sub-network needs {}",
                                                          name, mean.size(), var.size(), ch));
    for (float v : var)
      if (!(v >= 0.f) || !std::isfinite(v))
        throw Error(ErrorCode::InvalidArgument, fmt::format("BN statistics: '{}' has a negative or non-finite variance", name));
    for (float m : mean)
      if (!std::isfinite(m)) throw Error(ErrorCode::InvalidArgument, fmt::format("BN statistics: '{}' has a non-finite mean", name));
    at::Tensor m = at::from_blob(const_cast<float*>(mean.data()), {ch}, at::kFloat).clone().to(device);
    at::Tensor v = at::from_blob(const_cast<float*>(var.data()), {ch}, at::kFloat).clone().to(device);
    out.emplace_back(m, v);
  }
  if (stats.mean_var.size() != layout.size())
    for (const auto& kv : stats.mean_var) {
      bool known = false;
      for (const auto& l : layout) known = known || l.first == kv.first;
      if (!known)
        throw Error(ErrorCode::InvalidArgument, fmt::format("BN statistics: '{}' is not a BN layer of sub-network {} ({} layers)",
                                                            ellipsize(kv.first), subnet, layout.size()));
    }
  return out;
}

void BnAccumulator::add(const BnTensors& batch, int64_t n) {
  if (batch.size() != m_layout.size())
    throw Error(ErrorCode::Internal, fmt::format("BN calibration: {} layers measured, the layout has {}", batch.size(), m_layout.size()));
  m_mean.resize(m_layout.size());
  m_var.resize(m_layout.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const at::Tensor m = batch[i].first.to(at::kDouble) * static_cast<double>(n);
    const at::Tensor v = batch[i].second.to(at::kDouble) * static_cast<double>(n);
    m_mean[i] = m_mean[i].defined() ? m_mean[i] + m : m;
    m_var[i] = m_var[i].defined() ? m_var[i] + v : v;
  }
  m_total += n;
}

BnStats BnAccumulator::result() const {
  if (m_total == 0) throw Error(ErrorCode::InvalidArgument, "recalibrate_bn: the batch source gave no images");
  BnStats out;
  for (size_t i = 0; i < m_layout.size(); ++i) {
    const at::Tensor m = (m_mean[i] / static_cast<double>(m_total)).to(at::kFloat).cpu().contiguous();
    const at::Tensor v = (m_var[i] / static_cast<double>(m_total)).to(at::kFloat).cpu().contiguous();
    out.mean_var[m_layout[i].first] = {std::vector<float>(m.data_ptr<float>(), m.data_ptr<float>() + m.numel()),
                                       std::vector<float>(v.data_ptr<float>(), v.data_ptr<float>() + v.numel())};
  }
  return out;
}

at::Tensor calibration_batch(std::vector<float>& data, int64_t n, int r, const at::Device& device) {
  const size_t need = static_cast<size_t>(n) * 3 * static_cast<size_t>(r) * static_cast<size_t>(r);
  if (n < 1 || data.size() != need)
    throw Error(ErrorCode::InvalidArgument, fmt::format("recalibrate_bn: batch of {} images must hold {} floats ([n,3,{},{}]), got {}",
                                                        n, need, r, r, data.size()));
  check_finite_input(data.data(), data.size());
  return at::from_blob(data.data(), {n, 3, r, r}, at::kFloat).to(device);
}

void run_aten(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, const at::Device& device, int threads, float* logits,
              size_t count, const std::function<at::Tensor(const at::Tensor&)>& forward) {
  if (threads > 0 && dynn::get_num_threads() != threads) dynn::set_num_threads(threads);
  at::Tensor x = at::from_blob(const_cast<float*>(input), {n, c, h, w}, at::kFloat);
  if (!device.is_cpu()) x = x.to(device);
  at::Tensor y;
  {
    c10::NoGradGuard no_grad;
    y = forward(x);
  }
  y = y.to(at::kCPU).contiguous();
  std::memcpy(logits, y.data_ptr<float>(), count * sizeof(float));
}

}  // namespace dynn::torch_detail
