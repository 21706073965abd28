// SimulatedModel: a model whose inference time is the simulator's. Each image advances the
// SimulatedPlatform's virtual clock (and energy) by the simulated time of the current sub-network
// on the current device: its recorded reference latency when one was given, else the platform's
// latency tables (Unsupported, naming the call to make, when neither exists). It may wrap a real
// DynamicModel, which then computes the logits on this machine; without one the logits are zero.
// The demo, the C ABI's `simulate` mode, the runtime benchmarks and the tests all use this type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
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
    std::string device = "cpu";                      // simulated device: "cpu" or "gpu"
    SearchSpace space = SearchSpace::ofa_mbv3();     // used without an inner model
    int num_classes = 1000;                          // used without an inner model
  };

  // `sim` must outlive the model. `inner` may be null.
  SimulatedModel(SimulatedPlatform& sim, std::shared_ptr<DynamicModel> inner, Options options);
  SimulatedModel(SimulatedPlatform& sim, std::shared_ptr<DynamicModel> inner = nullptr);

  std::string family() const override;
  const SearchSpace& search_space() const override;
  int num_classes() const override;
  void set_subnet(const SubnetConfig& cfg) override;
  SubnetConfig current_subnet() const override { return m_subnet; }
  void prepare(const std::vector<SubnetConfig>& cfgs) override;
  // With an inner model: its checks and logits. Without: n in 1..4096, c == 3, h == w == the
  // sub-network's resolution, zero logits. Then n simulated inferences.
  void infer(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits, size_t capacity) override;
  void set_num_threads(int n) override;
  int num_threads() const override;
  // The simulated device ("cpu" or "gpu"); the inner model keeps computing where it is.
  void set_device(const std::string& device) override;
  std::string device() const override { return m_device; }
  ModelMemory memory() const override;

  // Reference latency of a sub-network on a device (replaces an earlier one); ms > 0.
  void set_reference(const SubnetConfig& subnet, const std::string& device, double ms);
  const std::shared_ptr<DynamicModel>& inner() const { return m_inner; }
  size_t inferences() const { return m_inferences; }

 private:
  SimulatedPlatform* m_sim;
  std::shared_ptr<DynamicModel> m_inner;
  SearchSpace m_space;
  int m_classes;
  SubnetConfig m_subnet;
  std::string m_device;
  int m_threads = 1;
  std::map<std::pair<std::string, std::string>, double> m_reference;  // (device, canonical subnet) -> ms
  size_t m_inferences = 0;
};

}  // namespace dynn
