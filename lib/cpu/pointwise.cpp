#include "cpu/pointwise.hpp"

#include <pthreadpool.h>

#include "cpu/simd.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "dynn/error.hpp"

namespace dynn::cpu {
namespace {

using namespace simd;

// The tile this CPU runs, in vectors of its own register width (wider ones are split by the
// compiler, and spilled): AVX-512 has 32 registers of 16 floats, room for 8 pixels x 48 channels
// (24 accumulators, 3 weight vectors, 1 broadcast); AVX2 has 16 of 8: 6 pixels x 16 channels
// (12 + 2 + 1); NEON 32 of 4: 6 x 16 (24 + 4 + 1); SSE 16 of 4: 2 x 16 (8 + 4 + 1).
enum class Isa { Avx512, Avx2, Neon, Sse };
struct Shape {
  Isa isa;
  int mr;         // pixels per tile
  int max_width;  // floats in the widest panel (a multiple of 16)
};
const Shape kShapes[] = {{Isa::Avx512, 8, 48}, {Isa::Avx2, 6, 16}, {Isa::Neon, 6, 16}, {Isa::Sse, 2, 16}};
const char* const kNames[] = {"avx512", "avx2", "neon", "baseline"};

// The kernels this CPU runs, widest first; the last is always the baseline (4-float vectors:
// SSE on x86-64, and what any other target's compiler makes of them).
std::vector<Isa> cpu_kernels() {
  std::vector<Isa> k;
#if defined(DYNN_CPU_X86_TARGETS)
  if (__builtin_cpu_supports("avx512f")) k.push_back(Isa::Avx512);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) k.push_back(Isa::Avx2);
#elif defined(__aarch64__)
  k.push_back(Isa::Neon);
#endif
  k.push_back(Isa::Sse);
  return k;
}

// Floats in the panel that starts `remaining` columns before the end (only the last is padded).
int panel_width(int remaining, int max_width) { return std::min(max_width, (remaining + 15) / 16 * 16); }

struct Job {
  const PointwiseParams* p;
  const float* in;
  float* out;
  const float* residual;
  size_t pixels;  // output pixels (all images)
  size_t tiles_per_task;
  bool rowwise;  // one pixel at a time (row()), for the 1-2 pixels of a fully connected layer
  int h = 0, w = 0, oh = 0, ow = 0;  // a k x k or strided convolution's image sizes
};

constexpr int kMaxTaps = 49;  // 7 x 7

// rows_of[t * MR + r] = the input pixel under tap t of output pixel px + r (the zero row where
// the tap is padding), for the MR pixels of a tile (`rows` real ones, the others repeat the last).
template <int MR>
DYNN_SIMD_INLINE void gather_taps(const Job& job, size_t px, size_t rows, const float** rows_of) {
  const PointwiseParams& p = *job.p;
  const size_t per_image = static_cast<size_t>(job.oh) * static_cast<size_t>(job.ow), c = static_cast<size_t>(p.in_c);
  const int k = p.k;
  for (int r = 0; r < MR; ++r) {
    const size_t q = px + std::min(static_cast<size_t>(r), rows - 1), n = q / per_image, rem = q % per_image;
    const int y0 = static_cast<int>(rem / static_cast<size_t>(job.ow)) * p.stride - k / 2;
    const int x0 = static_cast<int>(rem % static_cast<size_t>(job.ow)) * p.stride - k / 2;
    const float* image = job.in + n * static_cast<size_t>(job.h) * static_cast<size_t>(job.w) * c;
    for (int ky = 0; ky < k; ++ky) {
      const int y = y0 + ky;
      const bool row_in = y >= 0 && y < job.h;
      for (int kx = 0; kx < k; ++kx) {
        const int x = x0 + kx;
        rows_of[(ky * k + kx) * MR + r] =
            row_in && x >= 0 && x < job.w ? image + (static_cast<size_t>(y) * static_cast<size_t>(job.w) + static_cast<size_t>(x)) * c
                                          : p.zeros.data();
      }
    }
  }
}

// MR pixels (`rows` of them real: the others repeat the last row and are not stored) by NV
// vectors V of columns, over in_c channels of each of `taps` input rows per pixel (rows[t * MR +
// r]: 1 for a 1x1 convolution, k * k otherwise); `cols` of the NV * lanes columns are stored.
template <class V, int MR, int NV>
DYNN_SIMD_INLINE void tile(const PointwiseParams& p, const float* const* rows_of, int taps, size_t rows, const float* b,
                           const float* bias, float* c, const float* res, int cols) {
  constexpr int L = sizeof(V) / sizeof(float), W = NV * L;
  const size_t ldc = static_cast<size_t>(p.out_c);
  V acc[MR][NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const V bv = load<V>(bias + L * v);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) acc[r][v] = bv;
  }
  const int k_end = p.in_c;
  for (int t = 0; t < taps; ++t) {
    const float* ar[MR];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) ar[r] = rows_of[t * MR + r];
    for (int k = 0; k < k_end; ++k, b += W) {
      V w[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) w[v] = load<V>(b + L * v);
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        const V x = ar[r][k] - V{};  // broadcast (simd.hpp says why it is written here)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] += x * w[v];
      }
    }
  }
  const Epilogue e{p.lo, p.hi, p.hardswish};
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    if (static_cast<size_t>(r) >= rows) break;
    float* o = c + static_cast<size_t>(r) * ldc;
    const float* q = res ? res + static_cast<size_t>(r) * ldc : nullptr;
    if (cols == W) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) store(o + L * v, e(q ? acc[r][v] + load<V>(q + L * v) : acc[r][v]));
    } else {  // the last, padded panel: only `cols` columns exist in out and residual
      float t[W];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) store(t + L * v, acc[r][v]);
      for (int j = 0; j < cols; ++j) o[j] = e(q ? t[j] + q[j] : t[j]);
    }
  }
}

// One pixel by NV vectors V of columns: a matrix-vector product, in U interleaved partial sums per
// vector so that U * NV FMA chains are in flight (one accumulator per vector would wait on the FMA
// latency at every step; this is what the fully connected layers of batch 1 run).
template <class V, int NV, int U>
DYNN_SIMD_INLINE void row(const PointwiseParams& p, const float* a, const float* b, const float* bias, float* c,
                          const float* res, int cols) {
  constexpr int L = sizeof(V) / sizeof(float), W = NV * L;
  V acc[U][NV];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[u][v] = V{};
  const int k_end = p.in_c;
  int k = 0;
  for (; k + U <= k_end; k += U, b += U * W)
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
      const V x = a[k + u] - V{};
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[u][v] += x * load<V>(b + u * W + L * v);
    }
  for (; k < k_end; ++k, b += W) {
    const V x = a[k] - V{};
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[0][v] += x * load<V>(b + L * v);
  }
  const Epilogue e{p.lo, p.hi, p.hardswish};
  float t[W];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    V sum = load<V>(bias + L * v);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) sum += acc[u][v];
    if (cols == W)
      store(c + L * v, e(res ? sum + load<V>(res + L * v) : sum));
    else
      store(t + L * v, sum);
  }
  if (cols != W)
    for (int j = 0; j < cols; ++j) c[j] = e(res ? t[j] + res[j] : t[j]);
}

// Task (i, j): tiles_per_task row tiles from tile i * tiles_per_task, column panel j, whose width
// the caller matched to NV vectors V.
template <class V, int MR, int NV>
DYNN_SIMD_INLINE void run_task(const Job& job, size_t i, size_t j) {
  const PointwiseParams& p = *job.p;
  const int n0 = p.panel_start[j], cols = p.panel_start[j + 1] - n0;
  const size_t mr = MR, k = static_cast<size_t>(p.in_c), n = static_cast<size_t>(p.out_c);
  const int taps = p.k * p.k;
  const float* b = p.packed.data() + k * static_cast<size_t>(taps) * static_cast<size_t>(n0);
  const float* bias = p.bias.data() + n0;
  const size_t first = i * job.tiles_per_task * mr, last = std::min(job.pixels, first + job.tiles_per_task * mr);
  if (job.rowwise) {
    constexpr int U = NV == 1 ? 8 : 4;
    for (size_t px = first; px < last; ++px)
      row<V, NV, U>(p, job.in + px * k, b, bias, job.out + px * n + static_cast<size_t>(n0),
                    job.residual ? job.residual + px * n + static_cast<size_t>(n0) : nullptr, cols);
    return;
  }
  for (size_t px = first; px < last; px += mr) {
    const size_t rows = std::min(mr, last - px);
    const float* rows_of[kMaxTaps * MR];
    if (taps == 1 && p.stride == 1) {
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) rows_of[r] = job.in + (px + std::min(static_cast<size_t>(r), rows - 1)) * k;
    } else {
      gather_taps<MR>(job, px, rows, rows_of);
    }
    const float* res = job.residual ? job.residual + px * n + static_cast<size_t>(n0) : nullptr;
    tile<V, MR, NV>(p, rows_of, taps, rows, b, bias, job.out + px * n + static_cast<size_t>(n0), res, cols);
  }
}

// One function per ISA and tile shape, compiled for that ISA only (a function of its own keeps
// the register allocation of each loop to itself).
#if defined(DYNN_CPU_X86_TARGETS)
DYNN_TARGET_AVX512 void task_avx512_48(const Job& job, size_t i, size_t j) { run_task<v16, 8, 3>(job, i, j); }
DYNN_TARGET_AVX512 void task_avx512_32(const Job& job, size_t i, size_t j) { run_task<v16, 8, 2>(job, i, j); }
DYNN_TARGET_AVX512 void task_avx512_16(const Job& job, size_t i, size_t j) { run_task<v16, 8, 1>(job, i, j); }
DYNN_TARGET_AVX2 void task_avx2(const Job& job, size_t i, size_t j) { run_task<v8, 6, 2>(job, i, j); }
#endif
#if defined(__aarch64__)
void task_neon(const Job& job, size_t i, size_t j) { run_task<v4, 6, 4>(job, i, j); }
#endif
void task_baseline(const Job& job, size_t i, size_t j) { run_task<v4, 2, 4>(job, i, j); }

void task(void* ctx, size_t i, size_t j) {
  const Job& job = *static_cast<const Job*>(ctx);
  const PointwiseParams& p = *job.p;
  switch (static_cast<Isa>(p.isa)) {
#if defined(DYNN_CPU_X86_TARGETS)
    case Isa::Avx512: {
      const int width = p.panel_start[j + 1] - p.panel_start[j];
      if (width > 32) return task_avx512_48(job, i, j);
      if (width > 16) return task_avx512_32(job, i, j);
      return task_avx512_16(job, i, j);
    }
    case Isa::Avx2: return task_avx2(job, i, j);
#endif
#if defined(__aarch64__)
    case Isa::Neon: return task_neon(job, i, j);
#endif
    default: return task_baseline(job, i, j);
  }
}

}  // namespace

std::vector<std::string> pointwise_kernels() {
  std::vector<std::string> names;
  for (Isa i : cpu_kernels()) names.emplace_back(kNames[static_cast<int>(i)]);
  return names;
}

void pack_conv(PointwiseParams& p, int in_c, int out_c, int k, int stride, const float* kernel, const float* bias,
               const std::string& kernel_name) {
  if (in_c < 1 || out_c < 1 || !kernel || k < 1 || k * k > kMaxTaps || k % 2 == 0 || stride < 1)
    throw Error(ErrorCode::Internal, fmt::format("cpu conv: {} -> {} channels, k {}, stride {}", in_c, out_c, k, stride));
  static const std::vector<Isa> available = cpu_kernels();
  Isa isa = available.front();
  if (!kernel_name.empty()) {
    const auto it = std::find_if(available.begin(), available.end(),
                                 [&](Isa i) { return kernel_name == kNames[static_cast<int>(i)]; });
    if (it == available.end())
      throw Error(ErrorCode::InvalidArgument, fmt::format("cpu pointwise: kernel '{}' does not run on this CPU", kernel_name));
    isa = *it;
  }
  const Shape s = kShapes[static_cast<int>(isa)];
  p.in_c = in_c, p.out_c = out_c, p.k = k, p.stride = stride;
  p.mr = s.mr, p.max_width = s.max_width, p.isa = static_cast<int>(s.isa);
  p.zeros.assign(k == 1 && stride == 1 ? 0 : static_cast<size_t>(in_c), 0.f);
  // One GEMM row per (tap, input channel): OHWI's order, so each output's weights are one row.
  const size_t rows = static_cast<size_t>(in_c) * static_cast<size_t>(k) * static_cast<size_t>(k);
  const size_t padded = (static_cast<size_t>(out_c) + 15) / 16 * 16;  // only the last panel is padded
  p.packed.assign(rows * padded, 0.f);
  p.bias.assign(padded, 0.f);
  if (bias) std::copy(bias, bias + out_c, p.bias.begin());
  p.panel_start.clear();
  for (int n0 = 0; n0 < out_c;) {
    p.panel_start.push_back(n0);
    const int width = panel_width(out_c - n0, s.max_width), cols = std::min(width, out_c - n0);
    // In blocks of 64 GEMM rows, so the panel rows being written stay in L1 (a 3x3 conv's panel
    // of 4608 rows would be swept `cols` times from L2 or beyond).
    float* dst = p.packed.data() + rows * static_cast<size_t>(n0);
    for (size_t i0 = 0; i0 < rows; i0 += 64) {
      const size_t i1 = std::min(rows, i0 + 64);
      for (int j = 0; j < cols; ++j) {
        const float* src = kernel + static_cast<size_t>(n0 + j) * rows;
        for (size_t i = i0; i < i1; ++i) dst[i * static_cast<size_t>(width) + static_cast<size_t>(j)] = src[i];
      }
    }
    n0 += width;
  }
  p.panel_start.push_back(out_c);
}

void pack_pointwise(PointwiseParams& p, int in_c, int out_c, const float* kernel, const float* bias,
                    const std::string& kernel_name) {
  pack_conv(p, in_c, out_c, 1, 1, kernel, bias, kernel_name);
}

namespace {
void run(const PointwiseParams& p, Job job, pthreadpool_t pool) {
  if (p.packed.empty()) throw Error(ErrorCode::Internal, "cpu pointwise: not packed");
  if (job.pixels == 0) return;
  const size_t panels = p.panel_start.size() - 1;
  // Tasks of at least ~8k vector FMAs (a few microseconds) where the layer has that many, so the
  // pool's per-task cost stays small against the work, and at least 4 tasks per thread otherwise.
  const size_t mr = static_cast<size_t>(p.mr), tiles = (job.pixels + mr - 1) / mr;
  const size_t per_tile = mr * static_cast<size_t>(p.max_width / 16) * static_cast<size_t>(p.in_c) *
                          static_cast<size_t>(p.k * p.k);
  size_t per_task = std::max<size_t>(1, 8192 / per_tile);
  const size_t threads = pthreadpool_get_threads_count(pool);
  while (per_task > 1 && ((tiles + per_task - 1) / per_task) * panels < 4 * threads) per_task /= 2;
  job.tiles_per_task = per_task;
  pthreadpool_parallelize_2d(pool, task, &job, (tiles + per_task - 1) / per_task, panels, 0);
}
}  // namespace

void pointwise_nhwc(const PointwiseParams& p, const float* in, float* out, const float* residual, size_t pixels,
                    pthreadpool_t pool) {
  if (p.k != 1 || p.stride != 1) throw Error(ErrorCode::Internal, "cpu pointwise: a k x k or strided conv needs conv_nhwc");
  run(p, Job{&p, in, out, residual, pixels, 0, pixels <= 2}, pool);
}

void conv_nhwc(const PointwiseParams& p, const float* in, float* out, const float* residual, size_t batch, int h, int w,
               pthreadpool_t pool) {
  const int pad = p.k / 2, oh = (h + 2 * pad - p.k) / p.stride + 1, ow = (w + 2 * pad - p.k) / p.stride + 1;
  if (h < 1 || w < 1 || oh < 1 || ow < 1) throw Error(ErrorCode::Internal, fmt::format("cpu conv: {}x{} input", h, w));
  Job job{&p, in, out, residual, batch * static_cast<size_t>(oh) * static_cast<size_t>(ow), 0, false};
  job.h = h, job.w = w, job.oh = oh, job.ow = ow;
  run(p, job, pool);
}

}  // namespace dynn::cpu
