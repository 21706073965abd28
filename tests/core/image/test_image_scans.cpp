// Progressive JPEGs that repeat scans (a tiny file that keeps a decoder busy for minutes) are
// refused past 500 scans on both decode paths (TurboJPEG and the libjpeg fallback), naming the
// file; ordinary progressive JPEGs still decode.
#include <cstdio>  // before jpeglib.h, which uses FILE
#include <cstdlib>
#include <functional>

#include <catch2/catch.hpp>
#include <jpeglib.h>
#include <turbojpeg.h>

#include "dynn/error.hpp"
#include "dynn/image.hpp"

using namespace dynn;

namespace {

// A progressive RGB JPEG; samp: per-component sampling factors, or null for libjpeg's 2x2,1x1,1x1.
std::vector<uint8_t> progressive_jpeg(int w, int h, const int (*samp)[2]) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = static_cast<JDIMENSION>(w);
  c.image_height = static_cast<JDIMENSION>(h);
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  if (samp)
    for (int i = 0; i < 3; ++i) c.comp_info[i].h_samp_factor = samp[i][0], c.comp_info[i].v_samp_factor = samp[i][1];
  jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  std::vector<uint8_t> row(static_cast<size_t>(w) * 3);
  while (c.next_scanline < c.image_height) {
    for (size_t i = 0; i < row.size(); ++i) row[i] = static_cast<uint8_t>(i * 5 + c.next_scanline * 3);
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::vector<uint8_t> out(buf, buf + size);
  std::free(buf);
  return out;
}

// The same file with its last scan (SOS to EOI) repeated `extra` more times.
std::vector<uint8_t> repeat_last_scan(const std::vector<uint8_t>& jpg, int extra) {
  size_t sos = 0;
  for (size_t i = 0; i + 1 < jpg.size(); ++i)
    if (jpg[i] == 0xFF && jpg[i + 1] == 0xDA) sos = i;
  REQUIRE(sos > 0);
  REQUIRE(jpg[jpg.size() - 2] == 0xFF);
  REQUIRE(jpg[jpg.size() - 1] == 0xD9);
  const std::vector<uint8_t> scan(jpg.begin() + static_cast<std::ptrdiff_t>(sos), jpg.end() - 2);
  std::vector<uint8_t> out(jpg.begin(), jpg.end() - 2);
  for (int i = 0; i < extra; ++i) out.insert(out.end(), scan.begin(), scan.end());
  out.push_back(0xFF);
  out.push_back(0xD9);
  return out;
}

bool tj_header_refuses(const std::vector<uint8_t>& jpg) {
  tjhandle h = tjInitDecompress();
  int w, hh, ss, cs;
  const int rc = tjDecompressHeader3(h, const_cast<unsigned char*>(jpg.data()), static_cast<unsigned long>(jpg.size()), &w, &hh, &ss, &cs);
  tjDestroy(h);
  return rc != 0;
}

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(decoded)";
}

}  // namespace

TEST_CASE("progressive JPEGs that repeat scans past 500 are refused on both decode paths", "[image]") {
  const int odd[3][2] = {{3, 1}, {1, 1}, {1, 1}};  // TurboJPEG's header call refuses: the libjpeg path
  for (const auto* samp : {static_cast<const int(*)[2]>(nullptr), odd}) {
    INFO((samp ? "libjpeg fallback" : "TurboJPEG"));
    const auto jpg = progressive_jpeg(40, 24, samp);
    CHECK(tj_header_refuses(jpg) == (samp != nullptr));
    const Image plain = decode_image(jpg.data(), jpg.size(), "p.jpg");
    CHECK(plain.width == 40);
    // A few repeats decoders accept (a repeated refinement changes the pixels, Pillow's too).
    const auto some = repeat_last_scan(jpg, 20);
    CHECK(decode_image(some.data(), some.size(), "some.jpg").width == 40);
    const auto many = repeat_last_scan(jpg, 600);
    CHECK_THAT(message_of([&] { decode_image(many.data(), many.size(), "scans.jpg"); }),
               Catch::Contains("scans.jpg") && Catch::Contains("500 scans"));
  }
}
