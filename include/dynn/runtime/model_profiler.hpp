// Profiling a model on a platform: dynn::Profiler with the hooks written for any DynamicModel on
// any Platform (this machine, a Jetson, the simulator), so building the operating points of a
// model on a board is one call.
#pragma once

#include <functional>
#include <vector>

#include "dynn/model.hpp"
#include "dynn/platform/platform.hpp"
#include "dynn/profile/profiler.hpp"

namespace dynn {

struct ModelProfilerHooks {
  std::function<double(const Subnet&)> accuracy;             // optional: accuracy of each point
  std::function<void(const ProfilerProgress&)> on_progress;  // optional
};

// Profiles `model` on `platform`, task by task (Profiler: warm-up, repetitions, outlier rule,
// resume file and progress from `options`). For each task:
//  - its hardware setting is written through a claim of the profiler's own; the platform's
//    "threads" and "device" knobs drive the model while it runs (as under the runtime manager),
//    and a task device other than the model's moves the model (set_device);
//  - the sub-network is set and prepared (not timed);
//  - one inference of a constant 1 x 3 x r x r image is timed on the platform's clock (virtual
//    time on the simulator); energy per inference comes from the platform's energy counter where
//    a readable one exists (Platform::find_energy_counter), else the points have none.
// When it returns or throws, the knobs, the model's thread count, device and sub-network are as
// they were. The profile's MACs follow `options.supernet` (Profiler::run).
Profile profile_model(DynamicModel& model, Platform& platform, const std::vector<ProfileTask>& tasks,
                      const ProfilerOptions& options, const ModelProfilerHooks& hooks = {});

}  // namespace dynn
