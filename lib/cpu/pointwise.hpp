// Dense convolutions on NHWC float32 as GEMMs on dynn's own tiles: a 1x1 stride-1 conv is
// [pixels][in_c] by [in_c][out_c], a k x k or strided one gathers each output pixel's taps, and a
// fully connected layer is a 1x1 conv of a 1x1 image (1-2 of them run as matrix-vector products).
// dynn's kernel rather than XNNPACK's: Debian's XNNPACK (2022) runs these on a 7x16 AVX-512 tile
// with seven accumulators; this one keeps 8 pixels x 48 channels (24 accumulators) and applies the
// bias, the clamp, hardswish and a residual add in its stores, so neither a hardswish nor an add
// pass reads the output again (docs/benchmarks.md).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

typedef struct pthreadpool* pthreadpool_t;

namespace dynn::cpu {

struct PointwiseParams {
  int in_c = 0, out_c = 0;
  int k = 1, stride = 1;  // a k x k convolution ("same" padding k/2) in the same tiles, pack_conv()
  float lo = 0, hi = 0;    // output clamp
  bool hardswish = false;  // then x * relu6(x + 3) / 6
  // Column panels of this CPU's tile width (the last one zero-padded): panel j holds
  // [k * k * in_c][width_j] floats from packed[k * k * in_c * first column of j]; bias is padded
  // the same way.
  std::vector<float> packed, bias;
  std::vector<int> panel_start;  // first column of each panel, then out_c
  std::vector<float> zeros;      // in_c zeros: the input row of a padding tap
  int mr = 0;         // pixels per tile
  int max_width = 0;  // floats in the widest panel
  int isa = 0;        // which kernel runs (chosen with the layout, at packing)
  size_t bytes() const {
    return (packed.capacity() + bias.capacity() + zeros.capacity()) * sizeof(float) + panel_start.capacity() * sizeof(int);
  }
};

// The kernels this CPU can run, widest first: "avx512", "avx2", "neon", "baseline".
std::vector<std::string> pointwise_kernels();

// Packs kernel [out_c][in_c] and bias (null: zeros) into p for the tile shape of `kernel_name`
// (one of pointwise_kernels(); empty: the widest, what the engine uses).
void pack_pointwise(PointwiseParams& p, int in_c, int out_c, const float* kernel, const float* bias,
                    const std::string& kernel_name = "");

// A dense k x k convolution at `stride` (k odd, at most 7), kernel OHWI [out_c][k][k][in_c]:
// one GEMM row per (tap, input channel), each output pixel's rows gathered from the image
// (padding taps read zeros), so no im2col buffer is built.
void pack_conv(PointwiseParams& p, int in_c, int out_c, int k, int stride, const float* kernel, const float* bias,
               const std::string& kernel_name = "");

// out[px][o] = act(clamp(bias[o] + sum_i in[px][i] * w[o][i] + residual[px][o])), residual
// optional (null, or equal to out); out must not overlap in. `pixels` rows (1x1 stride 1 only).
void pointwise_nhwc(const PointwiseParams& p, const float* in, float* out, const float* residual, size_t pixels,
                    pthreadpool_t pool);

// The same for p's k x k convolution over `batch` NHWC images of h x w x in_c; out and residual
// are [batch][oh][ow][out_c] with oh = (h + 2 (k/2) - k) / stride + 1, likewise ow.
void conv_nhwc(const PointwiseParams& p, const float* in, float* out, const float* residual, size_t batch, int h, int w,
               pthreadpool_t pool);

}  // namespace dynn::cpu
