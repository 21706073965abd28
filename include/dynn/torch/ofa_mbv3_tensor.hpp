// Tensor-level access to the OFA MobileNetV3 supernet for C++ code that already uses LibTorch.
#pragma once

#include <ATen/ATen.h>

#include "dynn/ofa_mbv3.hpp"

namespace dynn {

// Runs the current sub-network on x [N,3,r,r] (any device the model is on; moved if needed) and
// returns logits [N, classes] on the model's device. Same switching semantics as infer().
at::Tensor forward(OfaMbv3Supernet& net, const at::Tensor& x);

// The exact reference computation of cfg (unfused, OFA arithmetic), regardless of the engine.
at::Tensor forward_reference(OfaMbv3Supernet& net, const SubnetConfig& cfg, const at::Tensor& x);

}  // namespace dynn
