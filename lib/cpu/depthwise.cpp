#include "cpu/depthwise.hpp"

#include <pthreadpool.h>

#include "cpu/simd.hpp"

#include <algorithm>

namespace dynn::cpu {
namespace {

using namespace simd;

struct Job {
  const DepthwiseParams* p;
  const float* in;
  float* out;
  int h, w, oh, ow;
  bool oct;  // 8-pixel blocks (oct) where the ISA has the registers and (k, stride) an instance
};

// oct keeps up to 16 vectors of 16 floats in registers: only the AVX-512 clone has the room.
bool registers_for_oct() { return avx512_clone(); }

struct Pixel {
  const float* image;  // top-left of this image, NHWC
  const float* w;      // [k*k][c]
  int c, k, stride_row;  // stride_row = w * c
  int x0, y0, kx0, kx1, ky0, ky1;
};

template <class V>
inline void block1(const Pixel& p, const float* bias, float* o, int ch, const Epilogue& e) {
  // One partial sum per kernel row: the rows' FMA chains are independent, so they overlap
  // instead of each tap waiting on the one before (edge pixels and small maps run this).
  V a = load<V>(bias + ch);
  for (int ky = p.ky0; ky < p.ky1; ++ky) {
    const float* ip = p.image + static_cast<size_t>(p.y0 + ky) * p.stride_row + static_cast<size_t>(p.x0 + p.kx0) * p.c + ch;
    const float* wp = p.w + static_cast<size_t>(ky * p.k + p.kx0) * p.c + ch;
    V r = V{};
    for (int kx = p.kx0; kx < p.kx1; ++kx, ip += p.c, wp += p.c) r += load<V>(wp) * load<V>(ip);
    a += r;
  }
  store(o + ch, e(a));
}

// Four horizontally adjacent interior output pixels, channels [ch, ch + 16): one weight load feeds
// four independent FMA chains.
inline void quad16(const Pixel& p, int pixel_step, const float* bias, float* o, int ch, const Epilogue& e) {
  const v16 b = load<v16>(bias + ch);
  v16 a0 = b, a1 = b, a2 = b, a3 = b;
  const size_t s = static_cast<size_t>(pixel_step);
  for (int ky = p.ky0; ky < p.ky1; ++ky) {
    const float* ip = p.image + static_cast<size_t>(p.y0 + ky) * p.stride_row + static_cast<size_t>(p.x0) * p.c + ch;
    const float* wp = p.w + static_cast<size_t>(ky * p.k) * p.c + ch;
    for (int kx = 0; kx < p.k; ++kx, ip += p.c, wp += p.c) {
      const v16 w = load<v16>(wp);
      a0 += w * load<v16>(ip);
      a1 += w * load<v16>(ip + s);
      a2 += w * load<v16>(ip + 2 * s);
      a3 += w * load<v16>(ip + 3 * s);
    }
  }
  const size_t c = static_cast<size_t>(p.c);
  store(o + ch, e(a0));
  store(o + c + ch, e(a1));
  store(o + 2 * c + ch, e(a2));
  store(o + 3 * c + ch, e(a3));
}

// Eight horizontally adjacent output pixels from ox (p.x0 = ox * S - pad), channels [ch, ch +
// lanes of V), for kernel size K and stride S fixed at compile time. Each input vector of a kernel
// row is loaded once and feeds every output whose window covers it (for K 7, S 1: 14 input and 7
// weight loads per 56 FMAs, against 35 loads per 28 in quad16). Edge: the block reaches past the
// image (input columns outside [0, w) read as zero) or past the row (only `outputs` are stored).
template <class V, int K, int S, bool Edge>
inline void oct(const Pixel& p, int w, int outputs, const float* bias, float* o, int ch, const Epilogue& e) {
  constexpr int N = 8, J = (N - 1) * S + K;
  const V b = load<V>(bias + ch);
  V a[N];
  for (int i = 0; i < N; ++i) a[i] = b;
  const size_t c = static_cast<size_t>(p.c);
  const int jlo = Edge ? std::max(0, -p.x0) : 0, jhi = Edge ? std::min(J, w - p.x0) : J;
  for (int ky = p.ky0; ky < p.ky1; ++ky) {
    const float* row = p.image + static_cast<size_t>(p.y0 + ky) * p.stride_row + ch;
    const float* wp = p.w + static_cast<size_t>(ky * K) * c + ch;
    V wk[K];
#pragma GCC unroll 8
    for (int kx = 0; kx < K; ++kx) wk[kx] = load<V>(wp + kx * c);
#pragma GCC unroll 24
    for (int j = 0; j < J; ++j) {
      if (Edge && (j < jlo || j >= jhi)) continue;  // zero padding: adds nothing
      const V x = load<V>(row + static_cast<ptrdiff_t>(p.x0 + j) * static_cast<ptrdiff_t>(c));
#pragma GCC unroll 8
      for (int kx = 0; kx < K; ++kx)
        if (j - kx >= 0 && (j - kx) % S == 0 && (j - kx) / S < N) a[(j - kx) / S] += wk[kx] * x;
    }
  }
  for (int i = 0; i < N; ++i)
    if (!Edge || i < outputs) store(o + i * c + ch, e(a[i]));
}

// The (k, stride) pairs that have oct instances: MobileNetV3's kernel sizes at both strides.
bool has_oct(int k, int stride) { return (k == 3 || k == 5 || k == 7) && (stride == 1 || stride == 2); }

// One output row of channels [ch, ch + lanes of V) in 8-pixel blocks, for (K, S).
template <class V, int K, int S>
inline void oct_row(Pixel p, int w, int ow, int pad, const float* bias, float* o, int ch, const Epilogue& e) {
  for (int ox = 0; ox < ow; ox += 8, o += 8 * static_cast<size_t>(p.c)) {
    p.x0 = ox * S - pad;
    if (ox + 8 <= ow && p.x0 >= 0 && p.x0 + 7 * S + K <= w)
      oct<V, K, S, false>(p, w, 8, bias, o, ch, e);
    else
      oct<V, K, S, true>(p, w, std::min(8, ow - ox), bias, o, ch, e);
  }
}

// oct_row for the (k, stride) of the layer (has_oct() is true). A switch, not a function
// pointer, so the instances are inlined into each ISA clone of row().
template <class V>
inline void oct_row_for(int k, int stride, const Pixel& p, int w, int ow, int pad, const float* bias, float* o, int ch,
                        const Epilogue& e) {
  switch (k * 2 + stride) {
    case 3 * 2 + 1: return oct_row<V, 3, 1>(p, w, ow, pad, bias, o, ch, e);
    case 3 * 2 + 2: return oct_row<V, 3, 2>(p, w, ow, pad, bias, o, ch, e);
    case 5 * 2 + 1: return oct_row<V, 5, 1>(p, w, ow, pad, bias, o, ch, e);
    case 5 * 2 + 2: return oct_row<V, 5, 2>(p, w, ow, pad, bias, o, ch, e);
    case 7 * 2 + 1: return oct_row<V, 7, 1>(p, w, ow, pad, bias, o, ch, e);
    default: return oct_row<V, 7, 2>(p, w, ow, pad, bias, o, ch, e);
  }
}

inline void scalar(const Pixel& p, const float* bias, float* o, int ch, const Epilogue& e) {
  float a = bias[ch];
  for (int ky = p.ky0; ky < p.ky1; ++ky)
    for (int kx = p.kx0; kx < p.kx1; ++kx)
      a += p.w[static_cast<size_t>(ky * p.k + kx) * p.c + ch] *
           p.image[static_cast<size_t>(p.y0 + ky) * p.stride_row + static_cast<size_t>(p.x0 + kx) * p.c + ch];
  o[ch] = e(a);
}

// One output row. Built for the widest vector unit the CPU has on x86-64 (ifunc at load time);
// elsewhere (aarch64: NEON) for the baseline ISA.
DYNN_CPU_CLONED void row(const Job& j, size_t index) {
  const DepthwiseParams& d = *j.p;
  const size_t n = index / static_cast<size_t>(j.oh);
  const int oy = static_cast<int>(index % static_cast<size_t>(j.oh));
  const int c = d.c;
  Pixel p;
  p.image = j.in + n * static_cast<size_t>(j.h) * j.w * c;
  p.w = d.w.data();
  p.c = c, p.k = d.k, p.stride_row = j.w * c;
  p.y0 = oy * d.stride - d.pad;
  p.ky0 = std::max(0, -p.y0), p.ky1 = std::min(d.k, j.h - p.y0);
  const float* bias = d.bias.data();
  const Epilogue e{d.lo, d.hi, d.hardswish};
  float* o = j.out + (n * static_cast<size_t>(j.oh) + static_cast<size_t>(oy)) * static_cast<size_t>(j.ow) * c;
  // Channel blocks outermost: one block's weights (k*k lines) and input rows stay in L1 while the
  // row is swept; the whole window of all channels would not (7x7 x 144 channels is 28 KB).
  const int pixel_step = d.stride * c;
  int ch = 0;
  if (j.oct) {  // AVX-512: every pixel in 8-pixel blocks, 16 channels at a time, then 8
    for (; ch + 16 <= c; ch += 16) oct_row_for<v16>(d.k, d.stride, p, j.w, j.ow, d.pad, bias, o, ch, e);
    for (; ch + 8 <= c; ch += 8) oct_row_for<v8>(d.k, d.stride, p, j.w, j.ow, d.pad, bias, o, ch, e);
  }
  for (; ch + 16 <= c; ch += 16) {
    float* out = o;
    for (int ox = 0; ox < j.ow;) {
      p.x0 = ox * d.stride - d.pad;
      if (ox + 3 < j.ow && p.x0 >= 0 && p.x0 + 3 * d.stride + d.k <= j.w) {
        p.kx0 = 0, p.kx1 = d.k;
        quad16(p, pixel_step, bias, out, ch, e);
        ox += 4, out += 4 * static_cast<size_t>(c);
      } else {
        p.kx0 = std::max(0, -p.x0), p.kx1 = std::min(d.k, j.w - p.x0);
        block1<v16>(p, bias, out, ch, e);
        ++ox, out += c;
      }
    }
  }
  if (ch == c) return;
  for (int ox = 0; ox < j.ow; ++ox, o += c) {
    p.x0 = ox * d.stride - d.pad;
    p.kx0 = std::max(0, -p.x0), p.kx1 = std::min(d.k, j.w - p.x0);
    int t = ch;
    for (; t + 8 <= c; t += 8) block1<v8>(p, bias, o, t, e);
    for (; t < c; ++t) scalar(p, bias, o, t, e);
  }
}

void task(void* ctx, size_t index) { row(*static_cast<const Job*>(ctx), index); }

}  // namespace

void depthwise_nhwc(const DepthwiseParams& p, const float* in, float* out, size_t batch, int h, int w, int oh, int ow,
                    pthreadpool_t pool) {
  Job j{&p, in, out, h, w, oh, ow, has_oct(p.k, p.stride) && registers_for_oct()};
  pthreadpool_parallelize_1d(pool, task, &j, batch * static_cast<size_t>(oh), 0);
}

bool depthwise_preferred(int k, int stride) {
  const int taps = k * k;
  const bool xnnpack_kernel = taps == 3 || taps == 4 || taps == 9 || taps == 25;
  return !xnnpack_kernel || (has_oct(k, stride) && registers_for_oct());
}

}  // namespace dynn::cpu
