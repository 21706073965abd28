// The online latency correction of "pareto" and "energy", per device (controllers_internal.hpp).
#include <algorithm>
#include <cmath>

#include "core/runtime/controllers_internal.hpp"

namespace dynn::controllers_detail {

size_t DeviceCorrection::bind(const std::vector<OperatingPoint>& points) {
  std::vector<std::string> devices;
  dev.clear();
  for (const auto& p : points) {
    auto d = std::find(devices.begin(), devices.end(), p.device);
    dev.push_back(static_cast<int>(d - devices.begin()));
    if (d == devices.end()) devices.push_back(p.device);
  }
  g.assign(devices.size(), 1.0);
  var.assign(devices.size(), 0.0);
  return devices.size();
}

void DeviceCorrection::reset() {
  std::fill(g.begin(), g.end(), 1.0);
  std::fill(var.begin(), var.end(), 0.0);
}

void DeviceCorrection::relax_idle(int point, double rate, std::vector<double>& v) const {
  if (v.size() < 2) return;
  const size_t used = valid(point) ? device(point) : v.size();
  for (size_t d = 0; d < v.size(); ++d)
    if (d != used) v[d] += rate * (1.0 - v[d]);
}

void DeviceCorrection::observe(int point, double measured, double pred, double jitter_k, double gain_up, double gain_down) {
  if (!valid(point) || !std::isfinite(measured) || !(pred > 0)) return;
  const size_t d = device(point);
  const double r = measured / (pred * g[d]) - 1;  // residual against the prediction in force: the jitter
  follow(g[d], measured, pred, jitter_k * std::sqrt(var[d]), gain_up, gain_down);
  // Capped: a step change is not jitter, and an outlier counts as at most 16x the variance in
  // force (at least 2 %^2), so one raises the estimate at most 1.75x: a lone 3x inference does not
  // widen the margin for the next 20 steps, while a real rise in the jitter is still tracked
  // within ~10.
  var[d] += 0.05 * (std::min({r * r, 0.04, std::max(16 * var[d], 0.0004)}) - var[d]);
}

double DeviceCorrection::budget(size_t d, const Targets& t, double margin, double jitter_k) const {
  const double m = std::min(0.5, std::max(margin, jitter_k * std::sqrt(var[d])));
  return t.has_latency() ? t.latency_ms * (1 - m) : INFINITY;
}

nlohmann::json DeviceCorrection::per_device(const std::vector<double>& v) {
  return v.size() == 1 ? nlohmann::json(v[0]) : nlohmann::json(v);
}

}  // namespace dynn::controllers_detail
