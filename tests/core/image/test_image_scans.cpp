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
#include "libjpeg_writer.hpp"

using namespace dynn;

namespace {

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
    const auto jpg = dynn::test::libjpeg_encode(40, 24, 3, JCS_RGB, samp, true);
    CHECK(dynn::test::tj_header_refuses(jpg) == (samp != nullptr));
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
