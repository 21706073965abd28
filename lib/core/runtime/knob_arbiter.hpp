// Knob arbitration of one runtime manager, apart from its bookkeeping so the rule is tested on its
// own: what a knob that several apps ask for is set to, and writing it only when that changes
// something. Not thread-safe: the manager calls it under its lock.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "dynn/platform/platform.hpp"

namespace dynn::runtime_detail {

class KnobArbiter {
 public:
  KnobArbiter(Platform& platform, ClaimantId claimant) : m_platform(platform), m_claimant(claimant) {}

  // Records app `app`'s request `value` for `knob` and returns the value the knob gets. A frequency
  // knob (by its unit: one clock domain for every app on it) gets the highest request of all apps,
  // so none is slowed below what it asked for; any other knob gets this app's own request.
  int64_t request(int app, const Knob& knob, int64_t value);

  // Writes `value` to `knob` through the platform under the manager's claim, unless the knob holds
  // what this arbiter last wrote and nobody wrote it since (another manager, a restore, the
  // application): then the write is skipped. Platform errors propagate.
  void write(Knob& knob, int64_t value);

 private:
  struct Request {
    int app;
    int64_t value;
  };
  struct Written {
    int64_t value;
    uint64_t writes;  // the knob's write_count() right after: another count = someone else wrote
  };
  Platform& m_platform;
  ClaimantId m_claimant;
  std::unordered_map<const Knob*, std::vector<Request>> m_requests;
  std::unordered_map<const Knob*, Written> m_written;
};

}  // namespace dynn::runtime_detail
