// Truncated and mutated copies of the shared fixtures (both containers) must give a dynn::Error,
// never a crash. The exhaustive loops on small synthetic files are in test_checkpoint_robustness.cpp.
#include <random>

#include "dynn/checkpoint.hpp"
#include "dynn/error.hpp"
#include "test_support.hpp"

using namespace dynn;

namespace {

// 1: loaded, 0: dynn::Error. Any other exception fails the test.
int try_load(const uint8_t* data, size_t size) {
  try {
    const StateDict sd = load_checkpoint_from_memory(data, size);
    return sd.size() > 0 ? 1 : 0;
  } catch (const Error&) {
    return 0;
  } catch (const std::exception& e) {
    FAIL("non-dynn exception: " << e.what());
  }
  return 0;
}

// test::read_bytes goes through istreambuf_iterator, slow for 30 MB files in Debug builds.
std::vector<uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary | std::ios::ate);
  std::vector<uint8_t> b(static_cast<size_t>(f.tellg()));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(b.size()));
  return b;
}

}  // namespace

TEST_CASE("fixture checkpoints: truncated copies throw dynn::Error", "[shared][checkpoint]") {
  for (const char* rel : {"fixtures/ofa_mbv3_w1.0/supernet.pth", "fixtures/ofa_mbv3_w1.0/supernet_legacy.pth",
                          "data/dynamic_ofa/acc_predictor.pth"}) {
    const auto bytes = read_file(test::shared_path(rel));
    INFO(rel);
    REQUIRE(try_load(bytes.data(), bytes.size()) == 1);
    for (size_t i = 0; i < 200; ++i) {
      const size_t n = bytes.size() * i / 200 + (i * 7919) % 97;  // spread, not all on round offsets
      INFO("truncated to " << n);
      CHECK(try_load(bytes.data(), std::min(n, bytes.size() - 1)) == 0);
    }
  }
}

TEST_CASE("fixture checkpoints: mutated copies load or throw dynn::Error", "[shared][checkpoint]") {
  std::mt19937 rng(2024);
  for (const char* rel : {"fixtures/ofa_mbv3_w1.0/supernet.pth", "fixtures/ofa_mbv3_w1.0/supernet_legacy.pth"}) {
    INFO(rel);
    auto bytes = read_file(test::shared_path(rel));
    // The headers and pickle are in the first 64 KiB of both files (the rest is tensor data).
    const size_t span = std::min<size_t>(bytes.size(), 65536);
    int rejected = 0;
    for (int i = 0; i < 40; ++i) {
      const size_t at = (i % 2 ? rng() % span : rng() % bytes.size());
      const uint8_t old = bytes[at];
      bytes[at] = static_cast<uint8_t>(old ^ (1u + rng() % 255));
      rejected += 1 - try_load(bytes.data(), bytes.size());
      bytes[at] = old;
    }
    CHECK(rejected > 0);
  }
}
