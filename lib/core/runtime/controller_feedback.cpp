// "feedback": a PI controller on the latency error moving along the levels.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/runtime/controllers_internal.hpp"
#include "dynn/runtime/controllers.hpp"

namespace dynn {

namespace {

using namespace controllers_detail;

class FeedbackController : public Controller {
 public:
  explicit FeedbackController(FeedbackOptions o) : m_o(std::move(o)) {}
  std::string name() const override { return "feedback"; }
  void bind(const ControlContext& ctx) override {
    require_points(ctx, "feedback");
    m_levels = level_order(ctx);
    if (m_o.initial_level >= static_cast<int>(m_levels.size()))
      bad("feedback", fmt::format("initial_level {} is out of range (0..{})", m_o.initial_level, m_levels.size() - 1));
    reset();
  }
  void reset() override {
    m_u = m_o.initial_level >= 0 ? m_o.initial_level : static_cast<double>(m_levels.size() - 1);
    m_e_prev = 0;
  }
  void step(const Observation& obs, Decision& out) override {
    const Targets& t = obs.targets;
    if (t.has_latency() && std::isfinite(obs.last_latency_ms)) {
      double sp = t.latency_ms * (1 - m_o.margin);
      double e = (sp - obs.last_latency_ms) / sp;
      if (obs.last_latency_ms <= t.latency_ms && obs.last_latency_ms >= sp * (1 - m_o.deadband)) e = 0;
      m_u += m_o.kp * (e - m_e_prev) + m_o.ki * e;
      m_e_prev = e;
      double hi = static_cast<double>(m_levels.size() - 1);
      m_u = std::min(hi, std::max(0.0, m_u));  // clamping is the anti-windup
    }
    int l = static_cast<int>(std::floor(m_u + 0.5));
    out.point = m_levels[static_cast<size_t>(l)];
  }
  std::string state_json() const override { return nlohmann::json{{"u", m_u}, {"error", m_e_prev}}.dump(); }

 private:
  FeedbackOptions m_o;
  std::vector<int> m_levels;
  double m_u = 0, m_e_prev = 0;
};

}  // namespace

std::unique_ptr<Controller> make_feedback(const FeedbackOptions& o) { return std::make_unique<FeedbackController>(o); }

}  // namespace dynn
