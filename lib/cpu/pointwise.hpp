// 1x1 stride-1 convolution on NHWC float32: a GEMM of [pixels][in_c] by [in_c][out_c]. dynn's
// own kernel rather than XNNPACK's: Debian's XNNPACK (2022) runs these on a 7x16 AVX-512 tile with
// seven accumulators, about 73 % of the FMA peak on wide layers; this one keeps 8 pixels x 48
// channels (24 accumulators) and fuses the bias, the clamp, hardswish and a residual add into its
// stores, so neither a hardswish nor an add pass reads the output again (docs/benchmarks.md).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

typedef struct pthreadpool* pthreadpool_t;

namespace dynn::cpu {

struct PointwiseParams {
  int in_c = 0, out_c = 0;
  float lo = 0, hi = 0;    // output clamp
  bool hardswish = false;  // then x * relu6(x + 3) / 6
  // Column panels of this CPU's tile width (the last one zero-padded): panel j holds
  // [in_c][width_j] floats from packed[in_c * first column of j]; bias is padded the same way.
  std::vector<float> packed, bias;
  std::vector<int> panel_start;  // first column of each panel, then out_c
  int mr = 0;         // pixels per tile
  int max_width = 0;  // floats in the widest panel
  int isa = 0;        // which kernel runs (chosen with the layout, at packing)
  size_t bytes() const { return (packed.capacity() + bias.capacity()) * sizeof(float) + panel_start.capacity() * sizeof(int); }
};

// The kernels this CPU can run, widest first: "avx512", "avx2", "neon", "baseline".
std::vector<std::string> pointwise_kernels();

// Packs kernel [out_c][in_c] and bias (null: zeros) into p for the tile shape of `kernel_name`
// (one of pointwise_kernels(); empty: the widest, what the engine uses).
void pack_pointwise(PointwiseParams& p, int in_c, int out_c, const float* kernel, const float* bias,
                    const std::string& kernel_name = "");

// out[px][o] = act(clamp(bias[o] + sum_i in[px][i] * w[o][i] + residual[px][o])), residual
// optional (null); out must not overlap in or residual. Rows are `pixels` long.
void pointwise_nhwc(const PointwiseParams& p, const float* in, float* out, const float* residual, size_t pixels,
                    pthreadpool_t pool);

}  // namespace dynn::cpu
