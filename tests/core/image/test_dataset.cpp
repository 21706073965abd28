// ImageNet folder readers: ImageFolder layout, flat folder + ground truth, corrupt files, empty folders.
#include <fstream>

#include "dynn/error.hpp"
#include "dynn/image.hpp"
#include "test_support.hpp"

using dynn::Error;
using dynn::ErrorCode;
using dynn::Image;
using dynn::ImageDataset;
namespace fs = std::filesystem;

namespace {
void write_jpeg(const fs::path& p, int w, int h, uint8_t v) {
  Image img(w, h, 3);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(v + i % 17);
  fs::create_directories(p.parent_path());
  dynn::save_image(p.string(), img);
}
void write_text(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << s;
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

TEST_CASE("ImageFolder layout: sorted WNIDs are the labels; corrupt images are skipped and counted", "[image][dataset]") {
  dynn::test::TempDir dir("imgfolder");
  auto root = dir.path / "val";
  write_jpeg(root / "n01443537" / "b.JPEG", 40, 30, 10);
  write_jpeg(root / "n01443537" / "a.JPEG", 30, 40, 20);
  write_jpeg(root / "n01440764" / "sub" / "z.jpg", 50, 50, 30);
  write_text(root / "n01440764" / "broken.JPEG", "not a jpeg at all");
  write_text(root / "n01440764" / "readme.txt", "ignored: not an image extension");
  write_text(root / ".hidden" / "x.jpg", "ignored");
  ImageDataset ds = ImageDataset::from_folder(root.string());
  REQUIRE(ds.classes == std::vector<std::string>{"n01440764", "n01443537"});
  REQUIRE(ds.size() == 4);
  CHECK(ds.labelled());
  CHECK(fs::path(ds.samples[0].path).filename() == "broken.JPEG");
  CHECK(ds.samples[0].label == 0);
  CHECK(ds.samples[1].label == 0);
  CHECK(fs::path(ds.samples[2].path).filename() == "a.JPEG");
  CHECK(ds.samples[3].label == 1);

  dynn::ImageLoader loader(ds, dynn::EvalTransform(128));
  std::vector<std::string> warnings;
  loader.set_on_warning([&](const std::string& m) { warnings.push_back(m); });
  std::vector<float> data;
  std::vector<int> labels;
  int64_t n = 0;
  REQUIRE(loader.next(data, labels, n, 8));
  CHECK(n == 3);
  CHECK(labels == std::vector<int>{0, 1, 1});
  CHECK(data.size() == size_t(3 * 3 * 128 * 128));
  CHECK_FALSE(loader.next(data, labels, n, 8));
  CHECK(n == 0);
  CHECK(loader.stats().loaded == 3);
  CHECK(loader.stats().skipped == 1);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("broken.JPEG") != std::string::npos);
  loader.reset();
  int label = -1;
  std::string path;
  REQUIRE(loader.next_one(data, label, &path));  // skips the broken one again
  CHECK(fs::path(path).filename() == "z.jpg");
  CHECK(loader.stats().skipped == 2);
}

TEST_CASE("ImageFolder errors: missing root, no classes, empty class folder", "[image][dataset]") {
  dynn::test::TempDir dir("imgfolder-err");
  CHECK(code_of([&] { ImageDataset::from_folder((dir.path / "nope").string()); }) == ErrorCode::NotFound);
  fs::create_directories(dir.path / "flat");
  write_jpeg(dir.path / "flat" / "x.jpg", 8, 8, 1);
  CHECK(code_of([&] { ImageDataset::from_folder((dir.path / "flat").string()); }) == ErrorCode::InvalidArgument);
  write_jpeg(dir.path / "tree" / "a" / "x.jpg", 8, 8, 1);
  fs::create_directories(dir.path / "tree" / "b");
  try {
    ImageDataset::from_folder((dir.path / "tree").string());
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::InvalidArgument);
    CHECK(std::string(e.what()).find("'b'") != std::string::npos);
  }
  CHECK(code_of([&] { ImageDataset::from_paths({(dir.path / "tree" / "b").string()}); }) == ErrorCode::InvalidArgument);
  CHECK(code_of([&] { ImageDataset::from_paths({}); }) == ErrorCode::InvalidArgument);
  CHECK(code_of([&] { ImageDataset::from_paths({(dir.path / "nope.jpg").string()}); }) == ErrorCode::NotFound);
  CHECK(ImageDataset::from_paths({(dir.path / "tree").string(), (dir.path / "flat" / "x.jpg").string()}).size() == 2);
}

TEST_CASE("flat folder with a ground-truth file in both forms", "[image][dataset]") {
  dynn::test::TempDir dir("flat");
  auto val = dir.path / "val";
  write_jpeg(val / "ILSVRC2012_val_00000002.JPEG", 20, 20, 1);
  write_jpeg(val / "ILSVRC2012_val_00000001.JPEG", 20, 20, 2);
  write_jpeg(val / "ILSVRC2012_val_00000003.JPEG", 20, 20, 3);
  write_text(dir.path / "plain.txt", "65\n970\n\n230\n");
  auto ds = ImageDataset::from_flat_folder(val.string(), (dir.path / "plain.txt").string());
  REQUIRE(ds.size() == 3);
  CHECK(fs::path(ds.samples[0].path).filename() == "ILSVRC2012_val_00000001.JPEG");
  CHECK(ds.samples[0].label == 65);
  CHECK(ds.samples[2].label == 230);
  write_text(dir.path / "named.txt", "ILSVRC2012_val_00000003.JPEG 7\nILSVRC2012_val_00000001.JPEG 5\n");
  ds = ImageDataset::from_flat_folder(val.string(), (dir.path / "named.txt").string());
  REQUIRE(ds.size() == 2);
  CHECK(ds.samples[0].label == 5);
  CHECK(ds.samples[1].label == 7);
  CHECK(ds.subset(1).size() == 1);

  auto gt_error = [&](const std::string& text, ErrorCode want, const std::string& needle) {
    write_text(dir.path / "bad.txt", text);
    try {
      ImageDataset::from_flat_folder(val.string(), (dir.path / "bad.txt").string());
      FAIL("no error for " << text);
    } catch (const Error& e) {
      CHECK(e.code() == want);
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  gt_error("1\n2\n", ErrorCode::InvalidArgument, "2 labels");
  gt_error("1\n2\n1000\n", ErrorCode::Parse, "line 3");
  gt_error("1\nx\n3\n", ErrorCode::Parse, "'x'");
  gt_error("a.JPEG 1\n", ErrorCode::NotFound, "a.JPEG");
  gt_error("1\nILSVRC2012_val_00000001.JPEG 2\n", ErrorCode::Parse, "mixes");
  gt_error("\n\n", ErrorCode::Parse, "no labels");
  gt_error("a b c\n", ErrorCode::Parse, "line 1");
  CHECK(code_of([&] { ImageDataset::from_flat_folder(val.string(), (dir.path / "none.txt").string()); }) == ErrorCode::NotFound);
  fs::create_directories(dir.path / "empty");
  CHECK(code_of([&] { ImageDataset::from_flat_folder((dir.path / "empty").string(), (dir.path / "plain.txt").string()); }) ==
        ErrorCode::InvalidArgument);
}
