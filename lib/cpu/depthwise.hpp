// Depthwise convolution on NHWC float32 for kernel sizes XNNPACK's depthwise micro-kernels do not
// cover (its Debian build has 3, 4, 9 and 25 taps: 7x7 = 49 taps would fall back to one GEMM per
// channel, ~10x slower than this loop). Channels are innermost, so the inner loop vectorises.
#pragma once

#include <cstddef>
#include <vector>

typedef struct pthreadpool* pthreadpool_t;

namespace dynn::cpu {

struct DepthwiseParams {
  int k = 7, stride = 1, pad = 3;
  int c = 0;                 // channels
  float lo = 0, hi = 0;      // output clamp
  std::vector<float> w;      // [k*k][c]: tap-major, so one tap's channels are contiguous
  std::vector<float> bias;   // [c]
};

// out[n, oh, ow, c] = clamp(bias + sum_taps w * in), zero padding `pad` on every side.
void depthwise_nhwc(const DepthwiseParams& p, const float* in, float* out, size_t batch, int h, int w, int oh, int ow,
                    pthreadpool_t pool);

// True when XNNPACK has a depthwise micro-kernel for k*k taps.
bool xnnpack_has_depthwise(int k);

}  // namespace dynn::cpu
