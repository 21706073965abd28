#include "dynn/device.hpp"

#include <fmt/format.h>

#include "dynn/error.hpp"
#include "dynn/parse.hpp"

namespace dynn {

namespace {
constexpr int kMaxGpuIndex = 1023;

[[noreturn]] void bad_device(const std::string& text) {
  throw Error(ErrorCode::InvalidArgument,
              fmt::format("device '{}' is not one of 'cpu', 'gpu', 'gpu:N', 'cuda', 'cuda:N' (N = 0..{})", ellipsize(text), kMaxGpuIndex));
}
}  // namespace

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  for (const char* prefix : {"gpu", "cuda"}) {
    const std::string p = prefix;
    if (text.compare(0, p.size(), p) != 0) continue;
    if (text.size() == p.size()) return gpu(0);
    if (text[p.size()] != ':' || text.size() == p.size() + 1) bad_device(text);
    const std::string digits = text.substr(p.size() + 1);
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 4) bad_device(text);
    const int idx = std::stoi(digits);
    if (idx > kMaxGpuIndex) bad_device(text);
    return gpu(idx);
  }
  bad_device(text);
}

Device Device::from_knob_value(int64_t value) {
  if (value == -1) return cpu();
  if (value < -1 || value > kMaxGpuIndex)
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("device knob value {} is not -1 (cpu) or a GPU index 0..{}", value, kMaxGpuIndex));
  return gpu(static_cast<int>(value));
}

std::string Device::to_string() const {
  if (is_cpu()) return "cpu";
  return index == 0 ? "gpu" : fmt::format("gpu:{}", index);
}

}  // namespace dynn
