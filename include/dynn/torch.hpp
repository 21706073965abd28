// Umbrella header of dynn's LibTorch model API (dynn::dynn).
#pragma once

#include "dynn/dynn.hpp"
#include "dynn/model.hpp"
#include "dynn/model_registry.hpp"
#include "dynn/ofa_mbv3.hpp"
#include "dynn/ofa_resnet50/supernet.hpp"
#include "dynn/threads.hpp"
#include "dynn/torch/ofa_mbv3_tensor.hpp"
