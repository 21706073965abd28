// Umbrella header of dynn's C++ API (torch-free parts). The LibTorch model API is in
// <dynn/torch.hpp>; the C ABI is <dynn/dynn.h>.
#pragma once

#include "dynn/checkpoint.hpp"
#include "dynn/error.hpp"
#include "dynn/log.hpp"
#include "dynn/profile/operating_point.hpp"
#include "dynn/subnet_config.hpp"
#include "dynn/threads.hpp"
#include "dynn/version.hpp"
