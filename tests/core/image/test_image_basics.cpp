// Image decoding errors, PPM, sizes and crop offsets of the OFA transform, class names, top-k.
#include <cmath>

#include "dynn/error.hpp"
#include "dynn/image.hpp"
#include "test_support.hpp"

using dynn::Error;
using dynn::ErrorCode;
using dynn::Image;

namespace {
Image pattern(int w, int h, int c) {
  Image img(w, h, c);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>((i * 37 + i / 7) % 251);
  return img;
}
ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::Internal;
}
}  // namespace

TEST_CASE("resize sizes and crop offsets follow torchvision", "[image]") {
  // docs/ofa_spec.md 6.1: S for r = 128..224 step 4.
  const int expected[] = {147, 151, 156, 160, 165, 170, 174, 179, 183, 188, 192, 197, 202,
                          206, 211, 215, 220, 224, 229, 234, 238, 243, 247, 252, 256};
  for (int i = 0; i < 25; ++i) CHECK(dynn::ofa_resize_size(128 + 4 * i) == expected[i]);
  int w = 0, h = 0;
  dynn::resized_size(500, 375, 256, w, h);  // int(256 * 500 / 375) = 341
  CHECK((w == 341 && h == 256));
  dynn::resized_size(375, 500, 256, w, h);
  CHECK((w == 256 && h == 341));
  dynn::resized_size(300, 300, 188, w, h);
  CHECK((w == 188 && h == 188));
  // Crop offsets: round half to even. 5 extra pixels -> 2 (2.5 rounds to 2); 3 extra -> 2 (1.5 -> 2).
  Image img = pattern(10, 9, 3);
  Image c = dynn::center_crop(img, 5, 6);
  CHECK(c.width == 5);
  CHECK(c.height == 6);
  // left = round(2.5) = 2, top = round(1.5) = 2
  CHECK(c.pixels[0] == img.row(2)[2 * 3]);
  Image c2 = dynn::center_crop(img, 3, 2);  // left round(3.5) = 4, top round(3.5) = 4
  CHECK(c2.pixels[0] == img.row(4)[4 * 3]);
  CHECK(code_of([&] { dynn::center_crop(img, 11, 2); }) == ErrorCode::InvalidArgument);
  CHECK(code_of([&] { dynn::ofa_resize_size(0); }) == ErrorCode::InvalidArgument);
}

TEST_CASE("resize keeps constant images constant and same size is a copy", "[image]") {
  Image flat(37, 23, 3);
  std::fill(flat.pixels.begin(), flat.pixels.end(), uint8_t{200});
  for (auto [w, h] : {std::pair{10, 7}, {100, 90}, {37, 50}, {5, 23}}) {
    Image r = dynn::resize_bilinear(flat, w, h);
    REQUIRE(r.width == w);
    REQUIRE(r.height == h);
    CHECK(std::all_of(r.pixels.begin(), r.pixels.end(), [](uint8_t v) { return v == 200; }));
  }
  Image p = pattern(13, 11, 1);
  CHECK(dynn::resize_bilinear(p, 13, 11).pixels == p.pixels);
  CHECK(code_of([&] { dynn::resize_bilinear(p, 0, 3); }) == ErrorCode::InvalidArgument);
}

TEST_CASE("JPEG and PPM round trips; corrupt, truncated and foreign data are clear errors", "[image]") {
  Image rgb = pattern(64, 48, 3);
  auto jpg = dynn::encode_jpeg(rgb, 95);
  dynn::DecodeInfo info;
  Image back = dynn::decode_image(jpg.data(), jpg.size(), "x.jpg", &info);
  CHECK(info.format == dynn::ImageFormat::Jpeg);
  CHECK(info.source_channels == 3);
  CHECK(back.width == 64);
  CHECK(back.height == 48);
  Image gray = pattern(20, 30, 1);
  auto gjpg = dynn::encode_jpeg(gray, 90);
  Image g = dynn::decode_image(gjpg.data(), gjpg.size(), "g.jpg", &info);
  CHECK(info.source_channels == 1);
  REQUIRE(g.channels == 3);
  for (size_t i = 0; i < 600; ++i) CHECK((g.pixels[3 * i] == g.pixels[3 * i + 1] && g.pixels[3 * i] == g.pixels[3 * i + 2]));

  auto ppm = dynn::encode_ppm(rgb);
  CHECK(dynn::decode_image(ppm.data(), ppm.size()).pixels == rgb.pixels);
  auto pgm = dynn::encode_ppm(gray);
  CHECK(dynn::decode_image(pgm.data(), pgm.size()).width == 20);
  std::string commented = "P6 # comment\n2 1\n255\n";
  std::vector<uint8_t> c(commented.begin(), commented.end());
  for (int i = 0; i < 6; ++i) c.push_back(static_cast<uint8_t>(i * 40));
  CHECK(dynn::decode_image(c.data(), c.size()).pixels[5] == 200);

  // Truncated JPEG: libjpeg would pad it with grey; Pillow refuses it and so does dynn.
  std::vector<uint8_t> cut(jpg.begin(), jpg.begin() + static_cast<std::ptrdiff_t>(jpg.size() / 2));
  CHECK(code_of([&] { dynn::decode_image(cut.data(), cut.size(), "cut.jpg"); }) == ErrorCode::Parse);
  std::vector<uint8_t> head(jpg.begin(), jpg.begin() + 20);
  CHECK(code_of([&] { dynn::decode_image(head.data(), head.size(), "head.jpg"); }) == ErrorCode::Parse);
  std::vector<uint8_t> junk{'h', 'e', 'l', 'l', 'o'};
  try {
    dynn::decode_image(junk.data(), junk.size(), "notes.jpg");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::Parse);
    CHECK(std::string(e.what()).find("notes.jpg") != std::string::npos);
  }
  std::vector<uint8_t> png{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0};
  CHECK(code_of([&] { dynn::decode_image(png.data(), png.size(), "a.png"); }) == ErrorCode::Unsupported);
  CHECK(code_of([&] { dynn::decode_image(nullptr, 0); }) == ErrorCode::Parse);
  std::vector<uint8_t> ppm_short(ppm.begin(), ppm.end() - 1);
  CHECK(code_of([&] { dynn::decode_image(ppm_short.data(), ppm_short.size()); }) == ErrorCode::Parse);
  std::string bigmax = "P6\n1 1\n65535\n\1\1\1\1\1\1";
  CHECK(code_of([&] { dynn::decode_image(reinterpret_cast<const uint8_t*>(bigmax.data()), bigmax.size()); }) == ErrorCode::Unsupported);
  std::string huge = "P6\n100000 100000\n255\n";
  CHECK(code_of([&] { dynn::decode_image(reinterpret_cast<const uint8_t*>(huge.data()), huge.size()); }) == ErrorCode::Unsupported);
  CHECK(code_of([&] { dynn::load_image("/nonexistent/x.jpg"); }) == ErrorCode::NotFound);
  // Random bytes after a JPEG header never crash.
  for (size_t at = 2; at < jpg.size(); at += 97) {
    auto m = jpg;
    m[at] ^= 0x5a;
    try {
      dynn::decode_image(m.data(), m.size());
    } catch (const Error&) {
    }
  }
}

TEST_CASE("CMYK to RGB uses Pillow's arithmetic", "[image]") {
  Image cmyk(2, 1, 4);
  cmyk.pixels = {0, 0, 0, 0, 255, 128, 10, 60};
  Image rgb = dynn::to_rgb(cmyk);
  CHECK(rgb.pixels[0] == 255);
  CHECK(rgb.pixels[1] == 255);
  // nk = 195: 195 - MULDIV255(255,195) = 0; 195 - MULDIV255(128,195) = 195 - 98 = 97; 195 - 8 = 187
  CHECK(rgb.pixels[3] == 0);
  CHECK(rgb.pixels[4] == 97);
  CHECK(rgb.pixels[5] == 187);
}

TEST_CASE("eval transform output shape and normalisation", "[image]") {
  Image white(300, 200, 3);
  std::fill(white.pixels.begin(), white.pixels.end(), uint8_t{255});
  dynn::EvalTransform tf(160);
  auto t = tf(white);
  REQUIRE(t.size() == size_t(3 * 160 * 160));
  CHECK(t[0] == Approx((1.0f - 0.485f) / 0.229f));
  CHECK(t[2 * 160 * 160] == Approx((1.0f - 0.406f) / 0.225f));
  Image tiny = pattern(3, 2, 3);  // upscaled
  CHECK(tf(tiny).size() == t.size());
}

TEST_CASE("ImageNet class names and top-k", "[image]") {
  CHECK(std::string(dynn::imagenet_class_name(0)) == "tench");
  CHECK(std::string(dynn::imagenet_class_name(1)) == "goldfish");
  CHECK(std::string(dynn::imagenet_class_name(999)) == "toilet tissue");
  CHECK(code_of([] { dynn::imagenet_class_name(1000); }) == ErrorCode::InvalidArgument);
  CHECK(code_of([] { dynn::imagenet_class_name(-1); }) == ErrorCode::InvalidArgument);
  float v[] = {0.1f, 3.f, NAN, 3.f, -2.f};
  auto top = dynn::top_k(v, 5, 3);
  REQUIRE(top.size() == 3);
  CHECK(top[0].first == 1);
  CHECK(top[1].first == 3);
  CHECK(top[2].first == 0);
  float l[] = {1.f, 2.f, 3.f};
  auto p = dynn::softmax(l, 3);
  CHECK(p[0] + p[1] + p[2] == Approx(1.0));
  CHECK(p[2] == Approx(0.66524096));
}
