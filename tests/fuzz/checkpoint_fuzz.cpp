// Fuzz target for the torch.save reader: any input must load or throw dynn::Error.
//
// Built two ways (tests/fuzz/CMakeLists.txt):
//  - checkpoint_fuzz (clang, -DDYNN_FUZZ=ON): libFuzzer drives LLVMFuzzerTestOneInput, e.g.
//      ./checkpoint_fuzz_replay --write-seeds corpus && ./checkpoint_fuzz corpus -max_total_time=600
//  - checkpoint_fuzz_replay (always): runs files/directories given as arguments through the same
//    function (to replay a crash or a corpus), or with no arguments a deterministic self-test of
//    mutated seed checkpoints (registered in CTest, runs under the sanitizers).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "../core/checkpoint/ckpt_builders.hpp"
#include "dynn/checkpoint.hpp"
#include "dynn/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const dynn::StateDict sd = dynn::load_checkpoint_from_memory(data, size);
    for (const auto& kv : sd.entries) {
      // Loaded tensors must be readable: numel is bounded by the storage, so this is bounded too.
      const auto v = kv.second.to_double();
      if (v.size() != static_cast<size_t>(kv.second.numel())) std::abort();
    }
  } catch (const dynn::Error&) {
    // expected for malformed input
  }
  return 0;  // any other exception escapes and is reported as a crash
}

#ifndef DYNN_LIBFUZZER
namespace {

std::vector<std::vector<uint8_t>> seeds() {
  using dynn::DType;
  using dynn::TensorData;
  dynn::StateDict sd;
  sd.set("w", TensorData::from_float({2, 3}, {1, 2, 3, 4, 5, 6}));
  TensorData t = sd.at("w");
  t.shape = {3, 2};
  t.strides = {1, 3};
  sd.set("w_t", t);
  const int64_t n = 3;
  sd.set("bn.num_batches_tracked", TensorData::from_bytes(DType::Int64, {}, &n, 8));
  const uint16_t h[2] = {0x3c00, 0xc000};
  sd.set("h", TensorData::from_bytes(DType::Float16, {2}, h, 4));

  dynn::test::Pk o;
  o.proto().global("collections", "OrderedDict").op(')').op('R').mark();
  o.str("a").tensor("FloatStorage", "k0", 4, 0, {2, 2}, {2, 1}, true, "cuda:0");
  o.str("n").tensor("LongStorage", "k1", 1, 0, {}, {}, true);
  o.op('u').op('}').str("_metadata").op('}').op('s').op('b').stop();
  std::vector<uint8_t> one(8, 0);
  one[0] = 1;
  return {dynn::save_checkpoint_to_memory(sd),
          dynn::test::legacy_with(o.b, {{"k1", one, 8}, {"k0", dynn::test::floats_bytes({1, 2, 3, 4}), 4}})};
}

std::vector<uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary | std::ios::ate);
  std::vector<uint8_t> b(static_cast<size_t>(f.tellg()));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(b.size()));
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--write-seeds") {
    std::filesystem::create_directories(argv[2]);
    int i = 0;
    for (const auto& s : seeds()) {
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
      } else {
        files.push_back(p);
      }
      for (const auto& f : files) {
        const auto b = read_file(f);
        LLVMFuzzerTestOneInput(b.data(), b.size());
        ++n;
      }
    }
    std::printf("replayed %zu inputs without a crash\n", n);
    return 0;
  }
  // Self-test: truncations and deterministic mutations of the seeds (including splices).
  std::mt19937 rng(7);
  size_t runs = 0;
  const auto s = seeds();
  for (const auto& seed : s) {
    for (size_t n = 0; n <= seed.size(); ++n, ++runs) LLVMFuzzerTestOneInput(seed.data(), n);
    for (int i = 0; i < 4000; ++i, ++runs) {
      auto b = seed;
      const int k = 1 + static_cast<int>(rng() % 8);
      for (int j = 0; j < k; ++j) {
        const size_t at = rng() % b.size();
        if (rng() % 8 == 0 && b.size() > 16) {  // splice: copy a chunk from elsewhere
          const size_t from = rng() % b.size(), len = std::min<size_t>(rng() % 16, b.size() - std::max(at, from));
          std::copy(b.begin() + static_cast<std::ptrdiff_t>(from), b.begin() + static_cast<std::ptrdiff_t>(from + len),
                    b.begin() + static_cast<std::ptrdiff_t>(at));
        } else {
          b[at] = static_cast<uint8_t>(rng());
        }
      }
      LLVMFuzzerTestOneInput(b.data(), b.size());
    }
  }
  std::printf("self-test: %zu inputs without a crash\n", runs);
  return 0;
}
#endif
