// Where a model runs, in one vocabulary for profiles, models, the simulator, the C ABI and the
// platform's "device" knob, so a profile measured on a Jetson ("gpu") drives a real model:
//   "cpu"                      the host CPU                      knob value -1
//   "gpu", "cuda", "cuda:0"    the first GPU                     knob value  0
//   "gpu:N", "cuda:N"          GPU N (CUDA device N)             knob value  N
// Canonical text is "cpu", "gpu" and "gpu:N" (N > 0).
#pragma once

#include <cstdint>
#include <string>

namespace dynn {

struct Device {
  enum class Kind { Cpu, Gpu };
  Kind kind = Kind::Cpu;
  int index = 0;  // GPU index (0 for the CPU)

  static Device cpu() { return {}; }
  static Device gpu(int index = 0) { return {Kind::Gpu, index}; }
  // Throws InvalidArgument naming the text and the accepted forms.
  static Device parse(const std::string& text);
  // -1 = CPU, N = GPU N; InvalidArgument below -1.
  static Device from_knob_value(int64_t value);

  bool is_cpu() const { return kind == Kind::Cpu; }
  bool is_gpu() const { return kind == Kind::Gpu; }
  std::string to_string() const;
  int64_t knob_value() const { return is_cpu() ? -1 : index; }
};

inline bool operator==(const Device& a, const Device& b) { return a.kind == b.kind && a.index == b.index; }
inline bool operator!=(const Device& a, const Device& b) { return !(a == b); }

}  // namespace dynn
