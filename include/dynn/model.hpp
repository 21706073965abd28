// The interface of a dynamic DNN of any family: a supernet whose sub-networks can be prepared
// ahead of time and switched at run time. Torch-free, so the runtime manager and the C ABI can
// hold any model; load_model() (<dynn/model_registry.hpp>) hands one out for any checkpoint.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "dynn/bn_stats.hpp"
#include "dynn/subnet.hpp"

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

// How a supernet of any family is loaded and run.
struct SupernetOptions {
  std::string device = "cpu";
  int num_threads = 0;                       // 0: run with the count in force on the calling thread
  size_t cache_bytes = size_t(512) << 20;    // budget for prepared sub-networks
  // "fast": the fastest engine for the device: on CPU dynn's XNNPACK engine (BN folded, NHWC,
  // ReLU fused, packed straight from the shared weights), on CUDA the "aten" path.
  // "aten": LibTorch ops, BN folded, oneDNN-prepacked NHWC convs on CPU (the engine before
  // XNNPACK; kept as the documented fallback and as the CUDA engine). "reference": the unfused
  // float32 reference computation, bit-for-bit the OFA arithmetic (slower; checks exactness).
  std::string engine = "fast";
  // CPU engine with more than one thread: false (default) puts the worker threads to sleep when an
  // inference ends, so between inferences they leave the cores to the application, other
  // processes and the power manager. true lets them spin-wait for the next inference, as
  // pthreadpool does by default: about 30 us faster per inference in a back-to-back loop on cores
  // nothing else needs (measured at two threads, docs/benchmarks.md), at the cost of a busy core
  // after every inference.
  bool spin_workers = false;
};

// What a sub-network of a model is: its family, its JSON in that family's form (normalised), the
// input resolution it runs at and its size.
struct SubnetInfo {
  std::string family;
  std::string json;
  int resolution = 0;
  double macs = 0;        // multiply-accumulates per image (convolutions and linear layers)
  double parameters = 0;  // of the static sub-network
};

// A dynamic DNN of any family, as the runtime manager, the profiler, the C ABI and the examples
// drive it. Sub-networks are dynn::Subnet values (the family's own type: a SubnetConfig converts
// implicitly), or the family's JSON text.
class DynamicModel {
 public:
  virtual ~DynamicModel() = default;

  virtual std::string family() const = 0;  // "ofa_mbv3", "ofa_resnet50"
  virtual int num_classes() const = 0;

  // Reads a sub-network of this model from its family's JSON (or compact) form, checked against
  // the model: Error(InvalidArgument) naming the key and the allowed values.
  virtual Subnet parse_subnet(const std::string& text) const { return Subnet::parse(family(), text); }
  // Family, normalised JSON, resolution, MACs and parameters of a sub-network of this model (its
  // own widths). The default counts the family's published layout. Another family's sub-network
  // is InvalidArgument.
  virtual SubnetInfo subnet_info(const Subnet& subnet) const;
  SubnetInfo subnet_info(const std::string& text) const { return subnet_info(parse_subnet(text)); }

  // Switches the sub-network used by inferences that start from now on. Cheap (microseconds) when
  // it was prepared; otherwise it prepares it first. Safe while other threads run infer(): an
  // in-flight inference finishes on the sub-network it started with. Another family's
  // sub-network is InvalidArgument.
  virtual void set_subnet(const Subnet& subnet) = 0;
  void set_subnet(const std::string& text) { set_subnet(parse_subnet(text)); }
  virtual Subnet current_subnet() const = 0;

  // Builds the fastest form of each sub-network ahead of time and keeps it in the cache.
  virtual void prepare(const std::vector<Subnet>& subnets) = 0;
  // A list of one family's own values (std::vector<SubnetConfig>, ...).
  template <class T, class = std::enable_if_t<!std::is_same_v<T, Subnet>>>
  void prepare(const std::vector<T>& subnets) {
    prepare(std::vector<Subnet>(subnets.begin(), subnets.end()));
  }

  // Runs the current sub-network on an NCHW float32 batch (h == w == current resolution, c == 3).
  // Writes n * num_classes() logits. Throws Error(InvalidArgument) on shape mismatch or on an
  // input holding NaN or inf (refused before any work, by every engine), Error(BufferTooSmall)
  // when capacity < needed.
  virtual void infer(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits,
                     size_t capacity) = 0;

  virtual void set_num_threads(int n) = 0;
  virtual int num_threads() const = 0;
  // "cpu" or "cuda:N" (where the build has CUDA). A model that cannot move says Unsupported.
  virtual void set_device(const std::string& device) = 0;
  virtual std::string device() const = 0;
  // The engine it runs on ("fast", "aten", "reference"; "callback" / "simulated" for stand-ins).
  virtual const std::string& engine() const = 0;

  virtual ModelMemory memory() const = 0;

  // Per-sub-network BN statistics (docs/supernet.md), where the family's supernet has them (both
  // OFA families do); the defaults say Unsupported, naming the model's family.
  // recalibrate_bn: OFA's set_running_statistics over calibration batches; the result is kept as
  // the sub-network's statistics and returned.
  virtual BnStats recalibrate_bn(const Subnet& subnet, const BnBatchSource& next);
  virtual void set_bn_stats(const Subnet& subnet, const BnStats& stats);
  virtual bool has_bn_stats(const Subnet& subnet) const;
  virtual void clear_bn_stats(const Subnet& subnet);

 protected:
  // InvalidArgument "<who>: this model is <family>, the sub-network is <other>" unless subnet is of
  // this model's family (a string compare: cheap enough for every switch).
  void check_family(const Subnet& subnet, const char* who) const;
};

}  // namespace dynn
