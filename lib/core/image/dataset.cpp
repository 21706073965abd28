#include "dynn/image/dataset.hpp"

#include <algorithm>
#include <cctype>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/io/file.hpp"
#include "dynn/error.hpp"
#include "dynn/log.hpp"
#include "dynn/parse.hpp"

namespace dynn {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool hidden(const fs::path& p) {
  auto n = p.filename().string();
  return !n.empty() && n[0] == '.';
}

// Walks image folders recursively, following symlinks (as os.walk(followlinks=True) does), but
// enters each folder and lists each file once, by identity (device, inode), over everything one
// dataset scans: a symlink loop, a second link to a folder or file, or a folder given twice adds
// nothing. Entries reached without a link are taken before those reached through one, so an image
// keeps its direct path. Sub-folders that cannot be listed are logged, recorded and skipped.
class FolderScan {
 public:
  explicit FolderScan(std::vector<std::string>& skipped) : m_skipped(skipped) {}

  // Marks a folder as scanned; false when it already was (or it is no folder).
  bool claim_dir(const fs::path& dir) {
    struct stat st {};
    return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && m_dirs.insert({st.st_dev, st.st_ino}).second;
  }
  // Marks a file as listed; false when it already was.
  bool claim_file(const fs::path& file) {
    struct stat st {};
    return ::stat(file.c_str(), &st) != 0 || m_files.insert({st.st_dev, st.st_ino}).second;
  }

  // The image files under each claimed top folder, each list sorted by path; an image found
  // through a link inside top i belongs to top i. A top folder that cannot be listed is an error
  // naming it.
  std::vector<std::vector<std::string>> images_under(const std::vector<fs::path>& tops) {
    std::vector<std::vector<std::string>> out(tops.size());
    struct Item {
      fs::path path;
      size_t top;
    };
    std::deque<Item> dirs;
    std::vector<Item> link_dirs, link_files;
    for (size_t i = 0; i < tops.size(); ++i) dirs.push_back({tops[i], i});
    size_t listed = 0;
    while (!dirs.empty() || !link_dirs.empty() || !link_files.empty()) {
      if (dirs.empty()) {
        // Everything reachable without a link so far is listed: now the links found meanwhile.
        for (const auto& f : link_files)
          if (claim_file(f.path)) out[f.top].push_back(f.path.string());
        link_files.clear();
        for (const auto& d : link_dirs)
          if (claim_dir(d.path)) dirs.push_back(d);
        link_dirs.clear();
        continue;
      }
      const Item d = dirs.front();
      dirs.pop_front();
      std::vector<fs::path> entries;
      if (!list(d.path, entries, listed++ < tops.size())) continue;
      for (const auto& p : entries) {
        if (hidden(p)) continue;
        struct stat lst {}, st {};
        if (::lstat(p.c_str(), &lst) != 0 || ::stat(p.c_str(), &st) != 0) continue;  // vanished, or a dangling link
        const bool link = S_ISLNK(lst.st_mode);
        if (S_ISDIR(st.st_mode)) {
          if (link) {
            link_dirs.push_back({p, d.top});
          } else if (m_dirs.insert({st.st_dev, st.st_ino}).second) {
            dirs.push_back({p, d.top});
          }
        } else if (S_ISREG(st.st_mode) && has_image_extension(p.string())) {
          if (link) {
            link_files.push_back({p, d.top});
          } else if (m_files.insert({st.st_dev, st.st_ino}).second) {
            out[d.top].push_back(p.string());
          }
        }
      }
    }
    for (auto& v : out) std::sort(v.begin(), v.end());
    return out;
  }

 private:
  // The entries of d, sorted (the walk, and so which of two names of a file is kept, does not
  // depend on the file system's listing order).
  bool list(const fs::path& d, std::vector<fs::path>& entries, bool top) {
    std::error_code ec;
    fs::directory_iterator it(d, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) entries.push_back(it->path());
    if (ec) {
      if (top) {
        const ErrorCode code = ec == std::errc::permission_denied ? ErrorCode::PermissionDenied : ErrorCode::Io;
        throw Error(code, fmt::format("cannot list image folder '{}': {}", d.string(), ec.message()));
      }
      m_skipped.push_back(fmt::format("{}: {}", d.string(), ec.message()));
      log_warn(fmt::format("image folder '{}' skipped: cannot list it: {}", d.string(), ec.message()));
      return false;
    }
    std::sort(entries.begin(), entries.end());
    return true;
  }

  std::set<std::pair<dev_t, ino_t>> m_dirs, m_files;
  std::vector<std::string>& m_skipped;
};

void require_dir(const std::string& dir, const char* what) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw Error(ErrorCode::NotFound, fmt::format("{} '{}' does not exist", what, dir));
  if (!fs::is_directory(dir, ec)) throw Error(ErrorCode::InvalidArgument, fmt::format("{} '{}' is not a directory", what, dir));
}

}  // namespace

bool has_image_extension(const std::string& path) {
  static const std::set<std::string> exts{".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};
  return exts.count(lower(fs::path(path).extension().string())) > 0;
}

bool ImageDataset::labelled() const {
  return !samples.empty() && std::all_of(samples.begin(), samples.end(), [](const LabeledImage& s) { return s.label >= 0; });
}

ImageDataset ImageDataset::from_folder(const std::string& root) {
  require_dir(root, "image folder");
  ImageDataset ds;
  ds.root = root;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
    if (it->is_directory(ec) && !hidden(it->path())) ds.classes.push_back(it->path().filename().string());
  if (ec) throw Error(ErrorCode::Io, fmt::format("cannot list '{}': {}", root, ec.message()));
  if (ds.classes.empty())
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("image folder '{}' has no class sub-folders (expected <root>/<class>/<image>, e.g. val/n01440764/x.JPEG)", root));
  std::sort(ds.classes.begin(), ds.classes.end());
  // The root and every class folder are claimed first: a link inside one class to the root or to
  // another class adds nothing (its images keep their own class), and two class names for one
  // folder would label the same images twice.
  FolderScan scan(ds.skipped_folders);
  scan.claim_dir(root);
  std::map<std::pair<dev_t, ino_t>, std::string> class_of;
  for (const auto& c : ds.classes) {
    struct stat st {};
    const fs::path p = fs::path(root) / c;
    if (::stat(p.c_str(), &st) != 0) throw Error(ErrorCode::Io, fmt::format("image folder '{}': class folder '{}': {}", root, c, std::strerror(errno)));
    auto [it, fresh] = class_of.emplace(std::make_pair(st.st_dev, st.st_ino), c);
    if (!fresh)
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("image folder '{}': class folders '{}' and '{}' are the same folder (a link)", root, it->second, c));
    if (!scan.claim_dir(p))
      throw Error(ErrorCode::InvalidArgument, fmt::format("image folder '{}': class folder '{}' is the image folder itself (a link)", root, c));
  }
  std::vector<fs::path> tops;
  for (const auto& c : ds.classes) tops.push_back(fs::path(root) / c);
  auto per_class = scan.images_under(tops);
  for (size_t c = 0; c < ds.classes.size(); ++c) {
    auto& files = per_class[c];
    if (files.empty())
      throw Error(ErrorCode::InvalidArgument, fmt::format("image folder '{}': class folder '{}' has no image files", root, ds.classes[c]));
    for (auto& f : files) ds.samples.push_back({std::move(f), static_cast<int>(c)});
  }
  return ds;
}

ImageDataset ImageDataset::from_flat_folder(const std::string& dir, const std::string& ground_truth, int num_classes) {
  require_dir(dir, "image folder");
  std::istringstream gt(io::read_text_file(ground_truth, io::kMaxTextBytes, "ground-truth file"));
  ImageDataset ds;
  FolderScan scan(ds.skipped_folders);
  scan.claim_dir(dir);
  auto files = std::move(scan.images_under({dir}).front());
  if (files.empty()) throw Error(ErrorCode::InvalidArgument, fmt::format("image folder '{}' has no image files", dir));
  auto parse_label = [&](const std::string& text, size_t line) {
    try {
      return static_cast<int>(parse_int(text, "label", 0, num_classes - 1));
    } catch (const Error& e) {
      throw Error(ErrorCode::Parse, fmt::format("ground-truth file '{}' line {}: {}", ground_truth, line, e.what()));
    }
  };
  std::vector<std::pair<std::string, int>> named;
  std::vector<int> plain;
  std::string line;
  size_t lineno = 0;
  while (std::getline(gt, line)) {
    ++lineno;
    std::istringstream in(line);
    std::vector<std::string> tok;
    for (std::string t; in >> t;) tok.push_back(t);
    if (tok.empty()) continue;
    if (tok.size() == 1) {
      plain.push_back(parse_label(tok[0], lineno));
    } else if (tok.size() == 2) {
      named.emplace_back(tok[0], parse_label(tok[1], lineno));
    } else {
      throw Error(ErrorCode::Parse, fmt::format("ground-truth file '{}' line {}: expected '<label>' or '<file> <label>', got '{}'",
                                                ground_truth, lineno, line));
    }
    if (!plain.empty() && !named.empty())
      throw Error(ErrorCode::Parse,
                  fmt::format("ground-truth file '{}' line {}: mixes '<label>' and '<file> <label>' lines", ground_truth, lineno));
  }
  if (plain.empty() && named.empty()) throw Error(ErrorCode::Parse, fmt::format("ground-truth file '{}' has no labels", ground_truth));
  ds.root = dir;
  if (!plain.empty()) {
    if (plain.size() != files.size())
      throw Error(ErrorCode::InvalidArgument, fmt::format("ground-truth file '{}' has {} labels but image folder '{}' has {} images",
                                                          ground_truth, plain.size(), dir, files.size()));
    for (size_t i = 0; i < files.size(); ++i) ds.samples.push_back({files[i], plain[i]});
  } else {
    std::map<std::string, std::string> by_name;  // relative path and file name -> path
    for (const auto& f : files) {
      by_name[fs::path(f).filename().string()] = f;
      by_name[fs::relative(f, dir).string()] = f;
    }
    std::set<std::string> labelled;
    for (const auto& [name, label] : named) {
      auto it = by_name.find(name);
      if (it == by_name.end())
        throw Error(ErrorCode::NotFound, fmt::format("ground-truth file '{}' lists '{}', which is not an image in '{}'", ground_truth, name, dir));
      if (!labelled.insert(it->second).second)
        throw Error(ErrorCode::Parse, fmt::format("ground-truth file '{}' labels image '{}' twice", ground_truth, it->second));
      ds.samples.push_back({it->second, label});
    }
    std::sort(ds.samples.begin(), ds.samples.end(), [](const LabeledImage& a, const LabeledImage& b) { return a.path < b.path; });
  }
  return ds;
}

ImageDataset ImageDataset::from_paths(const std::vector<std::string>& paths) {
  if (paths.empty()) throw Error(ErrorCode::InvalidArgument, "no image paths given");
  // One scan over every path given, in order: a folder or file given (or reached) twice counts once.
  ImageDataset ds;
  FolderScan scan(ds.skipped_folders);
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      if (!scan.claim_dir(p)) continue;  // scanned already
      auto files = std::move(scan.images_under({p}).front());
      if (files.empty()) throw Error(ErrorCode::InvalidArgument, fmt::format("folder '{}' has no image files", p));
      for (auto& f : files) ds.samples.push_back({std::move(f), -1});
    } else if (fs::exists(p, ec)) {
      if (scan.claim_file(p)) ds.samples.push_back({p, -1});
    } else {
      throw Error(ErrorCode::NotFound, fmt::format("image '{}' does not exist", p));
    }
  }
  return ds;
}

ImageDataset ImageDataset::subset(size_t n) const {
  if (n == 0 || n >= samples.size()) return *this;
  ImageDataset out = *this;
  out.samples.clear();
  const double step = static_cast<double>(samples.size()) / static_cast<double>(n);
  for (size_t i = 0; i < n; ++i) out.samples.push_back(samples[static_cast<size_t>(static_cast<double>(i) * step)]);
  return out;
}

ImageLoader::ImageLoader(ImageDataset dataset, EvalTransform transform) : m_dataset(std::move(dataset)), m_transform(transform) {
  if (m_dataset.samples.empty()) throw Error(ErrorCode::InvalidArgument, "ImageLoader: the dataset has no images");
  m_transform.resize_size();  // validates the resolution
  m_on_warning = [](const std::string& m) { std::cerr << "dynn: warning: " << m << "\n"; };
}

void ImageLoader::reset() { m_pos = 0; }

bool ImageLoader::next_one(std::vector<float>& data, int& label, std::string* path) {
  const size_t per = static_cast<size_t>(3) * static_cast<size_t>(m_transform.resolution) * static_cast<size_t>(m_transform.resolution);
  while (m_pos < m_dataset.samples.size()) {
    const LabeledImage& s = m_dataset.samples[m_pos++];
    try {
      Image img = load_image(s.path);
      data.resize(per);
      m_transform(img, data.data());
      label = s.label;
      if (path) *path = s.path;
      ++m_stats.loaded;
      return true;
    } catch (const Error& e) {
      ++m_stats.skipped;
      m_stats.skipped_paths.push_back(fmt::format("{}: {}", s.path, e.what()));
      if (m_on_warning) m_on_warning(fmt::format("skipping unreadable image ({} skipped so far): {}", m_stats.skipped, e.what()));
    }
  }
  return false;
}

bool ImageLoader::next(std::vector<float>& data, std::vector<int>& labels, int64_t& n, int64_t max_batch) {
  if (max_batch < 1) throw Error(ErrorCode::InvalidArgument, fmt::format("ImageLoader::next: batch size {} must be >= 1", max_batch));
  const size_t per = static_cast<size_t>(3) * static_cast<size_t>(m_transform.resolution) * static_cast<size_t>(m_transform.resolution);
  data.resize(per * static_cast<size_t>(max_batch));
  labels.clear();
  n = 0;
  std::vector<float> one;
  int label = -1;
  while (n < max_batch && next_one(one, label)) {
    std::copy(one.begin(), one.end(), data.begin() + static_cast<std::ptrdiff_t>(per * static_cast<size_t>(n)));
    labels.push_back(label);
    ++n;
  }
  data.resize(per * static_cast<size_t>(n));
  return n > 0;
}

}  // namespace dynn
