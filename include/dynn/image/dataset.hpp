// Image folders as ImageNet is laid out, and a loader that decodes and transforms them:
//  - the train/val layout, one sub-folder per class (WNID); labels are the indices of the sorted
//    folder names, exactly as torchvision's ImageFolder gives them;
//  - a flat folder of images plus a ground-truth file (see ImageDataset::from_flat_folder);
//  - files and folders given on a command line, unlabelled.
// Unreadable or corrupt images are skipped with a warning and counted, never fatal.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dynn/image/image.hpp"

namespace dynn {

// ImageFolder's IMG_EXTENSIONS, case-insensitive: .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp
// (files with the others are listed like torchvision does; those dynn cannot decode are skipped
// when loaded).
bool has_image_extension(const std::string& path);

struct LabeledImage {
  std::string path;
  int label = -1;  // -1: unlabelled
};

struct ImageDataset {
  std::string root;
  std::vector<std::string> classes;  // class names of the labels (folder names / WNIDs), may be empty
  std::vector<LabeledImage> samples;
  // Sub-folders that could not be listed (permission denied, ...), as "folder: reason"; each is
  // also logged as a warning. The scans enter every folder and list every file once, however many
  // links lead to it (symlink loops add nothing).
  std::vector<std::string> skipped_folders;

  size_t size() const { return samples.size(); }
  bool labelled() const;  // every sample has a label

  // One sub-folder per class (hidden ones ignored); images found recursively under each, sorted
  // by path. Throws NotFound when root is missing, InvalidArgument when it has no class folder,
  // a class folder without any image (ImageFolder refuses that too) or two class folders that are
  // one folder (a link), naming it. A link inside a class to the root or another class adds nothing.
  static ImageDataset from_folder(const std::string& root);

  // A flat folder of images (ILSVRC2012_val_00000001.JPEG, ...) and a ground-truth text file
  // whose non-empty lines are either
  //   "<label>"             one per image, in sorted file-name order (counts must match), or
  //   "<file name> <label>" in any order (e.g. Caffe's val.txt), every listed file must exist,
  //                          images not listed are left out.
  // label: a 0-based class index in sorted-WNID order (torchvision's; 0 = n01440764 tench).
  // The devkit's ILSVRC2012_validation_ground_truth.txt uses 1-based ILSVRC2012_IDs in another
  // order: convert it first (docs/examples.md). Labels must be < num_classes. Errors name the
  // file and line.
  static ImageDataset from_flat_folder(const std::string& dir, const std::string& ground_truth, int num_classes = 1000);

  // Files as given (any extension) and folders (their images, recursively, sorted), unlabelled;
  // a file or folder given or reached twice is listed once.
  static ImageDataset from_paths(const std::vector<std::string>& paths);

  // The first n samples spread over the classes: every k-th sample with k = size / n (keeps the
  // class mix of a sorted dataset). n >= size: unchanged.
  ImageDataset subset(size_t n) const;
};

struct LoaderStats {
  size_t loaded = 0;
  size_t skipped = 0;
  std::vector<std::string> skipped_paths;  // with the reason: "path: reason"
};

// Decodes samples in order, applies the transform and fills batches; skips images that fail to
// decode (warning through on_warning, default stderr "dynn: warning: skipping ...").
class ImageLoader {
 public:
  ImageLoader(ImageDataset dataset, EvalTransform transform);

  // Next batch of up to max_batch images: data gets n * 3 * r * r floats (NCHW), labels n
  // labels. Returns false (n = 0) when the dataset is exhausted.
  bool next(std::vector<float>& data, std::vector<int>& labels, int64_t& n, int64_t max_batch = 1);
  // One image: false at the end. path (optional) receives its file.
  bool next_one(std::vector<float>& data, int& label, std::string* path = nullptr);

  void reset();  // back to the first sample (stats are kept)
  void set_transform(const EvalTransform& t) { m_transform = t; }
  const EvalTransform& transform() const { return m_transform; }
  const ImageDataset& dataset() const { return m_dataset; }
  size_t position() const { return m_pos; }
  const LoaderStats& stats() const { return m_stats; }
  void set_on_warning(std::function<void(const std::string&)> f) { m_on_warning = std::move(f); }

 private:
  ImageDataset m_dataset;
  EvalTransform m_transform;
  size_t m_pos = 0;
  LoaderStats m_stats;
  std::function<void(const std::string&)> m_on_warning;
};

}  // namespace dynn
