// Umbrella header of dynn's C++ API (dynn::core, torch-free): configs, checkpoints, platforms,
// profiles, runtime. Each area also has its own umbrella (<dynn/platform.hpp>, <dynn/profile.hpp>,
// <dynn/runtime.hpp>, <dynn/image.hpp>). The LibTorch model API is <dynn/torch.hpp>; the C ABI is
// <dynn/dynn.h>.
#pragma once

#include "dynn/checkpoint.hpp"
#include "dynn/error.hpp"
#include "dynn/log.hpp"
#include "dynn/device.hpp"
#include "dynn/model.hpp"
#include "dynn/parse.hpp"
#include "dynn/ofa_mbv3_arch.hpp"
#include "dynn/platform.hpp"
#include "dynn/profile.hpp"
#include "dynn/runtime.hpp"
#include "dynn/subnet_config.hpp"
#include "dynn/version.hpp"
