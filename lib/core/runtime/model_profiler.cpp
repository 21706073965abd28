#include "dynn/runtime/model_profiler.hpp"

#include <atomic>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "core/runtime/model_knobs.hpp"
#include "dynn/device.hpp"
#include "dynn/error.hpp"
#include "dynn/log.hpp"

namespace dynn {

namespace {

// Puts back what profiling changed, on return and on errors: knobs written under the claim, the
// model's thread count, device and sub-network.
class Restorer {
 public:
  Restorer(Platform& platform, DynamicModel& model, ClaimantId claimant)
      : m_platform(platform), m_model(model), m_claimant(claimant), m_threads(model.num_threads()),
        m_device(model.device()), m_subnet(model.current_subnet()) {}
  ~Restorer() {
    try {
      m_platform.release(m_claimant, true);
    } catch (const std::exception& e) {
      log(LogLevel::Error, std::string("profile_model: restoring knobs failed: ") + e.what());
    }
    try {
      if (m_model.device() != m_device) m_model.set_device(m_device);
      if (m_model.num_threads() != m_threads) m_model.set_num_threads(m_threads);
      m_model.set_subnet(m_subnet);
    } catch (const std::exception& e) {
      log(LogLevel::Error, std::string("profile_model: restoring the model failed: ") + e.what());
    }
  }

 private:
  Platform& m_platform;
  DynamicModel& m_model;
  ClaimantId m_claimant;
  int m_threads;
  std::string m_device;
  Subnet m_subnet;
};

}  // namespace

Profile profile_model(DynamicModel& model, Platform& platform, const std::vector<ProfileTask>& tasks,
                      const ProfilerOptions& options, const ModelProfilerHooks& hooks) {
  for (const auto& t : tasks) {
    Device::parse(t.device);  // InvalidArgument names the text
    for (const auto& kv : t.hardware) platform.knob(kv.first);  // NotFound names the knobs there are
  }
  static std::atomic<int> runs{0};
  const std::string label = fmt::format("profiler {}", ++runs);
  const ClaimantId claimant = platform.add_claimant(label);
  Restorer restorer(platform, model, claimant);  // declared before the binding: the binding goes first
  runtime_detail::ModelKnobBinding binding(platform, model, claimant, label);

  Sensor* energy = platform.find_energy_counter();
  std::vector<float> input, logits(static_cast<size_t>(model.num_classes()));
  ProfilerHooks h;
  h.accuracy = hooks.accuracy;
  h.on_progress = hooks.on_progress;
  h.clock = [&platform] { return platform.now(); };
  h.macs = [&model](const Subnet& s) { return model.subnet_info(s).macs; };  // the model's own widths
  h.prepare = [&](const ProfileTask& t) {
    if (Device::parse(t.device) != Device::parse(model.device())) model.set_device(t.device);
    for (const auto& kv : t.hardware) platform.set_knob(claimant, platform.knob(kv.first), kv.second);
    model.set_subnet(t.subnet);
    model.prepare({t.subnet});
    const auto r = static_cast<size_t>(t.subnet.resolution());
    input.assign(3 * r * r, 0.5f);
  };
  h.measure = [&](const ProfileTask& t) {
    Measurement m;
    const std::optional<double> e0 = energy ? energy->try_read() : std::nullopt;
    const double t0 = platform.now();
    model.infer(input.data(), 1, 3, t.subnet.resolution(), t.subnet.resolution(), logits.data(), logits.size());
    m.seconds = platform.now() - t0;
    if (e0) {
      const std::optional<double> e1 = energy->try_read();
      if (e1 && *e1 >= *e0) m.energy_j = *e1 - *e0;
    }
    return m;
  };
  Profiler profiler(options, std::move(h));
  return profiler.run(tasks);
}

}  // namespace dynn
