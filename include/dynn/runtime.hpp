// Umbrella header of the runtime API: controllers, the controller registry, telemetry and the
// runtime manager.
#pragma once

#include "dynn/runtime/controller.hpp"
#include "dynn/runtime/controllers.hpp"
#include "dynn/runtime/model_profiler.hpp"
#include "dynn/runtime/runtime_manager.hpp"
#include "dynn/runtime/simulated_model.hpp"
#include "dynn/runtime/telemetry.hpp"
