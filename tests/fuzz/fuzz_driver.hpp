// The replay driver shared by every harness in tests/fuzz: each harness defines
// LLVMFuzzerTestOneInput (its only contract: return, or throw nothing but what it catches) and,
// without libFuzzer, calls dynn::fuzz::main with its seeds:
//   harness_replay                      deterministic self-test: truncations and mutations of the seeds
//   harness_replay FILE|DIR...          replays inputs (a crash file, a corpus)
//   harness_replay --write-seeds DIR    writes the seeds, a starting corpus for the libFuzzer build
//   harness_replay --self-test SEED N   the self-test with another random seed and N mutations per seed
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace dynn::fuzz {

using Bytes = std::vector<uint8_t>;

struct SelfTest {
  std::vector<Bytes> seeds;
  int mutations_per_seed = 4000;
  int max_edits = 8;  // per mutation
  // Inserted by some mutations (e.g. JSON tokens); empty for binary formats.
  std::vector<std::string> tokens;
  // Bytes at the start of every seed that mutations leave alone (e.g. a loader selector).
  size_t keep_prefix = 0;
};

inline Bytes read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// 1..max_edits edits: random bytes, chunks copied from elsewhere in the input (splices), erased runs and,
// with tokens, inserted tokens.
inline Bytes mutate(Bytes b, std::mt19937& rng, const SelfTest& t) {
  const int k = 1 + static_cast<int>(rng() % static_cast<unsigned>(t.max_edits));
  for (int j = 0; j < k && b.size() > t.keep_prefix; ++j) {
    const size_t span = b.size() - t.keep_prefix;
    const size_t at = t.keep_prefix + rng() % span;
    switch (rng() % 8) {
      case 0: {  // splice
        const size_t from = t.keep_prefix + rng() % span;
        const size_t len = std::min<size_t>(rng() % 16, b.size() - std::max(at, from));
        std::copy(b.begin() + static_cast<std::ptrdiff_t>(from), b.begin() + static_cast<std::ptrdiff_t>(from + len),
                  b.begin() + static_cast<std::ptrdiff_t>(at));
        break;
      }
      case 1:  // erase a run
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(std::min(b.size(), at + 1 + rng() % 8)));
        break;
      case 2:
        if (!t.tokens.empty()) {
          const std::string& tok = t.tokens[rng() % t.tokens.size()];
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), tok.begin(), tok.end());
          break;
        }
        [[fallthrough]];
      default: b[at] = static_cast<uint8_t>(rng()); break;
    }
  }
  return b;
}

inline int main(int argc, char** argv, SelfTest t) {
  unsigned rng_seed = 7;
  if (argc == 4 && std::string(argv[1]) == "--self-test") {
    rng_seed = static_cast<unsigned>(std::stoul(argv[2]));
    t.mutations_per_seed = std::stoi(argv[3]);
    argc = 1;
  }
  if (argc == 3 && std::string(argv[1]) == "--write-seeds") {
    std::filesystem::create_directories(argv[2]);
    int i = 0;
    for (const auto& s : t.seeds) {
      std::ofstream f(std::filesystem::path(argv[2]) / ("seed" + std::to_string(i++)), std::ios::binary);
      f.write(reinterpret_cast<const char*>(s.data()), static_cast<std::streamsize>(s.size()));
    }
    return 0;
  }
  if (argc > 1) {
    size_t n = 0;
    for (int a = 1; a < argc; ++a) {
      const std::filesystem::path p = argv[a];
      std::vector<std::filesystem::path> files;
      if (std::filesystem::is_directory(p)) {
        for (const auto& e : std::filesystem::recursive_directory_iterator(p))
          if (e.is_regular_file()) files.push_back(e.path());
        std::sort(files.begin(), files.end());
      } else {
        files.push_back(p);
      }
      for (const auto& f : files) {
        const Bytes b = read_file(f);
        LLVMFuzzerTestOneInput(b.data(), b.size());
        ++n;
      }
    }
    std::printf("replayed %zu inputs without a crash\n", n);
    return 0;
  }
  std::mt19937 rng(rng_seed);
  size_t runs = 0;
  for (const auto& seed : t.seeds) {
    for (size_t n = 0; n <= seed.size(); ++n, ++runs) LLVMFuzzerTestOneInput(seed.data(), n);
    for (int i = 0; i < t.mutations_per_seed; ++i, ++runs) {
      const Bytes b = mutate(seed, rng, t);
      LLVMFuzzerTestOneInput(b.data(), b.size());
    }
  }
  std::printf("self-test: %zu inputs without a crash\n", runs);
  return 0;
}

}  // namespace dynn::fuzz
