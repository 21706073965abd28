// Depthwise convolution on NHWC float32, every kernel size, with hardswish fusable into its
// stores. The engine runs it where XNNPACK has no micro-kernel (Debian's XNNPACK has them for 3,
// 4, 9 and 25 taps: 7x7 = 49 taps would fall back to one GEMM per channel, ~10x slower), and on
// AVX-512 for MobileNetV3's 3x3 and 5x5 layers too, where its 8-pixel blocks beat XNNPACK's kernels
// (docs/benchmarks.md); on AVX2 and NEON those stay on XNNPACK, whose kernels there were not
// measured against these. Channels are innermost, so the inner loop vectorises.
#pragma once

#include <cstddef>
#include <vector>

typedef struct pthreadpool* pthreadpool_t;

namespace dynn::cpu {

struct DepthwiseParams {
  int k = 7, stride = 1, pad = 3;
  int c = 0;                 // channels
  float lo = 0, hi = 0;      // output clamp
  bool hardswish = false;    // then x * relu6(x + 3) / 6
  std::vector<float> w;      // [k*k][c]: tap-major, so one tap's channels are contiguous
  std::vector<float> bias;   // [c]
};

// out[n, oh, ow, c] = act(clamp(bias + sum_taps w * in)), zero padding `pad` on every side.
void depthwise_nhwc(const DepthwiseParams& p, const float* in, float* out, size_t batch, int h, int w, int oh, int ow,
                    pthreadpool_t pool);

// True where the engine runs this loop rather than XNNPACK's depthwise convolution (see above).
bool depthwise_preferred(int k, int stride);

}  // namespace dynn::cpu
