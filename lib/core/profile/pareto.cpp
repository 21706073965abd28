#include "dynn/profile/pareto.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "dynn/error.hpp"

namespace dynn {

bool dominates(const std::vector<double>& a, const std::vector<double>& b, const std::vector<Direction>& directions) {
  bool strictly = false;
  for (size_t k = 0; k < directions.size(); ++k) {
    // Turn every objective into "smaller is better".
    const double x = directions[k] == Direction::Minimize ? a[k] : -a[k];
    const double y = directions[k] == Direction::Minimize ? b[k] : -b[k];
    if (x > y) return false;
    if (x < y) strictly = true;
  }
  return strictly;
}

std::vector<size_t> pareto_front_indices(const std::vector<std::vector<double>>& values,
                                         const std::vector<Direction>& directions) {
  if (directions.empty()) throw Error(ErrorCode::InvalidArgument, "pareto front: no objectives given");
  std::vector<size_t> cand;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].size() != directions.size())
      throw Error(ErrorCode::InvalidArgument, fmt::format("pareto front: point {} has {} objective values, expected {}", i,
                                                          values[i].size(), directions.size()));
    bool ok = true;
    for (double v : values[i]) ok = ok && !std::isnan(v);
    if (ok) cand.push_back(i);
  }
  // Sort by the first objective (best first, ties by the others) so a point can only be
  // dominated by points before it or equal in the first objective; O(n * front) overall.
  std::vector<size_t> order = cand;
  auto key = [&](size_t i, size_t k) { return directions[k] == Direction::Minimize ? values[i][k] : -values[i][k]; };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    for (size_t k = 0; k < directions.size(); ++k) {
      if (key(a, k) < key(b, k)) return true;
      if (key(a, k) > key(b, k)) return false;
    }
    return false;
  });
  std::vector<size_t> front;
  for (size_t i : order) {
    bool dominated = false;
    for (size_t f : front)
      if (dominates(values[f], values[i], directions)) { dominated = true; break; }
    if (!dominated) front.push_back(i);
  }
  std::sort(front.begin(), front.end());
  return front;
}

namespace {
double nan() { return std::numeric_limits<double>::quiet_NaN(); }
}  // namespace

Objective Objective::latency() { return {"latency", Direction::Minimize, [](const OperatingPoint& p) { return p.latency_ms; }}; }
Objective Objective::latency_p90() {
  return {"latency_p90", Direction::Minimize, [](const OperatingPoint& p) { return p.latency_p90_ms; }};
}
Objective Objective::accuracy() { return {"accuracy", Direction::Maximize, [](const OperatingPoint& p) { return p.accuracy; }}; }
Objective Objective::energy() {
  return {"energy", Direction::Minimize, [](const OperatingPoint& p) { return p.energy_mj ? *p.energy_mj : nan(); }};
}
Objective Objective::power() {
  return {"power", Direction::Minimize, [](const OperatingPoint& p) { return p.power_w ? *p.power_w : nan(); }};
}
Objective Objective::macs() { return {"macs", Direction::Minimize, [](const OperatingPoint& p) { return p.macs; }}; }

Objective Objective::by_name(const std::string& name) {
  if (name == "latency") return latency();
  if (name == "latency_p90") return latency_p90();
  if (name == "accuracy") return accuracy();
  if (name == "energy") return energy();
  if (name == "power") return power();
  if (name == "macs") return macs();
  throw Error(ErrorCode::InvalidArgument,
              fmt::format("unknown objective '{}' (expected latency, latency_p90, accuracy, energy, power, macs)", name));
}

std::vector<size_t> pareto_front_indices(const std::vector<OperatingPoint>& points, const std::vector<Objective>& objectives) {
  if (objectives.empty()) throw Error(ErrorCode::InvalidArgument, "pareto front: no objectives given");
  std::vector<Direction> dirs;
  for (const auto& o : objectives) {
    if (!o.value) throw Error(ErrorCode::InvalidArgument, fmt::format("pareto front: objective '{}' has no value function", o.name));
    dirs.push_back(o.direction);
  }
  return pareto_front_indices_of(
      points,
      [&](const OperatingPoint& p) {
        std::vector<double> v;
        for (const auto& o : objectives) v.push_back(o.value(p));
        return v;
      },
      dirs);
}

std::vector<OperatingPoint> pareto_front(const std::vector<OperatingPoint>& points, const std::vector<Objective>& objectives) {
  auto idx = pareto_front_indices(points, objectives);
  const Objective& first = objectives.front();
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    const double x = first.value(points[a]), y = first.value(points[b]);
    return first.direction == Direction::Minimize ? x < y : x > y;
  });
  std::vector<OperatingPoint> out;
  out.reserve(idx.size());
  for (size_t i : idx) out.push_back(points[i]);
  return out;
}

std::vector<size_t> select_spread(const std::vector<double>& x, size_t n) {
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), size_t{0});
  for (size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i])) throw Error(ErrorCode::InvalidArgument, fmt::format("select_spread: x[{}] = {} is not finite", i, x[i]));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  if (n == 0) return {};
  if (order.size() <= n) return order;
  if (n == 1) return {order.back()};
  const double lo = x[order.front()], hi = x[order.back()];
  std::vector<bool> used(order.size(), false);
  std::vector<size_t> pick;
  used.front() = used.back() = true;
  for (size_t t = 1; t + 1 < n; ++t) {
    const double target = lo + (hi - lo) * static_cast<double>(t) / static_cast<double>(n - 1);
    size_t best = order.size();
    double best_d = std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < order.size(); ++j) {
      if (used[j]) continue;
      const double d = std::fabs(x[order[j]] - target);
      if (d < best_d) { best_d = d; best = j; }
    }
    used[best] = true;
  }
  for (size_t j = 0; j < order.size(); ++j)
    if (used[j]) pick.push_back(order[j]);
  return pick;
}

}  // namespace dynn
