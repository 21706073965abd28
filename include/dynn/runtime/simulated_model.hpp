// SimulatedModel: a model whose inference time is the simulator's. Each image advances the
// SimulatedPlatform's virtual clock (and energy) by the simulated time of the current sub-network
// on the current device, taken at the board's reference settings from, in this order:
//  1. its recorded reference latency, when one was given (Options::recorded, set_reference);
//  2. the platform's latency table, when it covers the family (the OFA MobileNetV3 LUTs);
//  3. its MACs (the inner model's count, else the family's published layout) over the device's
//     MAC rate: Options::macs_per_ms, else calibrated on the platform's MobileNetV3 table (the
//     rate its largest sub-network at 224 runs at). Families without a table (OFA ResNet-50) run
//     on the simulator this way; docs/simulator.md says what that assumes.
// Unsupported, naming these, when none applies. It may wrap a real model of any family, which
// then computes the logits on this machine; without one the logits are zero.
// The demo, the C ABI's `simulate` mode, the runtime benchmarks and the tests all use this type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "dynn/model.hpp"
#include "dynn/profile/operating_point.hpp"

namespace dynn {

class SimulatedPlatform;

class SimulatedModel final : public DynamicModel {
 public:
  struct Options {
    // Points whose latency_ms is a reference measurement (taken at the platform's reference
    // clocks: points that set no hardware); the others are timed from the latency tables.
    std::vector<OperatingPoint> recorded;
    std::string device = "cpu";                  // simulated device: "cpu" or "gpu"
    std::string family = SubnetConfig::kFamily;  // used without an inner model
    int num_classes = 1000;                      // used without an inner model
    // MACs per millisecond at the reference settings, by simulated device ("cpu", "gpu"); a
    // device not listed is calibrated on the platform's MobileNetV3 latency table.
    std::map<std::string, double> macs_per_ms;
  };

  // `sim` must outlive the model. `inner` may be null.
  SimulatedModel(SimulatedPlatform& sim, std::shared_ptr<DynamicModel> inner, Options options);
  SimulatedModel(SimulatedPlatform& sim, std::shared_ptr<DynamicModel> inner = nullptr);

  std::string family() const override;
  int num_classes() const override;
  Subnet parse_subnet(const std::string& text) const override;
  SubnetInfo subnet_info(const Subnet& subnet) const override;
  using DynamicModel::set_subnet;
  using DynamicModel::subnet_info;
  void set_subnet(const Subnet& subnet) override;
  Subnet current_subnet() const override { return m_subnet; }
  using DynamicModel::prepare;
  void prepare(const std::vector<Subnet>& subnets) override;
  // With an inner model: its checks and logits. Without: n in 1..4096, c == 3, h == w == the
  // sub-network's resolution, zero logits. Then n simulated inferences.
  void infer(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits, size_t capacity) override;
  void set_num_threads(int n) override;
  int num_threads() const override;
  // The simulated device ("cpu" or "gpu"); the inner model keeps computing where it is.
  void set_device(const std::string& device) override;
  std::string device() const override { return m_device; }
  const std::string& engine() const override;
  ModelMemory memory() const override;
  // BN statistics are the inner model's (Unsupported without one).
  BnStats recalibrate_bn(const Subnet& subnet, const BnBatchSource& next) override;
  void set_bn_stats(const Subnet& subnet, const BnStats& stats) override;
  bool has_bn_stats(const Subnet& subnet) const override;
  void clear_bn_stats(const Subnet& subnet) override;

  // Reference latency of a sub-network on a device (replaces an earlier one); ms > 0.
  void set_reference(const Subnet& subnet, const std::string& device, double ms);
  // The latency (ms at the reference settings) this model times a sub-network with on a device,
  // by the rules above; Unsupported naming them when none applies.
  double reference_ms(const Subnet& subnet, const std::string& device) const;
  const std::shared_ptr<DynamicModel>& inner() const { return m_inner; }
  size_t inferences() const { return m_inferences; }

 private:
  SimulatedPlatform* m_sim;
  std::shared_ptr<DynamicModel> m_inner;
  std::string m_family;
  int m_classes;
  Subnet m_subnet;
  std::string m_device;
  int m_threads = 1;
  std::map<std::string, double> m_macs_per_ms;
  std::map<std::string, std::unordered_map<Subnet, double>> m_reference;  // device -> sub-network -> ms
  double m_current_ms = -1;  // reference_ms(m_subnet, m_device), computed at the first inference after a change
  size_t m_inferences = 0;
};

}  // namespace dynn
