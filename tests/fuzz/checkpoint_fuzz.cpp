// Fuzz target for the torch.save reader: any input must load or throw dynn::Error.
//
// Built two ways (tests/fuzz/CMakeLists.txt):
//  - checkpoint_fuzz (clang, -DDYNN_FUZZ=ON): libFuzzer drives LLVMFuzzerTestOneInput, e.g.
//      ./checkpoint_fuzz_replay --write-seeds corpus && ./checkpoint_fuzz corpus -max_total_time=600
//  - checkpoint_fuzz_replay (always): runs files/directories given as arguments through the same
//    function (to replay a crash or a corpus), or with no arguments a deterministic self-test of
//    mutated seed checkpoints (registered in CTest, runs under the sanitizers); fuzz_driver.hpp.
#include <cstdint>
#include <cstdlib>
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
#include "fuzz_driver.hpp"

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

}  // namespace

int main(int argc, char** argv) {
  dynn::fuzz::SelfTest t;
  t.seeds = seeds();
  return dynn::fuzz::main(argc, argv, t);
}
#endif
