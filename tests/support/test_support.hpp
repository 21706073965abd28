// Helpers shared by the Catch2 tests.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "dynn/error.hpp"

namespace dynn::test {

// ../shared as configured (DYNN_SHARED_DIR env var overrides the CMake cache value).
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("DYNN_SHARED_DIR"); env && *env) return env;
  return DYNN_SHARED_DIR_DEFAULT;
}

// Whether the shared reference material is there (cases tagged [shared] are skipped when not:
// catch_main.cpp).
inline bool shared_present() { return std::filesystem::exists(shared_dir() / "docs" / "ofa_spec.md"); }

// Tests tagged [shared] call this first; they only run when shared_present(), so a missing file
// here is a real failure, not a skip.
inline std::filesystem::path shared_path(const std::string& rel) {
  auto p = shared_dir() / rel;
  if (!std::filesystem::exists(p)) FAIL("shared reference file missing: " << p.string());
  return p;
}

inline std::vector<uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

inline std::vector<float> read_f32(const std::filesystem::path& p) {
  auto b = read_bytes(p);
  std::vector<float> v(b.size() / sizeof(float));
  std::memcpy(v.data(), b.data(), v.size() * sizeof(float));
  return v;
}

// The message of the dynn::Error that fn throws (its code into *code); the test fails when fn
// throws none.
inline std::string error_of(const std::function<void()>& fn, ErrorCode* code = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (code) *code = e.code();
    return e.what();
  }
  FAIL("no dynn::Error thrown");
  return {};
}
// As error_of, and checks the code.
inline std::string error_of(const std::function<void()>& fn, ErrorCode want) {
  ErrorCode got{};
  std::string m = error_of(fn, &got);
  CHECK(got == want);
  return m;
}

// A fresh, empty scratch directory under the build tree, removed on destruction.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name) {
    path = std::filesystem::temp_directory_path() / ("dynn-test-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::error_code ec; std::filesystem::remove_all(path, ec); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace dynn::test
