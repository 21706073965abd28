#include "core/runtime/model_knobs.hpp"

#include "dynn/device.hpp"
#include "dynn/platform/knob.hpp"

namespace dynn::runtime_detail {

ModelKnobBinding::ModelKnobBinding(Platform& platform, DynamicModel& model, ClaimantId owner, const std::string& owner_name)
    : m_owner(owner) {
  DynamicModel* m = &model;
  auto bind = [&](const char* name, std::function<int64_t()> get, std::function<void(int64_t)> set) {
    auto* cb = dynamic_cast<CallbackKnob*>(platform.find_knob(name));
    if (!cb || cb->bound()) return;
    cb->bind(std::move(get), std::move(set), owner, owner_name);
    m_bound.push_back(cb);
  };
  bind("threads", [m] { return static_cast<int64_t>(m->num_threads()); }, [m](int64_t v) { m->set_num_threads(static_cast<int>(v)); });
  bind("device", [m] { return Device::parse(m->device()).knob_value(); },
       [m](int64_t v) { m->set_device(Device::from_knob_value(v).to_string()); });
}

ModelKnobBinding::~ModelKnobBinding() {
  for (CallbackKnob* cb : m_bound)
    if (cb->bound_by() == m_owner) cb->unbind();
}

std::vector<std::string> ModelKnobBinding::restore() noexcept {
  std::vector<std::string> errors;
  for (CallbackKnob* cb : m_bound) {
    if (cb->bound_by() != m_owner) continue;
    try {
      cb->restore();
    } catch (const std::exception& e) {
      errors.emplace_back(e.what());
    }
  }
  return errors;
}

}  // namespace dynn::runtime_detail
