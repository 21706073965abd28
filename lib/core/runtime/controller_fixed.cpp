// "fixed": one operating point and fixed knob values.
#include "core/runtime/controllers_internal.hpp"
#include "dynn/runtime/controllers.hpp"

namespace dynn {

namespace {

using namespace controllers_detail;

class FixedController : public Controller {
 public:
  explicit FixedController(FixedOptions o) : m_o(std::move(o)) {}
  std::string name() const override { return "fixed"; }
  void bind(const ControlContext& ctx) override {
    m_point = resolve_point(m_o.point, ctx, "fixed");
    for (const auto& kv : m_o.hardware) require_knob(ctx, kv.first, "fixed");
  }
  void step(const Observation&, Decision& out) override {
    out.point = m_point;
    for (const auto& kv : m_o.hardware) out.hardware[kv.first] = kv.second;
  }

 private:
  FixedOptions m_o;
  int m_point = 0;
};

}  // namespace

std::unique_ptr<Controller> make_fixed(const FixedOptions& o) { return std::make_unique<FixedController>(o); }

}  // namespace dynn
