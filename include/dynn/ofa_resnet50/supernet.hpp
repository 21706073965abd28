// The OFA ResNet-50 dynamic supernet, exactly as once-for-all's OFAResNets computes it, with
// prepared (BN-folded) sub-networks and microsecond switching. Torch-free header.
// Engines: "fast" on CPU is dynn's XNNPACK engine (BN folded, NHWC, ReLU fused into the convs and
// the residual add); "aten" the BN-folded LibTorch path (also "fast" on CUDA); "reference" OFA's
// unfused arithmetic. Plans are cached and switched by the same PlanCache as every family (byte
// budget, LRU, atomic switch).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dynn/bn_stats.hpp"
#include "dynn/checkpoint.hpp"
#include "dynn/model.hpp"
#include "dynn/ofa_resnet50/arch.hpp"

namespace dynn {

class OfaResNet50Supernet final : public DynamicModel {
 public:
  using Subnet = ofa_resnet50::Subnet;  // dynn::Subnet is the family-tagged form

  // A torch.save checkpoint (zip or legacy; bare or {'state_dict': ...}; either key spelling);
  // every width is read from the tensor shapes.
  static std::unique_ptr<OfaResNet50Supernet> load(const std::string& path, const SupernetOptions& opts = {});
  static std::unique_ptr<OfaResNet50Supernet> from_state_dict(const StateDict& sd, const SupernetOptions& opts = {});
  // Deterministic random-initialised supernet of the given widths (default: the published
  // full-size layout): He-normal convs, non-trivial BN statistics, the same on every machine.
  static std::unique_ptr<OfaResNet50Supernet> random(uint64_t seed, const ofa_resnet50::Widths& widths = ofa_resnet50::Widths::published(),
                                                     const SupernetOptions& opts = {});

  ~OfaResNet50Supernet() override;
  OfaResNet50Supernet(const OfaResNet50Supernet&) = delete;
  OfaResNet50Supernet& operator=(const OfaResNet50Supernet&) = delete;

  const ofa_resnet50::Widths& widths() const;
  size_t parameter_count() const;  // of the whole supernet

  // Typed sub-networks.
  void set_subnet(const Subnet& s);
  Subnet current() const;
  bool is_prepared(const Subnet& s) const;
  // Drops every prepared plan but the current one, as OfaMbv3Supernet::clear_cache.
  void clear_cache();
  // Runs s (prepared if needed) without switching; safe concurrently with set_subnet and infer.
  void infer_subnet(const Subnet& s, const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits,
                    size_t capacity);
  // Per-sub-network BN statistics (as MobileNetV3's; names from ofa_resnet50::bn_layout), used
  // instead of the supernet's shared running statistics whenever that sub-network runs, on every
  // engine; the shared buffers are never modified. Errors name the layer that does not fit.
  std::vector<std::pair<std::string, int>> bn_layout(const Subnet& s) const;
  void set_bn_stats(const Subnet& s, const BnStats& stats);
  bool has_bn_stats(const Subnet& s) const;
  void clear_bn_stats(const Subnet& s);
  void set_bn_stats(const dynn::Subnet& s, const BnStats& stats) override;
  bool has_bn_stats(const dynn::Subnet& s) const override;
  void clear_bn_stats(const dynn::Subnet& s) override;
  BnStats recalibrate_bn(const dynn::Subnet& s, const BnBatchSource& next) override;
  // OFA's set_running_statistics on calibration batches (see BnBatchSource): runs s with batch
  // statistics and keeps the batch-size-weighted means of the per-batch means and biased
  // variances as s's BN statistics (also returned).
  BnStats recalibrate_bn(const Subnet& s, const BnBatchSource& next);

  // The unfused float32 reference computation of s (OFA's arithmetic; for checks).
  void infer_reference(const Subnet& s, const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits,
                       size_t capacity) const;

  // DynamicModel.
  std::string family() const override { return ofa_resnet50::kFamily; }
  int num_classes() const override;
  dynn::Subnet parse_subnet(const std::string& text) const override;
  using DynamicModel::subnet_info;
  SubnetInfo subnet_info(const dynn::Subnet& subnet) const override;
  using DynamicModel::set_subnet;
  void set_subnet(const dynn::Subnet& subnet) override;
  dynn::Subnet current_subnet() const override;
  using DynamicModel::prepare;
  void prepare(const std::vector<dynn::Subnet>& subnets) override;
  void infer(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits, size_t capacity) override;
  // This model's intra-op thread count (1..1024), applied on the calling thread whenever it runs.
  void set_num_threads(int n) override;
  int num_threads() const override;
  // Where it was loaded (SupernetOptions::device); moving it is Unsupported.
  void set_device(const std::string& device) override;
  std::string device() const override;
  const std::string& engine() const override;
  ModelMemory memory() const override;

  struct Impl;

 private:
  explicit OfaResNet50Supernet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace dynn
