// torchvision's Resize(int) / CenterCrop / ToTensor / Normalize as OFA's validation transform uses
// them (docs/ofa_spec.md section 6.1).
#include <cstring>

#include <fmt/format.h>

#include "dynn/error.hpp"
#include "dynn/image/image.hpp"

namespace dynn {

int ofa_resize_size(int resolution) {
  if (resolution < 1 || resolution > 1 << 20)
    throw Error(ErrorCode::InvalidArgument, fmt::format("ofa_resize_size: resolution {} out of range", resolution));
  return (8 * resolution + 6) / 7;
}

void resized_size(int width, int height, int short_side, int& out_w, int& out_h) {
  if (width < 1 || height < 1 || short_side < 1)
    throw Error(ErrorCode::InvalidArgument, fmt::format("resized_size: bad sizes {}x{} -> short side {}", width, height, short_side));
  const bool w_short = width <= height;
  const int64_t s = w_short ? width : height, l = w_short ? height : width;
  // Python: int(S * long / short): exact integer product, correctly rounded division, truncation.
  const int64_t nl = static_cast<int64_t>(static_cast<double>(int64_t{short_side} * l) / static_cast<double>(s));
  if (nl > (1 << 28)) throw Error(ErrorCode::InvalidArgument, fmt::format("resized_size: {}x{} -> long side {} too large", width, height, nl));
  out_w = w_short ? short_side : static_cast<int>(nl);
  out_h = w_short ? static_cast<int>(nl) : short_side;
}

Image resize_short_side(const Image& in, int short_side) {
  int w = 0, h = 0;
  resized_size(in.width, in.height, short_side, w, h);
  return resize_bilinear(in, w, h);  // a copy when the size is unchanged
}

namespace {
// int(round(t / 2.0)) with Python's round-half-to-even, t >= 0.
int half_even_half(int t) {
  int q = t / 2;
  if (t % 2 == 0) return q;
  return (q % 2 == 0) ? q : q + 1;
}
}  // namespace

Image center_crop(const Image& in, int crop_w, int crop_h) {
  if (crop_w < 1 || crop_h < 1 || crop_w > in.width || crop_h > in.height)
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("center_crop: crop {}x{} does not fit in the {}x{} image", crop_w, crop_h, in.width, in.height));
  const int top = half_even_half(in.height - crop_h), left = half_even_half(in.width - crop_w);
  Image out(crop_w, crop_h, in.channels);
  const size_t row_bytes = static_cast<size_t>(crop_w) * static_cast<size_t>(in.channels);
  for (int y = 0; y < crop_h; ++y) std::memcpy(out.row(y), in.row(y + top) + static_cast<size_t>(left) * static_cast<size_t>(in.channels), row_bytes);
  return out;
}

void normalize_to_chw(const Image& rgb, const std::array<float, 3>& mean, const std::array<float, 3>& std, float* out) {
  if (rgb.channels != 3 || rgb.empty())
    throw Error(ErrorCode::InvalidArgument, fmt::format("normalize_to_chw: need an RGB image, got {} channels", rgb.channels));
  for (int c = 0; c < 3; ++c)
    if (!(std[static_cast<size_t>(c)] != 0.0f))
      throw Error(ErrorCode::InvalidArgument, fmt::format("normalize_to_chw: std[{}] is zero", c));
  const size_t plane = static_cast<size_t>(rgb.width) * static_cast<size_t>(rgb.height);
  for (size_t c = 0; c < 3; ++c) {
    const float m = mean[c], s = std[c];
    float* o = out + c * plane;
    // Same float32 operations as ToTensor (x / 255) then Normalize ((x - mean) / std).
    for (size_t i = 0; i < plane; ++i) o[i] = (static_cast<float>(rgb.pixels[3 * i + c]) / 255.0f - m) / s;
  }
}

Image EvalTransform::crop(const Image& rgb) const {
  Image r = to_rgb(rgb);
  Image resized = resize_short_side(r, resize_size());
  return center_crop(resized, resolution, resolution);
}

void EvalTransform::operator()(const Image& rgb, float* out) const { normalize_to_chw(crop(rgb), mean, std, out); }

std::vector<float> EvalTransform::operator()(const Image& rgb) const {
  std::vector<float> out(static_cast<size_t>(3) * static_cast<size_t>(resolution) * static_cast<size_t>(resolution));
  (*this)(rgb, out.data());
  return out;
}

}  // namespace dynn
