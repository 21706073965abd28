// dynn platforms: knobs, sensors, real Linux backends (Platform::detect) and the simulator.
#pragma once

#include "dynn/platform/knob.hpp"
#include "dynn/platform/nvml.hpp"
#include "dynn/platform/platform.hpp"
#include "dynn/platform/restore_guard.hpp"
#include "dynn/platform/sensor.hpp"
#include "dynn/platform/simulated.hpp"
