#include "dynn/platform/sensor.hpp"

#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "dynn/error.hpp"

namespace dynn {

const char* sensor_kind_name(SensorKind k) noexcept { return k == SensorKind::Counter ? "counter" : "instant"; }

Sensor::Sensor(std::string name, std::string unit, SensorKind kind, std::string description)
    : m_name(std::move(name)), m_unit(std::move(unit)), m_description(std::move(description)), m_kind(kind) {
  if (m_name.empty()) throw Error(ErrorCode::InvalidArgument, "sensor name must not be empty");
}

Sensor::~Sensor() = default;

double Sensor::now() const {
  if (m_clock) return m_clock();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double Sensor::read() {
  if (!available()) throw Error(ErrorCode::Unsupported, fmt::format("sensor '{}' is unavailable: {}", m_name, m_unavailable));
  try {
    double v = sample();
    if (!std::isfinite(v))
      throw Error(ErrorCode::Parse, fmt::format("sensor '{}' gave a non-finite value", m_name));
    if (v < m_lo || v > m_hi)
      throw Error(ErrorCode::Parse, fmt::format("sensor '{}' gave {} {}, outside the plausible range {}..{} (garbage?)",
                                                m_name, v, m_unit, m_lo, m_hi));
    if (m_kind == SensorKind::Counter && m_last_value && v < *m_last_value)
      throw Error(ErrorCode::Parse, fmt::format("counter sensor '{}' went backwards: {} -> {} {}", m_name, *m_last_value, v, m_unit));
    const double t = now();
    if (!m_last_value || v != *m_last_value) {
      m_last_value = v;
      m_last_change_time = t;
    } else if (m_stale_after > 0 && t - m_last_change_time > m_stale_after) {
      throw Error(ErrorCode::Io, fmt::format("sensor '{}' is stale: value {} {} unchanged for {:.3g} s (limit {:.3g} s)",
                                             m_name, v, m_unit, t - m_last_change_time, m_stale_after));
    }
    m_failures = 0;
    m_last_error.clear();
    return v;
  } catch (const Error& e) {
    m_last_error = e.what();
    if (++m_failures >= 3) m_unavailable = fmt::format("failed 3 times in a row, last: {}", e.what());
    if (std::string(e.what()).find(m_name) != std::string::npos) throw;
    throw Error(e.code(), fmt::format("sensor '{}': {}", m_name, e.what()));
  }
}

std::optional<double> Sensor::try_read() noexcept {
  try {
    return read();
  } catch (const std::exception& e) {
    m_last_error = e.what();
    return std::nullopt;
  }
}

FunctionSensor::FunctionSensor(std::string name, std::string unit, SensorKind kind, std::string description,
                               std::function<double()> fn)
    : Sensor(std::move(name), std::move(unit), kind, std::move(description)), m_fn(std::move(fn)) {
  if (!m_fn) throw Error(ErrorCode::InvalidArgument, fmt::format("sensor '{}': no function", this->name()));
}

}  // namespace dynn
