// Images and OFA's evaluation transform, torch-free (dynn::core): JPEG decoding with libjpeg-turbo
// as Pillow does it (ISLOW DCT, fancy upsampling; grayscale and CMYK converted to RGB as
// Image.convert('RGB')), binary PPM/PGM, Pillow's antialiased bilinear resize bit for bit,
// torchvision's Resize(int) / CenterCrop / ToTensor / Normalize (docs/ofa_spec.md section 6.1).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dynn {

// 8-bit interleaved pixels, row-major (HWC). channels is 1 (L), 3 (RGB) or 4 (CMYK as decoded).
struct Image {
  int width = 0, height = 0, channels = 3;
  std::vector<uint8_t> pixels;  // height * width * channels

  Image() = default;
  Image(int w, int h, int c);  // zero-filled; throws InvalidArgument on a bad size
  uint8_t* row(int y) { return pixels.data() + static_cast<size_t>(y) * static_cast<size_t>(width) * static_cast<size_t>(channels); }
  const uint8_t* row(int y) const {
    return pixels.data() + static_cast<size_t>(y) * static_cast<size_t>(width) * static_cast<size_t>(channels);
  }
  bool empty() const { return pixels.empty(); }
};

enum class ImageFormat { Unknown, Jpeg, Ppm, Png };
// From the first bytes (magic numbers), not from the file name.
ImageFormat sniff_image_format(const uint8_t* data, size_t size);

struct DecodeInfo {
  ImageFormat format = ImageFormat::Unknown;
  int source_channels = 0;      // 1 gray, 3 colour, 4 CMYK/YCCK
  std::string warning;          // a libjpeg warning the image decoded with ("" if none)
};

// Decodes a JPEG or binary PPM (P6) / PGM (P5, maxval 255) to RGB, as PIL.Image.open(f).convert('RGB').
// `name` is only used in messages. Corrupt or truncated data, other formats (PNG is recognised
// but not decoded) and images over Pillow's decompression-bomb limit (178,956,970 pixels, checked from
// the header before decoding) throw Error(Parse / Unsupported) naming `name`. JPEGs the TurboJPEG
// API refuses (unusual sampling factors) are decoded through the libjpeg API.
Image decode_image(const uint8_t* data, size_t size, const std::string& name = "<memory>", DecodeInfo* info = nullptr);
// NotFound when missing, PermissionDenied, InvalidArgument for a FIFO, device or folder (never
// blocks) or a file over 256 MiB, Io on read errors.
Image load_image(const std::string& path, DecodeInfo* info = nullptr);

// The same, keeping the decoded colour space (1 channel gray, 3 RGB, 4 CMYK as Pillow's 'CMYK').
Image decode_image_raw(const uint8_t* data, size_t size, const std::string& name = "<memory>", DecodeInfo* info = nullptr);
// Pillow's convert('RGB') from L (replicate) or CMYK (r = 255 - k - c*(255-k)/255, rounded as Pillow).
Image to_rgb(const Image& in);

// Encoders, for tests and generated inputs. quality 1..100, 4:2:0 subsampling for colour.
std::vector<uint8_t> encode_jpeg(const Image& img, int quality = 90);
std::vector<uint8_t> encode_ppm(const Image& img);  // P6 (RGB) or P5 (gray)
void save_image(const std::string& path, const Image& img, int jpeg_quality = 90);  // by extension: .jpg/.jpeg/.ppm/.pgm

// Pillow Image.resize((out_w, out_h), Image.BILINEAR): separable triangle filter whose support
// grows with the downscale factor (antialiased), 22-bit fixed point, horizontal pass first over
// the rows the vertical pass needs, uint8 intermediate. Same size: a copy.
Image resize_bilinear(const Image& in, int out_w, int out_h);

// torchvision Resize(size) with an int: the short side becomes `short_side`, the long side
// int(short_side * long / short); unchanged when it already has that size.
void resized_size(int width, int height, int short_side, int& out_w, int& out_h);
Image resize_short_side(const Image& in, int short_side);

// torchvision CenterCrop: top = round_half_even((H - h) / 2), likewise left. The crop must fit.
Image center_crop(const Image& in, int crop_w, int crop_h);

// S = ceil(r / 0.875) computed exactly: (8r + 6) / 7.
int ofa_resize_size(int resolution);

// ToTensor + Normalize: HWC uint8 RGB -> CHW float32 ((v / 255) - mean) / std, in float32 as
// torch does. out holds 3 * h * w floats.
void normalize_to_chw(const Image& rgb, const std::array<float, 3>& mean, const std::array<float, 3>& std, float* out);

// OFA's validation transform at resolution r: Resize(S) -> CenterCrop(r) -> ToTensor -> Normalize
// with the ImageNet mean/std.
struct EvalTransform {
  int resolution = 224;
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};

  EvalTransform() = default;
  explicit EvalTransform(int r) : resolution(r) {}
  int resize_size() const { return ofa_resize_size(resolution); }
  // The uint8 image after resize and crop (r x r RGB).
  Image crop(const Image& rgb) const;
  // Writes 3 * r * r floats (CHW).
  void operator()(const Image& rgb, float* out) const;
  std::vector<float> operator()(const Image& rgb) const;
};

}  // namespace dynn
