// The one whole-file reader (lib/core/io/file.hpp) behind checkpoints, JSON files, images and
// ground truth: FIFOs never block, devices and folders are refused by kind, sizes are capped
// (also for /proc files that report size 0), and every message names the file.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>

#include <catch2/catch.hpp>

#include "core/io/file.hpp"
#include "dynn/checkpoint.hpp"
#include "dynn/error.hpp"
#include "test_support.hpp"

using namespace dynn;
using dynn::test::error_of;
namespace fs = std::filesystem;

TEST_CASE("bounded reads refuse what is not a regular file, by kind and without blocking", "[io]") {
  test::TempDir dir("bounded");
  const fs::path fifo = dir.path / "pipe.pt";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  ErrorCode code{};
  // No writer ever opens the FIFO: a blocking open would hang here.
  CHECK_THAT(error_of([&] { io::read_file(fifo.string(), 100, "checkpoint file"); }, &code),
             Catch::Contains("checkpoint file") && Catch::Contains("pipe.pt") && Catch::Contains("FIFO"));
  CHECK(code == ErrorCode::InvalidArgument);
  CHECK_THAT(error_of([&] { load_checkpoint(fifo.string()); }), Catch::Contains("FIFO"));
  CHECK_THAT(error_of([&] { io::read_file("/dev/zero", 100, "levels file"); }), Catch::Contains("/dev/zero") && Catch::Contains("character device"));
  CHECK_THAT(error_of([&] { load_checkpoint("/dev/zero"); }), Catch::Contains("character device"));
  CHECK_THAT(error_of([&] { io::read_text_file(dir.path.string(), 100, "profile"); }), Catch::Contains("folder"));
  CHECK_THAT(error_of([&] { io::read_file((dir.path / "none").string(), 100, "x"); }, &code), Catch::Contains("none"));
  CHECK(code == ErrorCode::NotFound);
  CHECK_THAT(error_of([&] { io::read_file((dir.path / "none" / "deeper").string(), 100, "x"); }, &code), Catch::Contains("deeper"));
  CHECK(code == ErrorCode::NotFound);
}

TEST_CASE("bounded reads cap the size and name both sizes; empty and pseudo files read correctly", "[io]") {
  test::TempDir dir("bounded-size");
  const fs::path big = dir.path / "big.json";
  std::ofstream(big) << std::string(1000, 'x');
  ErrorCode code{};
  CHECK_THAT(error_of([&] { io::read_text_file(big.string(), 999, "levels file"); }, &code),
             Catch::Contains("big.json") && Catch::Contains("1000") && Catch::Contains("999"));
  CHECK(code == ErrorCode::InvalidArgument);
  CHECK(io::read_text_file(big.string(), 1000, "levels file").size() == 1000);
  std::ofstream(dir.path / "empty");
  CHECK(io::read_file((dir.path / "empty").string(), 10, "x").empty());
  // /proc files report size 0 but have content: read to the end, still capped.
  const std::string status = io::read_text_file("/proc/self/status", size_t(1) << 20, "status");
  CHECK(status.find("Name:") != std::string::npos);
  CHECK_THAT(error_of([&] { io::read_text_file("/proc/self/status", 16, "status"); }), Catch::Contains("16 bytes"));
  // A sparse file far above the cap is refused from its size, before any allocation.
  const fs::path sparse = dir.path / "sparse.pt";
  { std::ofstream(sparse) << ""; }
  REQUIRE(::truncate(sparse.c_str(), off_t(1) << 40) == 0);
  CHECK_THAT(error_of([&] { io::read_file(sparse.string(), io::kMaxImageBytes, "image"); }), Catch::Contains("1099511627776"));
}

TEST_CASE("unreadable files are PermissionDenied naming the file", "[io]") {
  test::TempDir dir("bounded-perm");
  ::chmod(dir.path.c_str(), 0755);
  const fs::path locked = dir.path / "locked.json";
  std::ofstream(locked) << "{}";
  REQUIRE(::chmod(locked.c_str(), 0) == 0);
  auto attempt = [&] {
    ErrorCode code{};
    const std::string m = error_of([&] { io::read_text_file(locked.string(), 100, "profile"); }, &code);
    return std::string(error_code_name(code)) + ": " + m;
  };
  std::string out;
  if (::geteuid() != 0) {
    out = attempt();
  } else {  // root reads everything: try as nobody, in a child process
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    if (pid == 0) {  // the child: no Catch2 assertions here
      ::close(fds[0]);
      const std::string r = ::setgid(65534) == 0 && ::setuid(65534) == 0 ? attempt() : "";
      const ssize_t n = ::write(fds[1], r.data(), r.size());
      (void)n;
      ::_exit(0);
    }
    REQUIRE(pid > 0);
    ::close(fds[1]);
    char buf[1024];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  if (out.empty()) {
    WARN("cannot drop root privileges here: the permission check did not run");
    SUCCEED();
    return;
  }
  CHECK_THAT(out, Catch::StartsWith(error_code_name(ErrorCode::PermissionDenied)) && Catch::Contains("locked.json"));
}
