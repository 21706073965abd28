// Pareto fronts over any two or three (or more) objectives, for any kind of point.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "dynn/profile/operating_point.hpp"

namespace dynn {

enum class Direction { Minimize, Maximize };

// Generic core: values[i][k] is objective k of point i. Returns the indices of the non-dominated
// points, in input order. A point whose value is NaN for some objective is never on the front
// (it was not measured); points with equal objective vectors are all kept. Throws InvalidArgument
// when the rows differ in length from directions or directions is empty.
std::vector<size_t> pareto_front_indices(const std::vector<std::vector<double>>& values,
                                         const std::vector<Direction>& directions);

// true iff a dominates b (no worse in every objective, strictly better in one).
bool dominates(const std::vector<double>& a, const std::vector<double>& b, const std::vector<Direction>& directions);

// An objective on OperatingPoints: a name, a direction and how to read it (NaN = not available).
struct Objective {
  std::string name;
  Direction direction = Direction::Minimize;
  std::function<double(const OperatingPoint&)> value;

  static Objective latency();      // minimise latency_ms (median)
  static Objective latency_p90();  // minimise latency_p90_ms
  static Objective accuracy();     // maximise accuracy
  static Objective energy();       // minimise energy_mj (NaN where not measured)
  static Objective power();        // minimise power_w (NaN where not measured)
  static Objective macs();         // minimise macs
  // By name: "latency", "latency_p90", "accuracy", "energy", "power", "macs"; throws InvalidArgument.
  static Objective by_name(const std::string& name);
};

// Indices of the Pareto-optimal points of `points` under `objectives` (input order).
std::vector<size_t> pareto_front_indices(const std::vector<OperatingPoint>& points, const std::vector<Objective>& objectives);
// The same, as copies sorted by the first objective (best first).
std::vector<OperatingPoint> pareto_front(const std::vector<OperatingPoint>& points, const std::vector<Objective>& objectives);

// Any type: extract objective vectors with `key` and call the generic core.
template <typename T, typename KeyFn>
std::vector<size_t> pareto_front_indices_of(const std::vector<T>& items, KeyFn key, const std::vector<Direction>& directions) {
  std::vector<std::vector<double>> values;
  values.reserve(items.size());
  for (const auto& it : items) values.push_back(key(it));
  return pareto_front_indices(values, directions);
}

// Picks n indices spread evenly along a front: sorts by `x` (e.g. latency), always keeps the two
// ends, and for each of the n-2 evenly spaced x targets in between the closest unused point.
// Returns indices into `x` in ascending x. Fewer than n points gives all of them.
std::vector<size_t> select_spread(const std::vector<double>& x, size_t n);

}  // namespace dynn
