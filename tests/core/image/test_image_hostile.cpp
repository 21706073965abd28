// Hostile images and folders: decompression bombs refused from the header, JPEGs that TurboJPEG's
// tj* API refuses decoded through libjpeg (as Pillow does), every message naming the file, folder
// scans that visit each folder once (symlink loops), duplicate ground-truth entries refused,
// non-regular and oversized files refused without blocking.
#include <sys/stat.h>
#include <unistd.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <set>

#include <jpeglib.h>
#include <turbojpeg.h>

#include <fmt/format.h>

#include "dynn/error.hpp"
#include "dynn/image.hpp"
#include "libjpeg_writer.hpp"
#include "test_support.hpp"

using namespace dynn;
using dynn::test::error_of;
namespace fs = std::filesystem;

namespace {

std::string python() { return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }

void write(const fs::path& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace

TEST_CASE("JPEGs with sampling factors TurboJPEG cannot name decode through libjpeg, as Pillow does", "[image]") {
  dynn::test::TempDir dir("oddjpeg");
  const int odd[][3][2] = {{{3, 1}, {1, 1}, {1, 1}}, {{1, 3}, {1, 1}, {1, 1}}, {{2, 2}, {2, 1}, {1, 1}}, {{4, 1}, {2, 1}, {1, 1}}};
  const bool have_pillow = std::system((python() + " -c 'import PIL' 2>/dev/null").c_str()) == 0;
  int n = 0;
  for (const auto& samp : odd) {
    const auto jpg = dynn::test::libjpeg_encode(67, 45, 3, JCS_RGB, samp, false);
    INFO("sampling Y " << samp[0][0] << "x" << samp[0][1] << " Cb " << samp[1][0] << "x" << samp[1][1]);
    CHECK(dynn::test::tj_header_refuses(jpg));  // the case the fallback exists for
    const fs::path p = dir.path / fmt::format("odd{}.jpg", n++);
    write(p, jpg);
    DecodeInfo info;
    const Image img = load_image(p.string(), &info);
    CHECK(img.width == 67);
    CHECK(img.height == 45);
    CHECK(img.channels == 3);
    CHECK(info.format == ImageFormat::Jpeg);
    if (have_pillow) {
      const fs::path raw = p.string() + ".rgb";
      const std::string cmd = python() + " -c \"import sys; from PIL import Image; open(sys.argv[2],'wb').write(Image.open(sys.argv[1]).convert('RGB').tobytes())\" '" +
                              p.string() + "' '" + raw.string() + "'";
      REQUIRE(std::system(cmd.c_str()) == 0);
      CHECK(dynn::test::read_bytes(raw) == img.pixels);  // bit-exact, as for every other JPEG
    } else {
      WARN("python3-pil missing: odd-sampling JPEGs decoded but not compared with Pillow");
    }
    // Truncated: an error naming the file, never grey padding.
    const fs::path t = dir.path / "truncated.jpg";
    write(t, std::vector<uint8_t>(jpg.begin(), jpg.begin() + static_cast<std::ptrdiff_t>(jpg.size() / 2)));
    CHECK_THAT(error_of([&] { load_image(t.string()); }), Catch::Contains("truncated.jpg"));
  }
}

TEST_CASE("decompression bombs are refused from the header, naming the file", "[image]") {
  // A baseline JPEG header claiming 16000x16000: patch the SOF0 size of a small valid JPEG.
  const int norm[3][2] = {{2, 2}, {1, 1}, {1, 1}};
  auto jpg = dynn::test::libjpeg_encode(16, 16, 3, JCS_RGB, norm, false);
  bool patched = false;
  for (size_t i = 0; i + 8 < jpg.size(); ++i)
    if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {
      jpg[i + 5] = 16000 >> 8, jpg[i + 6] = 16000 & 255, jpg[i + 7] = 16000 >> 8, jpg[i + 8] = 16000 & 255;
      patched = true;
      break;
    }
  REQUIRE(patched);
  CHECK_THAT(error_of([&] { decode_image(jpg.data(), jpg.size(), "bomb.jpg"); }),
             Catch::Contains("bomb.jpg") && Catch::Contains("decompression-bomb"));
  // The same through the libjpeg path (odd sampling) and for PPM.
  const int odd[3][2] = {{3, 1}, {1, 1}, {1, 1}};
  auto jpg2 = dynn::test::libjpeg_encode(16, 16, 3, JCS_RGB, odd, false);
  for (size_t i = 0; i + 8 < jpg2.size(); ++i)
    if (jpg2[i] == 0xFF && jpg2[i + 1] == 0xC0) {
      jpg2[i + 5] = 16000 >> 8, jpg2[i + 6] = 16000 & 255, jpg2[i + 7] = 16000 >> 8, jpg2[i + 8] = 16000 & 255;
      break;
    }
  CHECK_THAT(error_of([&] { decode_image(jpg2.data(), jpg2.size(), "bomb2.jpg"); }), Catch::Contains("bomb2.jpg"));
  const std::string ppm = "P6\n20000 20000\n255\n";
  CHECK_THAT(error_of([&] { decode_image(reinterpret_cast<const uint8_t*>(ppm.data()), ppm.size(), "bomb.ppm"); }),
             Catch::Contains("bomb.ppm") && Catch::Contains("decompression-bomb"));
  // Just under the limit is not a bomb (it fails later only for lack of data).
  const std::string ok = "P6\n13000 13000\n255\n";
  CHECK_THAT(error_of([&] { decode_image(reinterpret_cast<const uint8_t*>(ok.data()), ok.size(), "big.ppm"); }),
             Catch::Contains("truncated"));
}

TEST_CASE("non-regular, missing and oversized image files are refused without blocking", "[image]") {
  dynn::test::TempDir dir("imgfiles");
  const fs::path fifo = dir.path / "pipe.jpg";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THAT(error_of([&] { load_image(fifo.string()); }), Catch::Contains("pipe.jpg") && Catch::Contains("FIFO"));
  CHECK_THAT(error_of([&] { load_image("/dev/zero"); }), Catch::Contains("/dev/zero") && Catch::Contains("character device"));
  CHECK_THAT(error_of([&] { load_image(dir.path.string()); }), Catch::Contains("folder"));
  CHECK_THAT(error_of([&] { load_image((dir.path / "nope.jpg").string()); }), Catch::Contains("nope.jpg"));
  if (::geteuid() != 0) {
    const fs::path locked = dir.path / "locked.jpg";
    write(locked, {0xFF, 0xD8});
    ::chmod(locked.c_str(), 0);
    try {
      load_image(locked.string());
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::PermissionDenied);
    }
  }
}

TEST_CASE("folder scans visit each folder and file once: symlink loops add nothing", "[image]") {
  dynn::test::TempDir dir("loops");
  const int norm[3][2] = {{2, 2}, {1, 1}, {1, 1}};
  const auto jpg = dynn::test::libjpeg_encode(8, 8, 3, JCS_RGB, norm, false);
  fs::create_directories(dir.path / "c0" / "sub");
  fs::create_directories(dir.path / "c1");
  write(dir.path / "c0" / "a.jpg", jpg);
  write(dir.path / "c0" / "sub" / "b.jpg", jpg);
  write(dir.path / "c1" / "c.jpg", jpg);
  fs::create_directory_symlink("..", dir.path / "c0" / "sub" / "up");           // loop to c0
  fs::create_directory_symlink(dir.path, dir.path / "c1" / "root");            // loop to the root
  fs::create_directory_symlink(dir.path / "c0" / "sub", dir.path / "c1" / "alias");  // a second way into c0/sub
  fs::create_symlink(dir.path / "c1" / "c.jpg", dir.path / "c1" / "c-again.jpg");   // a second name for a file
  const auto all = ImageDataset::from_paths({dir.path.string()});
  CHECK(all.size() == 3);
  const auto classes = ImageDataset::from_folder(dir.path.string());
  CHECK(classes.classes.size() == 2);
  // c1 reaches the root through its loop link; each image still appears at most once per class.
  CHECK(classes.size() <= 6);
  std::set<std::string> per_class;
  for (const auto& s : classes.samples) CHECK(per_class.insert(std::to_string(s.label) + fs::canonical(s.path).string()).second);
}

TEST_CASE("a ground-truth file that labels one image twice is refused", "[image]") {
  dynn::test::TempDir dir("gt");
  const int norm[3][2] = {{2, 2}, {1, 1}, {1, 1}};
  const auto jpg = dynn::test::libjpeg_encode(8, 8, 3, JCS_RGB, norm, false);
  write(dir.path / "a.jpg", jpg);
  write(dir.path / "b.jpg", jpg);
  std::ofstream(dir.path / "gt.txt") << "a.jpg 1\nb.jpg 2\na.jpg 3\n";
  CHECK_THAT(error_of([&] { ImageDataset::from_flat_folder(dir.path.string(), (dir.path / "gt.txt").string()); }),
             Catch::Contains("twice") && Catch::Contains("a.jpg"));
  std::ofstream(dir.path / "gt2.txt") << "a.jpg 1\nb.jpg 18446744073709551615\n";
  CHECK_THAT(error_of([&] { ImageDataset::from_flat_folder(dir.path.string(), (dir.path / "gt2.txt").string()); }),
             Catch::Contains("line 2"));
  const fs::path fifo = dir.path / "gt.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THAT(error_of([&] { ImageDataset::from_flat_folder(dir.path.string(), fifo.string()); }), Catch::Contains("FIFO"));
}
