// Decoders and encoders: JPEG through libjpeg-turbo's TurboJPEG API (the same libjpeg that
// Debian's Pillow uses, with Pillow's settings), and binary PPM/PGM.
#include <turbojpeg.h>

#include <csetjmp>
#include <cstdio>

#include <jpeglib.h>
#include <jerror.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "core/io/file.hpp"
#include "dynn/error.hpp"
#include "dynn/image/image.hpp"

namespace dynn {

namespace {

// Decompression-bomb limit, Pillow's: above 2 x MAX_IMAGE_PIXELS (89,478,485) Image.open refuses.
// Checked from the header, before any pixel memory is allocated.
constexpr int64_t kMaxPixels = 2 * int64_t{89478485};
// A progressive JPEG may repeat scans (decoders warn and go on), each one a pass over the whole
// coefficient buffer: a tiny file could keep the decoder busy for minutes. libjpeg-turbo's own
// limit (TJFLAG_LIMITSCANS, djpeg -maxscans); real encoders write about ten.
constexpr int kMaxScans = 500;

struct TjHandle {
  tjhandle h = nullptr;
  explicit TjHandle(bool compress) : h(compress ? tjInitCompress() : tjInitDecompress()) {
    if (!h) throw Error(ErrorCode::Internal, fmt::format("TurboJPEG: cannot create a handle: {}", tjGetErrorStr2(nullptr)));
  }
  ~TjHandle() { tjDestroy(h); }
  TjHandle(const TjHandle&) = delete;
  TjHandle& operator=(const TjHandle&) = delete;
};

void check_size(int64_t w, int64_t h, const std::string& name) {
  if (w < 1 || h < 1) throw Error(ErrorCode::Parse, fmt::format("image '{}': size {}x{} is empty", name, w, h));
  if (w * h > kMaxPixels)
    throw Error(ErrorCode::Unsupported, fmt::format("image '{}': {}x{} = {} pixels is more than the decompression-bomb limit of {}", name,
                                                    w, h, w * h, kMaxPixels));
}

// ---- libjpeg API: the fallback for JPEGs TurboJPEG's tj* API refuses (unusual chroma sampling
// factors: "could not determine subsampling"), decoded as Pillow does (ISLOW DCT, default upsampling).
struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {};
  bool truncated = false;
  std::string warning;
};

[[noreturn]] void jpeg_fail(j_common_ptr c) {
  auto* e = reinterpret_cast<JpegError*>(c->err);
  (*c->err->format_message)(c, e->message);
  std::longjmp(e->jump, 1);
}

void jpeg_message(j_common_ptr c, int level) {
  if (level >= 0) return;  // trace messages
  auto* e = reinterpret_cast<JpegError*>(c->err);
  if (c->err->msg_code == JWRN_JPEG_EOF) e->truncated = true;
  if (e->warning.empty()) {
    char buf[JMSG_LENGTH_MAX];
    (*c->err->format_message)(c, buf);
    e->warning = buf;
  }
}

// Counts scans as libjpeg reads them and stops past kMaxScans (through error_exit: a longjmp).
struct ScanLimit {
  jpeg_progress_mgr mgr;
  static void check(j_common_ptr c) {
    auto* d = reinterpret_cast<j_decompress_ptr>(c);
    if (d->input_scan_number > kMaxScans) {
      auto* e = reinterpret_cast<JpegError*>(c->err);
      std::snprintf(e->message, sizeof e->message, "progressive JPEG with more than %d scans", kMaxScans);
      std::longjmp(e->jump, 1);
    }
  }
};

Image decode_jpeg_libjpeg(const uint8_t* data, size_t size, const std::string& name, DecodeInfo* info) {
  jpeg_decompress_struct cinfo{};
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  err.mgr.emit_message = jpeg_message;
  ScanLimit scans{};
  scans.mgr.progress_monitor = ScanLimit::check;
  // Released on every path, also when a C++ exception (the Image's allocation) leaves this frame;
  // jpeg_destroy is a no-op on a destroyed or never-created struct.
  struct Destroy {
    jpeg_decompress_struct& c;
    ~Destroy() { jpeg_destroy_decompress(&c); }
  } destroy{cinfo};
  // Everything that can longjmp lives between setjmp and the end of decoding, and no object with
  // a destructor is created there after setjmp: the Image is declared before it.
  Image img;
  volatile int channels = 3;  // set after setjmp, read after a possible longjmp
  if (setjmp(err.jump)) {
    const std::string why = err.message;
    throw Error(ErrorCode::Parse, fmt::format("image '{}': corrupt JPEG: {}", name, why));
  }
  jpeg_create_decompress(&cinfo);
  cinfo.progress = &scans.mgr;
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  check_size(cinfo.image_width, cinfo.image_height, name);
  if (cinfo.jpeg_color_space == JCS_GRAYSCALE) {
    cinfo.out_color_space = JCS_GRAYSCALE, channels = 1;
  } else if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    cinfo.out_color_space = JCS_CMYK, channels = 4;
  } else {
    cinfo.out_color_space = JCS_RGB;
  }
  cinfo.dct_method = JDCT_ISLOW;
  jpeg_start_decompress(&cinfo);
  const int w = static_cast<int>(cinfo.output_width), h = static_cast<int>(cinfo.output_height);
  img = Image(w, h, channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = img.pixels.data() + static_cast<size_t>(cinfo.output_scanline) * static_cast<size_t>(w) * static_cast<size_t>(channels);
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  if (err.truncated) throw Error(ErrorCode::Parse, fmt::format("image '{}': truncated JPEG: {}", name, err.warning));
  if (channels == 4)
    for (auto& v : img.pixels) v = static_cast<uint8_t>(255 - v);
  if (info) {
    info->format = ImageFormat::Jpeg;
    info->source_channels = channels;
    if (!err.warning.empty()) info->warning = fmt::format("image '{}': {}", name, err.warning);
  }
  return img;
}

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name, DecodeInfo* info) {
  TjHandle tj(false);
  int w = 0, h = 0, subsamp = 0, cs = 0;
  auto* buf = const_cast<unsigned char*>(data);  // TurboJPEG 2.x takes non-const buffers; it never writes
  if (tjDecompressHeader3(tj.h, buf, static_cast<unsigned long>(size), &w, &h, &subsamp, &cs) != 0) {
    // The tj* API also refuses valid JPEGs whose sampling factors it has no name for; libjpeg
    // itself decodes them (and gives the precise error for really corrupt ones).
    const std::string tj_msg = tjGetErrorStr2(tj.h);
    try {
      return decode_jpeg_libjpeg(data, size, name, info);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::Parse) throw;
      throw Error(ErrorCode::Parse, fmt::format("{} (TurboJPEG: {})", e.what(), tj_msg));
    }
  }
  check_size(w, h, name);
  int pf = TJPF_RGB, channels = 3;
  if (cs == TJCS_GRAY) pf = TJPF_GRAY, channels = 1;
  if (cs == TJCS_CMYK || cs == TJCS_YCCK) pf = TJPF_CMYK, channels = 4;
  Image img(w, h, channels);
  // Flags: ISLOW DCT and fancy upsampling (libjpeg's defaults, which Pillow keeps); kMaxScans.
  static_assert(kMaxScans == 500, "TJFLAG_LIMITSCANS stops at 500 scans");
  if (tjDecompress2(tj.h, buf, static_cast<unsigned long>(size), img.pixels.data(), w, 0, h, pf, TJFLAG_LIMITSCANS) != 0) {
    std::string msg = tjGetErrorStr2(tj.h);
    if (tjGetErrorCode(tj.h) != TJERR_WARNING)
      throw Error(ErrorCode::Parse, fmt::format("image '{}': corrupt JPEG: {}", name, msg));
    // libjpeg pads a truncated stream with grey and warns; Pillow refuses it ("image file is
    // truncated"), so do we. Other warnings (extraneous bytes, ...) Pillow accepts.
    if (msg.find("Premature end") != std::string::npos)
      throw Error(ErrorCode::Parse, fmt::format("image '{}': truncated JPEG: {}", name, msg));
    if (info) info->warning = fmt::format("image '{}': {}", name, msg);
  }
  if (channels == 4) {
    // Pillow reads every CMYK JPEG as "CMYK;I" (Adobe polarity: stored inverted).
    for (auto& v : img.pixels) v = static_cast<uint8_t>(255 - v);
  }
  if (info) {
    info->format = ImageFormat::Jpeg;
    info->source_channels = channels;
  }
  return img;
}

// Netpbm: "P6"/"P5", whitespace, width, height, maxval (comments from '#' to end of line), one
// whitespace byte, then the samples.
Image decode_pnm(const uint8_t* data, size_t size, const std::string& name, DecodeInfo* info) {
  size_t pos = 2;
  auto number = [&](const char* what) -> int64_t {
    while (pos < size) {
      if (data[pos] == '#') {
        while (pos < size && data[pos] != '\n') ++pos;
      } else if (std::isspace(data[pos])) {
        ++pos;
      } else {
        break;
      }
    }
    if (pos >= size || !std::isdigit(data[pos]))
      throw Error(ErrorCode::Parse, fmt::format("image '{}': PPM header: {} missing", name, what));
    int64_t v = 0;
    while (pos < size && std::isdigit(data[pos])) {
      v = v * 10 + (data[pos++] - '0');
      if (v > (int64_t{1} << 30)) throw Error(ErrorCode::Parse, fmt::format("image '{}': PPM header: {} too large", name, what));
    }
    return v;
  };
  int channels = data[1] == '6' ? 3 : 1;
  int64_t w = number("width"), h = number("height"), maxval = number("maxval");
  if (maxval != 255)
    throw Error(ErrorCode::Unsupported, fmt::format("image '{}': PPM maxval {} (only 255 is supported)", name, maxval));
  check_size(w, h, name);
  if (pos >= size || !std::isspace(data[pos])) throw Error(ErrorCode::Parse, fmt::format("image '{}': PPM header not terminated", name));
  ++pos;
  size_t need = static_cast<size_t>(w * h * channels);
  if (size - pos < need)
    throw Error(ErrorCode::Parse, fmt::format("image '{}': truncated PPM: {} bytes of pixels, {} needed", name, size - pos, need));
  Image img(static_cast<int>(w), static_cast<int>(h), channels);
  std::memcpy(img.pixels.data(), data + pos, need);
  if (info) {
    info->format = ImageFormat::Ppm;
    info->source_channels = channels;
  }
  return img;
}

std::string lower_ext(const std::string& path) {
  auto dot = path.find_last_of('.');
  auto slash = path.find_last_of('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string e = path.substr(dot);
  for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

}  // namespace

Image::Image(int w, int h, int c) : width(w), height(h), channels(c) {
  if (w < 1 || h < 1 || (c != 1 && c != 3 && c != 4) || int64_t{w} * h > kMaxPixels)
    throw Error(ErrorCode::InvalidArgument, fmt::format("Image: bad size {}x{} with {} channels", w, h, c));
  pixels.assign(static_cast<size_t>(w) * static_cast<size_t>(h) * static_cast<size_t>(c), 0);
}

ImageFormat sniff_image_format(const uint8_t* data, size_t size) {
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return ImageFormat::Jpeg;
  if (size >= 8 && std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0) return ImageFormat::Png;
  if (size >= 3 && data[0] == 'P' && (data[1] == '5' || data[1] == '6') && std::isspace(data[2])) return ImageFormat::Ppm;
  return ImageFormat::Unknown;
}

Image decode_image_raw(const uint8_t* data, size_t size, const std::string& name, DecodeInfo* info) {
  if (info) *info = DecodeInfo{};
  if (!data || size == 0) throw Error(ErrorCode::Parse, fmt::format("image '{}': empty", name));
  switch (sniff_image_format(data, size)) {
    case ImageFormat::Jpeg: return decode_jpeg(data, size, name, info);
    case ImageFormat::Ppm: return decode_pnm(data, size, name, info);
    case ImageFormat::Png:
      throw Error(ErrorCode::Unsupported, fmt::format("image '{}': PNG is not supported (JPEG, PPM and PGM are)", name));
    default: break;
  }
  throw Error(ErrorCode::Parse, fmt::format("image '{}': not a JPEG, PPM or PGM file (first bytes {:02x} {:02x} {:02x})", name,
                                            data[0], size > 1 ? data[1] : 0, size > 2 ? data[2] : 0));
}

Image to_rgb(const Image& in) {
  if (in.channels == 3) return in;
  Image out(in.width, in.height, 3);
  const size_t n = static_cast<size_t>(in.width) * static_cast<size_t>(in.height);
  const uint8_t* s = in.pixels.data();
  uint8_t* d = out.pixels.data();
  if (in.channels == 1) {
    for (size_t i = 0; i < n; ++i) d[3 * i] = d[3 * i + 1] = d[3 * i + 2] = s[i];
  } else {
    // Pillow Convert.c cmyk2rgb: nk = 255 - k; out = clip(nk - MULDIV255(c, nk)).
    for (size_t i = 0; i < n; ++i) {
      int nk = 255 - s[4 * i + 3];
      for (int c = 0; c < 3; ++c) {
        int tmp = s[4 * i + static_cast<size_t>(c)] * nk + 128;
        int v = nk - (((tmp >> 8) + tmp) >> 8);
        d[3 * i + static_cast<size_t>(c)] = static_cast<uint8_t>(std::clamp(v, 0, 255));
      }
    }
  }
  return out;
}

Image decode_image(const uint8_t* data, size_t size, const std::string& name, DecodeInfo* info) {
  return to_rgb(decode_image_raw(data, size, name, info));
}

Image load_image(const std::string& path, DecodeInfo* info) {
  const std::vector<uint8_t> bytes = io::read_file(path, io::kMaxImageBytes, "image");
  return decode_image(bytes.data(), bytes.size(), path, info);
}

std::vector<uint8_t> encode_jpeg(const Image& img, int quality) {
  if (img.empty() || (img.channels != 1 && img.channels != 3))
    throw Error(ErrorCode::InvalidArgument, fmt::format("encode_jpeg: need a gray or RGB image, got {}x{} with {} channels", img.width,
                                                        img.height, img.channels));
  if (quality < 1 || quality > 100) throw Error(ErrorCode::InvalidArgument, fmt::format("encode_jpeg: quality {} not in 1..100", quality));
  TjHandle tj(true);
  unsigned char* out = nullptr;
  unsigned long out_size = 0;
  int pf = img.channels == 1 ? TJPF_GRAY : TJPF_RGB;
  int ss = img.channels == 1 ? TJSAMP_GRAY : TJSAMP_420;
  if (tjCompress2(tj.h, img.pixels.data(), img.width, 0, img.height, pf, &out, &out_size, ss, quality, 0) != 0) {
    std::string msg = tjGetErrorStr2(tj.h);
    tjFree(out);
    throw Error(ErrorCode::Internal, fmt::format("encode_jpeg: {}", msg));
  }
  std::vector<uint8_t> bytes(out, out + out_size);
  tjFree(out);
  return bytes;
}

std::vector<uint8_t> encode_ppm(const Image& img) {
  if (img.empty() || (img.channels != 1 && img.channels != 3))
    throw Error(ErrorCode::InvalidArgument, fmt::format("encode_ppm: need a gray or RGB image, got {} channels", img.channels));
  std::string head = fmt::format("{}\n{} {}\n255\n", img.channels == 3 ? "P6" : "P5", img.width, img.height);
  std::vector<uint8_t> bytes(head.begin(), head.end());
  bytes.insert(bytes.end(), img.pixels.begin(), img.pixels.end());
  return bytes;
}

void save_image(const std::string& path, const Image& img, int jpeg_quality) {
  std::string e = lower_ext(path);
  std::vector<uint8_t> bytes;
  if (e == ".jpg" || e == ".jpeg") {
    bytes = encode_jpeg(img, jpeg_quality);
  } else if (e == ".ppm" || e == ".pgm") {
    bytes = encode_ppm(img);
  } else {
    throw Error(ErrorCode::InvalidArgument, fmt::format("save_image '{}': unknown extension '{}' (.jpg, .jpeg, .ppm, .pgm)", path, e));
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw Error(ErrorCode::Io, fmt::format("save_image '{}': cannot create: {}", path, std::strerror(errno)));
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw Error(ErrorCode::Io, fmt::format("save_image '{}': write failed", path));
}

}  // namespace dynn
