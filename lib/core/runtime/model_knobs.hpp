// The platform's "threads" and "device" knobs are callback knobs, placeholders until someone binds
// them. ModelKnobBinding makes them drive one model for as long as it lives, so a thread count or
// a placement written through the platform (by a runtime manager, the profiler, a controller)
// reaches the model. One home for this rule: the runtime manager and profile_model use it.
#pragma once

#include <string>
#include <vector>

#include "dynn/model.hpp"
#include "dynn/platform/platform.hpp"

namespace dynn::runtime_detail {

class ModelKnobBinding {
 public:
  // Binds the knobs that exist, are callback knobs and are not bound yet; others are left alone.
  ModelKnobBinding(Platform& platform, DynamicModel& model, ClaimantId owner, const std::string& owner_name);
  ~ModelKnobBinding();  // unbinds (what is still bound by `owner`)
  ModelKnobBinding(const ModelKnobBinding&) = delete;
  ModelKnobBinding& operator=(const ModelKnobBinding&) = delete;

  // Puts back what was changed through the bound knobs while the model can still be reached.
  // Returns the error texts (empty when all went back); never throws.
  std::vector<std::string> restore() noexcept;

  const std::vector<CallbackKnob*>& knobs() const { return m_bound; }

 private:
  ClaimantId m_owner;
  std::vector<CallbackKnob*> m_bound;
};

}  // namespace dynn::runtime_detail
