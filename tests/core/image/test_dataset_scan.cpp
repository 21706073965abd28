// Folder scans under hostile trees: symlink loops, second links to folders and files, folders
// given twice, class folders that are one folder, unreadable sub-folders (logged and recorded).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <mutex>
#include <set>

#include "dynn/error.hpp"
#include "dynn/image.hpp"
#include "dynn/log.hpp"
#include "test_support.hpp"

using namespace dynn;
using dynn::test::error_of;
namespace fs = std::filesystem;

namespace {

void write_jpeg(const fs::path& p) {
  Image img(8, 8, 3);
  fs::create_directories(p.parent_path());
  save_image(p.string(), img);
}

std::vector<std::string> relative_paths(const ImageDataset& ds, const fs::path& root) {
  std::vector<std::string> out;
  for (const auto& s : ds.samples) out.push_back(fs::relative(s.path, root).string());
  return out;
}

// A tree with every kind of second way in:
//   root/c0/a.jpg  root/c0/sub/b.jpg  root/c1/c.jpg
//   root/c0/sub/up -> ..          (loop to c0)
//   root/c1/root -> root          (loop to the root)
//   root/c1/alias -> root/c0/sub  (a second way into a folder)
//   root/c1/c-again.jpg -> c.jpg  (a second name for a file)
//   root/c0/0-first.jpg -> ../c1/c.jpg (a link that sorts before the file's own name)
void hostile_tree(const fs::path& root) {
  write_jpeg(root / "c0" / "a.jpg");
  write_jpeg(root / "c0" / "sub" / "b.jpg");
  write_jpeg(root / "c1" / "c.jpg");
  fs::create_directory_symlink("..", root / "c0" / "sub" / "up");
  fs::create_directory_symlink(root, root / "c1" / "root");
  fs::create_directory_symlink(root / "c0" / "sub", root / "c1" / "alias");
  fs::create_symlink("c.jpg", root / "c1" / "c-again.jpg");
  fs::create_symlink("../c1/c.jpg", root / "c0" / "0-first.jpg");
}

}  // namespace

TEST_CASE("folder scans list each image once, by its direct path, whatever links lead to it", "[image][dataset]") {
  dynn::test::TempDir dir("scanloops");
  const fs::path root = dir.path / "root";
  hostile_tree(root);
  const std::vector<std::string> direct{"c0/a.jpg", "c0/sub/b.jpg", "c1/c.jpg"};

  const auto all = ImageDataset::from_paths({root.string()});
  CHECK(relative_paths(all, root) == direct);
  CHECK(all.skipped_folders.empty());

  // Given twice, or a folder and something inside it: still once each.
  const auto twice = ImageDataset::from_paths({root.string(), (root / "c0").string(), root.string(), (root / "c1" / "c.jpg").string(),
                                               (root / "c1" / "c-again.jpg").string()});
  CHECK(relative_paths(twice, root) == direct);

  // Class layout: the loop to the root and the alias into c0 add nothing to c1.
  const auto classes = ImageDataset::from_folder(root.string());
  REQUIRE(classes.classes == std::vector<std::string>{"c0", "c1"});
  CHECK(relative_paths(classes, root) == direct);
  std::vector<int> labels;
  for (const auto& s : classes.samples) labels.push_back(s.label);
  CHECK(labels == std::vector<int>{0, 0, 1});

  // Flat folder with ground truth: the same three.
  std::ofstream(dir.path / "gt.txt") << "0\n1\n2\n";
  CHECK(relative_paths(ImageDataset::from_flat_folder(root.string(), (dir.path / "gt.txt").string()), root) == direct);
}

TEST_CASE("a loop link beside many images does not multiply them", "[image][dataset]") {
  dynn::test::TempDir dir("scanmany");
  for (int i = 0; i < 15; ++i) write_jpeg(dir.path / "imgs" / ("i" + std::to_string(i) + ".jpg"));
  // Two loop links: a walk that follows links by path would list 15 * (2^depth) entries.
  fs::create_directory_symlink(".", dir.path / "imgs" / "loop");
  fs::create_directory_symlink("..", dir.path / "imgs" / "loop2");
  fs::create_directories(dir.path / "imgs" / "deep" / "er");
  fs::create_directory_symlink("../..", dir.path / "imgs" / "deep" / "er" / "back");
  CHECK(ImageDataset::from_paths({(dir.path / "imgs").string()}).size() == 15);
}

TEST_CASE("class folders that are one folder, or the root itself, are refused by name", "[image][dataset]") {
  dynn::test::TempDir dir("scanclasses");
  write_jpeg(dir.path / "a" / "n1" / "x.jpg");
  write_jpeg(dir.path / "a" / "n2" / "y.jpg");
  fs::create_directory_symlink("n1", dir.path / "a" / "n3");
  ErrorCode code{};
  const std::string m = error_of([&] { ImageDataset::from_folder((dir.path / "a").string()); }, &code);
  CHECK(code == ErrorCode::InvalidArgument);
  CHECK_THAT(m, Catch::Contains("'n1'") && Catch::Contains("'n3'"));

  write_jpeg(dir.path / "b" / "n1" / "x.jpg");
  fs::create_directory_symlink(".", dir.path / "b" / "self");
  CHECK_THAT(error_of([&] { ImageDataset::from_folder((dir.path / "b").string()); }), Catch::Contains("'self'"));
}

namespace {

// Runs the scan of `top` as a user that permissions apply to: in-process when not root, else in
// a child process that drops to nobody (root reads every folder). Returns "<images>|<skipped>|<log>"
// or "error:<code>:<message>", or "" when privileges cannot be dropped.
std::string scan_unprivileged(const fs::path& top) {
  auto run = [&]() -> std::string {
    std::string logged;
    std::mutex m;
    set_log_sink([&](LogLevel, const std::string& msg) {
      std::lock_guard<std::mutex> g(m);
      logged += msg + "\n";
    });
    std::string out;
    try {
      const auto ds = ImageDataset::from_paths({top.string()});
      out = std::to_string(ds.size()) + "|";
      for (const auto& s : ds.skipped_folders) out += s + ";";
      out += "|" + logged;
    } catch (const Error& e) {
      out = "error:" + std::string(error_code_name(e.code())) + ":" + e.what();
    }
    set_log_sink({});
    return out;
  };
  if (::geteuid() != 0) return run();
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  if (pid == 0) {  // the child: no Catch2 assertions here
    ::close(fds[0]);
    std::string out;
    if (::setgid(65534) == 0 && ::setuid(65534) == 0) out = run();
    const ssize_t n = ::write(fds[1], out.data(), out.size());
    (void)n;
    ::_exit(0);
  }
  REQUIRE(pid > 0);
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

}  // namespace

TEST_CASE("unreadable sub-folders are skipped with a warning naming them; an unreadable top folder is an error", "[image][dataset]") {
  dynn::test::TempDir dir("scanperm");
  ::chmod(dir.path.c_str(), 0755);
  write_jpeg(dir.path / "imgs" / "a.jpg");
  write_jpeg(dir.path / "imgs" / "locked" / "b.jpg");
  write_jpeg(dir.path / "imgs" / "z" / "c.jpg");
  REQUIRE(::chmod((dir.path / "imgs" / "locked").c_str(), 0) == 0);
  const std::string out = scan_unprivileged(dir.path / "imgs");
  ::chmod((dir.path / "imgs" / "locked").c_str(), 0755);
  if (out.empty()) {
    WARN("cannot drop root privileges here: the permission test did not run");
    return;
  }
  INFO(out);
  CHECK(out.rfind("2|", 0) == 0);  // a.jpg and z/c.jpg
  const std::string locked = (dir.path / "imgs" / "locked").string();
  CHECK_THAT(out.substr(0, out.rfind('|')), Catch::Contains(locked));              // recorded
  CHECK_THAT(out.substr(out.rfind('|')), Catch::Contains("'" + locked + "'"));    // and logged

  REQUIRE(::chmod((dir.path / "imgs").c_str(), 0) == 0);
  const std::string top = scan_unprivileged(dir.path / "imgs");
  ::chmod((dir.path / "imgs").c_str(), 0755);
  CHECK_THAT(top, Catch::StartsWith("error:") && Catch::Contains((dir.path / "imgs").string()));
}
