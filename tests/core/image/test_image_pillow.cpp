// The image pipeline against Pillow (the reference OFA evaluates with): JPEGs of several sizes
// and colour modes written by Pillow, decoded, resized, cropped and normalised by both.
// Needs Debian's python3-pil and python3-numpy (cmake/install-deps.sh installs them).
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "dynn/error.hpp"
#include "dynn/image/image.hpp"
#include "test_support.hpp"

using dynn::Image;
namespace fs = std::filesystem;

namespace {

std::string python() {
  if (const char* p = std::getenv("DYNN_TEST_PYTHON"); p && *p) return p;
  // Debian's interpreter has python3-pil; a pyenv python3 first on PATH may not.
  if (fs::exists("/usr/bin/python3")) return "/usr/bin/python3";
  return "python3";
}

int max_abs_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  int m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::abs(int(a[i]) - int(b[i])));
  return m;
}

}  // namespace

TEST_CASE("image pipeline is identical to Pillow + torchvision on generated JPEGs", "[image][pillow]") {
  dynn::test::TempDir dir("pillow");
  const std::string script = (fs::path(__FILE__).parent_path() / "pillow_ref.py").string();  // beside this file
  const std::string cmd = python() + " '" + script + "' '" + dir.path.string() + "'";
  const int rc = std::system(cmd.c_str());
  if (rc != 0)
    FAIL("the Pillow reference failed (" << cmd << ", status " << rc
                                         << "); it needs Debian's python3-pil and python3-numpy: run cmake/install-deps.sh");

  std::ifstream manifest(dir.path / "manifest.txt");
  REQUIRE(manifest);
  std::map<std::string, Image> decoded;
  int images = 0, evals = 0, resizes = 0;
  int max_decode = 0, max_resize = 0, max_crop = 0;
  double max_tensor = 0;
  std::string line;
  while (std::getline(manifest, line)) {
    std::istringstream in(line);
    std::string kind, file;
    in >> kind >> file;
    const std::string stem = file.substr(0, file.size() - 4);
    INFO(line);
    if (kind == "image") {
      dynn::DecodeInfo info;
      Image img = dynn::load_image((dir.path / file).string(), &info);
      CHECK(info.format == dynn::ImageFormat::Jpeg);
      if (stem.rfind("gray", 0) == 0) CHECK(info.source_channels == 1);
      if (stem.rfind("cmyk", 0) == 0) CHECK(info.source_channels == 4);
      auto ref = dynn::test::read_bytes(dir.path / (stem + ".rgb"));
      REQUIRE(img.channels == 3);
      REQUIRE(img.pixels.size() == ref.size());
      int d = max_abs_diff(img.pixels, ref);
      max_decode = std::max(max_decode, d);
      CHECK(d == 0);
      decoded[file] = img;
      ++images;
    } else if (kind == "eval") {
      int r = 0, w = 0, h = 0;
      in >> r >> w >> h;
      const Image& img = decoded.at(file);
      dynn::EvalTransform tf(r);
      Image resized = dynn::resize_short_side(img, tf.resize_size());
      REQUIRE(resized.width == w);
      REQUIRE(resized.height == h);
      int d = max_abs_diff(resized.pixels, dynn::test::read_bytes(dir.path / (stem + ".r" + std::to_string(r) + ".resized")));
      max_resize = std::max(max_resize, d);
      CHECK(d == 0);
      Image crop = tf.crop(img);
      d = max_abs_diff(crop.pixels, dynn::test::read_bytes(dir.path / (stem + ".r" + std::to_string(r) + ".crop")));
      max_crop = std::max(max_crop, d);
      CHECK(d == 0);
      auto t = tf(img);
      auto ref = dynn::test::read_f32(dir.path / (stem + ".r" + std::to_string(r) + ".f32"));
      REQUIRE(t.size() == ref.size());
      double dt = 0;
      for (size_t i = 0; i < t.size(); ++i) dt = std::max(dt, double(std::fabs(t[i] - ref[i])));
      max_tensor = std::max(max_tensor, dt);
      CHECK(dt == 0.0);
      ++evals;
    } else if (kind == "resize") {
      int w = 0, h = 0;
      in >> w >> h;
      Image out = dynn::resize_bilinear(decoded.at(file), w, h);
      int d = max_abs_diff(out.pixels, dynn::test::read_bytes(dir.path / (stem + "." + std::to_string(w) + "x" + std::to_string(h) + ".rgb")));
      max_resize = std::max(max_resize, d);
      CHECK(d == 0);
      ++resizes;
    }
  }
  WARN("vs Pillow: " << images << " JPEGs decoded (max |diff| " << max_decode << "), " << evals << " eval transforms (resize max |diff| "
                     << max_resize << ", crop " << max_crop << ", tensor " << max_tensor << "), " << resizes << " free resizes");
  CHECK(images >= 12);
  CHECK(evals >= 60);
  CHECK(resizes >= 60);
}
