// Sensors: what a Platform lets dynn measure (power, energy, temperature, frequency, load).
//
// Units are fixed per quantity so controllers can mix backends: power W, energy J, temperature
// degC, frequency MHz, utilisation %. An Instant sensor gives the value now (or averaged over the
// sensor's own window); a Counter only grows (energy), so callers take differences.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace dynn {

enum class SensorKind { Instant, Counter };
const char* sensor_kind_name(SensorKind k) noexcept;  // "instant" / "counter"

class Sensor {
 public:
  virtual ~Sensor();
  Sensor(const Sensor&) = delete;
  Sensor& operator=(const Sensor&) = delete;

  const std::string& name() const { return m_name; }
  const std::string& unit() const { return m_unit; }
  SensorKind kind() const { return m_kind; }
  const std::string& description() const { return m_description; }

  bool available() const { return m_unavailable.empty(); }
  const std::string& unavailable_reason() const { return m_unavailable; }

  // One reading in the sensor's unit. Throws dynn::Error naming the sensor: Unsupported when it
  // is unavailable; Io/Parse/PermissionDenied when the backend fails or gives garbage (non-number,
  // outside the plausible range, a counter going backwards); Io "stale" when the value has not
  // changed for longer than stale_after(). After 3 failures in a row the sensor is marked
  // unavailable, so a broken sensor stops costing time.
  double read();
  // read() that returns nullopt instead of throwing; the error text goes to last_error().
  std::optional<double> try_read() noexcept;
  const std::string& last_error() const { return m_last_error; }

  // Seconds (platform time) an unchanged value is accepted; 0 disables the check.
  double stale_after() const { return m_stale_after; }
  void set_stale_after(double seconds) { m_stale_after = seconds; }
  // Plausible range; a reading outside it is reported as garbage.
  void set_plausible_range(double lo, double hi) { m_lo = lo; m_hi = hi; }

 protected:
  Sensor(std::string name, std::string unit, SensorKind kind, std::string description);
  // Backend: one raw reading in the sensor unit. Throw dynn::Error on failure.
  virtual double sample() = 0;
  void mark_unavailable(const std::string& reason) { m_unavailable = reason; }
  double now() const;

 private:
  friend class Platform;
  std::string m_name, m_unit, m_description;
  SensorKind m_kind;
  std::string m_unavailable, m_last_error;
  double m_stale_after = 0;
  double m_lo = -1e300, m_hi = 1e300;
  std::optional<double> m_last_value;
  double m_last_change_time = 0;
  int m_failures = 0;
  std::function<double()> m_clock;  // set by Platform::add_sensor; steady clock otherwise
};

// A sensor computed by a function (derived totals, simulator readings).
class FunctionSensor : public Sensor {
 public:
  FunctionSensor(std::string name, std::string unit, SensorKind kind, std::string description,
                 std::function<double()> fn);

 protected:
  double sample() override { return m_fn(); }

 private:
  std::function<double()> m_fn;
};

}  // namespace dynn
