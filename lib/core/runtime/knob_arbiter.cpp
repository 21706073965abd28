#include "core/runtime/knob_arbiter.hpp"

#include <algorithm>

#include "dynn/platform/knob.hpp"

namespace dynn::runtime_detail {

int64_t KnobArbiter::request(int app, const Knob& knob, int64_t value) {
  auto& requests = m_requests[&knob];
  auto mine = std::find_if(requests.begin(), requests.end(), [&](const Request& r) { return r.app == app; });
  if (mine == requests.end())
    requests.push_back({app, value});
  else
    mine->value = value;
  if (!is_frequency_unit(knob.unit())) return value;
  int64_t highest = value;
  for (const auto& r : requests) highest = std::max(highest, r.value);
  return highest;
}

void KnobArbiter::write(Knob& knob, int64_t value) {
  auto w = m_written.find(&knob);
  if (w != m_written.end() && w->second.value == value && w->second.writes == knob.write_count()) return;
  m_platform.set_knob(m_claimant, knob, value);
  m_written[&knob] = {value, knob.write_count()};
}

}  // namespace dynn::runtime_detail
