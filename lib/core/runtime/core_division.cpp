#include "core/runtime/core_division.hpp"

#include <algorithm>
#include <cmath>

namespace dynn::runtime_detail {

std::vector<uint64_t> divide_cores(const std::vector<int>& cpus, const std::vector<CoreShare>& shares) {
  const int total = static_cast<int>(cpus.size());
  const int apps = static_cast<int>(shares.size());
  int need = 0;
  for (const auto& s : shares) need += s.min_cores;
  if (apps == 0 || total < need) return {};
  std::vector<int> count(shares.size());
  const bool first = std::all_of(shares.begin(), shares.end(), [](const CoreShare& s) { return s.mask == 0; });
  if (first) {
    for (int i = 0; i < apps; ++i) count[static_cast<size_t>(i)] = total / apps;
    for (int r = 0; r < total % apps; ++r) ++count[static_cast<size_t>(r)];
  } else {
    for (size_t i = 0; i < shares.size(); ++i) count[i] = popcount64(shares[i].mask);
    int hungry = -1, donor = -1;
    double worst = -INFINITY, best = INFINITY;
    for (size_t i = 0; i < shares.size(); ++i) {
      if (shares[i].slack_n == 0) continue;
      const double s = shares[i].slack_sum / shares[i].slack_n;  // mean latency / target
      if (s > worst) worst = s, hungry = static_cast<int>(i);
      if (s < best) best = s, donor = static_cast<int>(i);
    }
    if (hungry >= 0 && donor >= 0 && hungry != donor && worst > 0.95 && best < 0.85 &&
        count[static_cast<size_t>(donor)] > shares[static_cast<size_t>(donor)].min_cores) {
      --count[static_cast<size_t>(donor)];
      ++count[static_cast<size_t>(hungry)];
    }
  }
  std::vector<uint64_t> masks(shares.size(), 0);
  size_t at = 0;
  for (size_t i = 0; i < shares.size(); ++i)
    for (int k = 0; k < count[i] && at < cpus.size(); ++k) masks[i] |= uint64_t{1} << cpus[at++];
  return masks;
}

}  // namespace dynn::runtime_detail
