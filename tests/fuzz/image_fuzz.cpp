// Fuzz target for the image decoders (JPEG through TurboJPEG and its libjpeg fallback, PPM/PGM):
// any input decodes to a well-formed image within the decompression-bomb limit or throws
// dynn::Error naming the image; never a crash, a hang or an allocation beyond the limit.
//
// Built as image_fuzz_replay (always, self-test in CTest) and image_fuzz (libFuzzer,
// -DDYNN_FUZZ=ON); see fuzz_driver.hpp.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dynn/error.hpp"
#include "dynn/image.hpp"

namespace {

constexpr int64_t kBombPixels = 2 * int64_t{89478485};  // Pillow's limit, as in lib/core/image/codec.cpp

size_t g_decoded, g_refused;  // the self-test checks that both happen

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "image_fuzz: %s\n", why.c_str());
  std::abort();
}

void check(const dynn::Image& img, int channels_expected) {
  const int64_t px = int64_t{img.width} * img.height;
  if (img.width < 1 || img.height < 1 || px > kBombPixels) fail("decoded size " + std::to_string(img.width) + "x" + std::to_string(img.height));
  if (channels_expected && img.channels != channels_expected) fail("decoded " + std::to_string(img.channels) + " channels");
  if (img.pixels.size() != static_cast<size_t>(px) * static_cast<size_t>(img.channels)) fail("pixel buffer does not match the size");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string name = "fuzz.img";
  try {
    dynn::DecodeInfo info;
    check(dynn::decode_image(data, size, name, &info), 3);
    ++g_decoded;
    if (!info.warning.empty() && info.warning.find(name) == std::string::npos) fail("warning does not name the image: " + info.warning);
  } catch (const dynn::Error& e) {
    ++g_refused;
    if (std::string(e.what()).find(name) == std::string::npos) fail(std::string("error does not name the image: ") + e.what());
  }
  try {
    check(dynn::decode_image_raw(data, size, name), 0);
  } catch (const dynn::Error&) {
  }
  return 0;  // any other exception escapes and is reported as a crash
}

#ifndef DYNN_LIBFUZZER
#include <jpeglib.h>

#include "fuzz_driver.hpp"
#include "libjpeg_writer.hpp"

namespace {

std::vector<dynn::fuzz::Bytes> seeds() {
  dynn::Image rgb(23, 17, 3), gray(19, 11, 1);
  for (size_t i = 0; i < rgb.pixels.size(); ++i) rgb.pixels[i] = static_cast<uint8_t>(i * 31);
  for (size_t i = 0; i < gray.pixels.size(); ++i) gray.pixels[i] = static_cast<uint8_t>(i * 17);
  const int odd[3][2] = {{3, 1}, {1, 1}, {1, 1}};
  const int odd2[3][2] = {{1, 2}, {2, 1}, {1, 1}};
  return {dynn::encode_jpeg(rgb, 90),
          dynn::encode_jpeg(gray, 75),
          dynn::test::libjpeg_encode(21, 13, 3, JCS_RGB, odd, false, 85),
          dynn::test::libjpeg_encode(18, 14, 3, JCS_RGB, odd2, true, 85),
          dynn::test::libjpeg_encode(20, 12, 3, JCS_RGB, nullptr, true, 85),
          dynn::test::libjpeg_encode(9, 7, 4, JCS_CMYK, nullptr, false, 85),
          dynn::encode_ppm(rgb),
          dynn::encode_ppm(gray)};
}

}  // namespace

int main(int argc, char** argv) {
  dynn::fuzz::SelfTest t;
  t.seeds = seeds();
  t.mutations_per_seed = 1500;
  const int rc = dynn::fuzz::main(argc, argv, t);
  if (rc != 0 || (argc > 1 && std::string(argv[1]) != "--self-test")) return rc;
  std::printf("  %zu decoded, %zu refused\n", g_decoded, g_refused);
  return g_decoded >= 100 && g_refused >= 100 ? 0 : 1;
}
#endif
