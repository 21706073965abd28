// The OFA MobileNetV3 dynamic supernet (w1.0, w1.2 and other width multipliers), exactly as the
// once-for-all reference computes it, with prepared fast sub-networks and microsecond switching.
// This header is torch-free; tensor-level access is in <dynn/torch/ofa_mbv3_tensor.hpp>.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dynn/bn_stats.hpp"
#include "dynn/checkpoint.hpp"
#include "dynn/model.hpp"

namespace dynn {

namespace ofa {
struct Weights;
}

struct ArchInfo {
  double width_mult = 0;         // inferred from the tensor shapes (0 if not a standard multiplier)
  std::vector<int> widths;       // C0, C1, stage1..5, final expand, feature mix
  int num_classes = 0;
  size_t parameter_count = 0;
};

class OfaMbv3Supernet final : public DynamicModel {
 public:
  // Loads a torch.save checkpoint (zip or legacy; bare or {'state_dict': ...}; either key spelling).
  static std::unique_ptr<OfaMbv3Supernet> load(const std::string& path, const SupernetOptions& opts = {});
  static std::unique_ptr<OfaMbv3Supernet> from_state_dict(const StateDict& sd, const SupernetOptions& opts = {});
  // Deterministic random-initialised supernet (He-normal convs, identity+noise kernel transforms,
  // non-trivial BN statistics), the same on every machine for a given seed.
  static std::unique_ptr<OfaMbv3Supernet> random(double width_mult, uint64_t seed, const SupernetOptions& opts = {});

  ~OfaMbv3Supernet() override;
  OfaMbv3Supernet(const OfaMbv3Supernet&) = delete;
  OfaMbv3Supernet& operator=(const OfaMbv3Supernet&) = delete;

  std::string family() const override { return SubnetConfig::kFamily; }
  const SearchSpace& search_space() const;
  int num_classes() const override;
  const ArchInfo& arch() const;

  Subnet parse_subnet(const std::string& text) const override;  // JSON or the compact form
  using DynamicModel::subnet_info;
  SubnetInfo subnet_info(const Subnet& subnet) const override;
  // Typed (SubnetConfig) and generic forms of the DynamicModel calls.
  using DynamicModel::set_subnet;
  void set_subnet(const SubnetConfig& cfg);
  void set_subnet(const Subnet& subnet) override;
  Subnet current_subnet() const override;
  SubnetConfig current_config() const;
  using DynamicModel::prepare;
  void prepare(const std::vector<Subnet>& subnets) override;
  bool is_prepared(const SubnetConfig& cfg) const;
  // Drops every prepared plan but the current one (in use: it stays prepared and counted in
  // memory()); plans an inference holds live until it ends.
  void clear_cache();

  void infer(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits,
             size_t capacity) override;
  // As infer(), and reports the sub-network this inference ran on (it may differ from a
  // current_subnet() read just before, when another thread switched in between).
  // layer_seconds (optional; CPU, "fast" or "aten" engine) receives each layer's wall time in the
  // order of the OFA latency look-up tables: first conv, first block, each active block, final
  // expand, pooling, feature mix, classifier (LatencyTable::network_layers).
  void infer(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits, size_t capacity,
             SubnetConfig* ran, std::vector<double>* layer_seconds = nullptr);
  // Runs sub-network cfg (preparing it if needed) without switching: the input is checked against
  // cfg, so a thread that sized its input for cfg is never hit by another thread's set_subnet to a
  // different resolution. Safe concurrently with set_subnet, infer and other infer_subnet calls.
  void infer_subnet(const SubnetConfig& cfg, const float* input, int64_t n, int64_t c, int64_t h, int64_t w,
                    float* logits, size_t capacity, std::vector<double>* layer_seconds = nullptr);

  // This model's intra-op thread count (1..1024), so two models in one process keep their own
  // counts. The XNNPACK engine runs on a thread pool of that size whose workers were created with
  // the calling thread's CPU affinity (a pinned inference thread keeps its workers on its CPUs);
  // the ATen engines apply it to the calling thread's OpenMP count whenever this model runs.
  // Before any set_num_threads, num_threads() reports the count in force on the calling thread.
  void set_num_threads(int n) override;
  int num_threads() const override;
  void set_device(const std::string& device) override;
  std::string device() const override;
  ModelMemory memory() const override;
  const std::string& engine() const override;

  // Per-sub-network BN statistics, used instead of the supernet's shared running stats whenever
  // that sub-network runs. The shared supernet buffers are never modified. Throws on names or
  // lengths that don't match the sub-network.
  void set_bn_stats(const SubnetConfig& cfg, const BnStats& stats);
  bool has_bn_stats(const SubnetConfig& cfg) const;
  void clear_bn_stats(const SubnetConfig& cfg);
  void set_bn_stats(const Subnet& subnet, const BnStats& stats) override;
  bool has_bn_stats(const Subnet& subnet) const override;
  void clear_bn_stats(const Subnet& subnet) override;
  // Static BN names and channel counts of a sub-network, in module order.
  std::vector<std::pair<std::string, int>> bn_layout(const SubnetConfig& cfg) const;

  // OFA's set_running_statistics: runs the sub-network over calibration batches with batch
  // statistics and stores the batch-size-weighted means of per-batch means and biased variances as
  // this sub-network's BN stats. next(data, n) fills data with n images [n,3,r,r] (normalised)
  // and returns false when done.
  using BatchSource = BnBatchSource;
  BnStats recalibrate_bn(const SubnetConfig& cfg, const BatchSource& next);
  BnStats recalibrate_bn(const Subnet& subnet, const BnBatchSource& next) override;

  struct Impl;
  Impl& impl() { return *m_impl; }
  const Impl& impl() const { return *m_impl; }

 private:
  explicit OfaMbv3Supernet(std::unique_ptr<Impl> impl);
  static std::unique_ptr<OfaMbv3Supernet> create(std::shared_ptr<ofa::Weights> w, const SupernetOptions& opts);
  std::unique_ptr<Impl> m_impl;
};

// Dynamic-OFA's per-level BN statistics file (keys "level<L>/<bn name>/running_mean|running_var").
std::map<int, BnStats> load_dynamic_ofa_bn_stats(const std::string& path);

}  // namespace dynn
