// OFA's ImageNet top-1 accuracy predictor as Dynamic-OFA ships it (docs/ofa_spec.md section 7):
// an MLP 128-400-400-400-1 over a one-hot encoding of kernel sizes, expand ratios and resolution.
// Runs in Eigen (float32, like the reference); Eigen stays out of this header.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "dynn/checkpoint.hpp"
#include "dynn/subnet.hpp"

namespace dynn {

class AccuracyPredictor {
 public:
  static constexpr int kInputSize = 128;

  // One Linear layer: weight [out, in] row-major, bias [out].
  struct Layer {
    int in = 0, out = 0;
    std::vector<float> weight;
    std::vector<float> bias;
  };

  // Loads acc_predictor.pth through dynn::load_checkpoint (keys 0/2/4/6 .weight/.bias).
  static AccuracyPredictor load(const std::string& path);
  // From a state dict; throws Error(InvalidArgument) naming a missing key or a wrong shape.
  static AccuracyPredictor from_state_dict(const StateDict& sd);
  // From explicit layers (ReLU between them, none after the last); in of layer 0 must be 128 and
  // the last out 1. Throws InvalidArgument on inconsistent shapes.
  static AccuracyPredictor from_layers(std::vector<Layer> layers);

  // The 128-d feature vector (spec section 7). Throws InvalidArgument for r outside 112..239 or an
  // invalid config.
  static std::array<float, kInputSize> encode(const SubnetConfig& c);

  double predict(const SubnetConfig& c) const;                                // top-1 as a fraction
  // An ofa_mbv3 sub-network; another family's is InvalidArgument (this predictor knows only OFA MobileNetV3).
  double predict(const Subnet& s) const;
  std::vector<double> predict(const std::vector<SubnetConfig>& cs) const;     // batched, same values

  // Resolutions the encoding accepts (inclusive).
  static constexpr int kMinResolution = 112;
  static constexpr int kMaxResolution = 239;

 private:
  struct Impl;
  std::shared_ptr<const Impl> m_impl;  // immutable, so copies share weights and are thread-safe
};

}  // namespace dynn
