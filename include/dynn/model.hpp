// The family-agnostic interface of a dynamic DNN: a supernet with a configuration space whose
// sub-networks can be prepared ahead of time and switched at run time. Torch-free, so the runtime
// manager and the C ABI can hold any model (OFA MobileNetV3 today; OFA ResNet-50 and dynamic
// transformers plug in the same way).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dynn/subnet_config.hpp"

namespace dynn {

// Thread counts a model accepts: 1..kMaxThreads. check_thread_count throws InvalidArgument naming
// `who` and the range; every set_num_threads (models, the C ABI) goes through it.
inline constexpr int kMaxThreads = 1024;
void check_thread_count(int n, const std::string& who);

struct ModelMemory {
  size_t supernet_bytes = 0;   // shared weights (one copy for all sub-networks)
  size_t prepared_bytes = 0;   // prepared sub-networks currently cached
  size_t cache_budget = 0;     // configured byte budget of that cache
  size_t prepared_count = 0;
  size_t workspace_bytes = 0;  // activation memory of the CPU engine, shared by all sub-networks (idle now)
  size_t shared_bytes = 0;     // packed layers every prepared sub-network shares (the CPU engine's head), once
};

class DynamicModel {
 public:
  virtual ~DynamicModel() = default;

  virtual std::string family() const = 0;
  virtual const SearchSpace& search_space() const = 0;
  virtual int num_classes() const = 0;

  // Switches the sub-network used by inferences that start from now on. Cheap (microseconds) when
  // cfg was prepared; otherwise it prepares it first. Safe while other threads run infer(): an
  // in-flight inference finishes on the sub-network it started with.
  virtual void set_subnet(const SubnetConfig& cfg) = 0;
  virtual SubnetConfig current_subnet() const = 0;

  // Builds the fastest form of each sub-network ahead of time and keeps it in the cache.
  virtual void prepare(const std::vector<SubnetConfig>& cfgs) = 0;

  // Runs the current sub-network on an NCHW float32 batch (h == w == current resolution, c == 3).
  // Writes n * num_classes() logits. Throws Error(InvalidArgument) on shape mismatch or on an
  // input holding NaN or inf (refused before any work, by every engine), Error(BufferTooSmall)
  // when capacity < needed.
  virtual void infer(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits,
                     size_t capacity) = 0;

  virtual void set_num_threads(int n) = 0;
  virtual int num_threads() const = 0;
  // "cpu" or "cuda:N" (where the build has CUDA).
  virtual void set_device(const std::string& device) = 0;
  virtual std::string device() const = 0;

  virtual ModelMemory memory() const = 0;
};

}  // namespace dynn
