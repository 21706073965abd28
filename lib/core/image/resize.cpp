// Pillow's resize with Image.BILINEAR, bit for bit (Pillow 9.x libImaging/Resample.c): the
// coefficient computation, the 22-bit fixed point and the pass order are copied exactly, because
// any rounding difference changes pixels (docs/ofa_spec.md section 6.1).
#include <cmath>
#include <cstdint>
#include <vector>

#include <fmt/format.h>

#include "dynn/error.hpp"
#include "dynn/image/image.hpp"

namespace dynn {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;   // per output index: xmin, count
  std::vector<int32_t> k;    // outSize * ksize fixed-point weights
};

double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

// precompute_coeffs() + normalize_coeffs_8bpc() for box [0, inSize).
Coeffs precompute(int in_size, int out_size) {
  const float in0 = 0.0f, in1 = static_cast<float>(in_size);
  double filterscale = static_cast<double>(in1 - in0) / out_size;
  const double scale = filterscale;
  if (filterscale < 1.0) filterscale = 1.0;
  const double support = 1.0 * filterscale;  // bilinear support is 1
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(static_cast<size_t>(out_size) * 2);
  std::vector<double> kk(static_cast<size_t>(out_size) * static_cast<size_t>(c.ksize), 0.0);
  for (int xx = 0; xx < out_size; ++xx) {
    double center = in0 + (xx + 0.5) * scale;
    double ww = 0.0;
    double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double* k = &kk[static_cast<size_t>(xx) * static_cast<size_t>(c.ksize)];
    for (int x = 0; x < xmax; ++x) {
      double w = bilinear_filter((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x)
      if (ww != 0.0) k[x] /= ww;
    c.bounds[static_cast<size_t>(xx) * 2] = xmin;
    c.bounds[static_cast<size_t>(xx) * 2 + 1] = xmax;
  }
  c.k.resize(kk.size());
  for (size_t i = 0; i < kk.size(); ++i)
    c.k[i] = kk[i] < 0 ? static_cast<int32_t>(-0.5 + kk[i] * (1 << kPrecisionBits))
                       : static_cast<int32_t>(0.5 + kk[i] * (1 << kPrecisionBits));
  return c;
}

inline uint8_t clip8(int in) {
  if (in >= (1 << kPrecisionBits << 8)) return 255;
  if (in <= 0) return 0;
  return static_cast<uint8_t>(in >> kPrecisionBits);
}

// Output row yy of `out` from input row yy + offset.
void horizontal(const Image& in, Image& out, int offset, const Coeffs& c) {
  const int ch = in.channels;
  for (int yy = 0; yy < out.height; ++yy) {
    const uint8_t* src = in.row(yy + offset);
    uint8_t* dst = out.row(yy);
    for (int xx = 0; xx < out.width; ++xx) {
      const int xmin = c.bounds[static_cast<size_t>(xx) * 2], xmax = c.bounds[static_cast<size_t>(xx) * 2 + 1];
      const int32_t* k = &c.k[static_cast<size_t>(xx) * static_cast<size_t>(c.ksize)];
      for (int b = 0; b < ch; ++b) {
        int ss = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < xmax; ++x) ss += src[(x + xmin) * ch + b] * k[x];
        dst[xx * ch + b] = clip8(ss);
      }
    }
  }
}

void vertical(const Image& in, Image& out, const Coeffs& c, int shift) {
  const int ch = in.channels;
  const size_t stride = static_cast<size_t>(in.width) * static_cast<size_t>(ch);
  for (int yy = 0; yy < out.height; ++yy) {
    const int ymin = c.bounds[static_cast<size_t>(yy) * 2] - shift, ymax = c.bounds[static_cast<size_t>(yy) * 2 + 1];
    const int32_t* k = &c.k[static_cast<size_t>(yy) * static_cast<size_t>(c.ksize)];
    uint8_t* dst = out.row(yy);
    for (size_t i = 0; i < stride; ++i) {
      int ss = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < ymax; ++y) ss += in.pixels[static_cast<size_t>(y + ymin) * stride + i] * k[y];
      dst[i] = clip8(ss);
    }
  }
}

}  // namespace

Image resize_bilinear(const Image& in, int out_w, int out_h) {
  if (in.empty()) throw Error(ErrorCode::InvalidArgument, "resize_bilinear: empty image");
  if (out_w < 1 || out_h < 1 || int64_t{out_w} * out_h > (int64_t{1} << 28))
    throw Error(ErrorCode::InvalidArgument, fmt::format("resize_bilinear: bad output size {}x{}", out_w, out_h));
  if (out_w == in.width && out_h == in.height) return in;
  const bool need_h = out_w != in.width, need_v = out_h != in.height;
  Coeffs ch = precompute(in.width, out_w);
  Coeffs cv = precompute(in.height, out_h);
  // Rows the vertical pass reads: only those get a horizontal pass.
  const int ybox_first = cv.bounds[0];
  const int ybox_last = cv.bounds[static_cast<size_t>(out_h) * 2 - 2] + cv.bounds[static_cast<size_t>(out_h) * 2 - 1];
  if (!need_v) {
    Image out(out_w, in.height, in.channels);
    horizontal(in, out, 0, ch);
    return out;
  }
  Image out(out_w, out_h, in.channels);
  if (need_h) {
    Image tmp(out_w, ybox_last - ybox_first, in.channels);
    horizontal(in, tmp, ybox_first, ch);
    vertical(tmp, out, cv, ybox_first);
  } else {
    vertical(in, out, cv, 0);
  }
  return out;
}

}  // namespace dynn
