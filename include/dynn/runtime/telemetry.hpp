// Telemetry: one row per inference step (time, latency, target, operating point, knob values,
// power, energy, temperature), written as CSV and JSON and drawn as an SVG plot without any
// plotting dependency. Also the small SVG chart writer the benchmarks use.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <vector>

namespace dynn {

struct TelemetryRow {
  uint64_t step = 0;
  double time_s = 0;            // start of the inference (platform time)
  double latency_ms = 0;
  double target_latency_ms = 0;  // 0 = none
  double target_accuracy = 0;
  double target_power_w = 0;
  int point = -1;                // operating point index
  int level = -1;                // its level (-1 = none)
  double accuracy = 0;           // the point's accuracy
  double power_w = std::numeric_limits<double>::quiet_NaN();
  double energy_mj = std::numeric_limits<double>::quiet_NaN();
  double temperature_c = std::numeric_limits<double>::quiet_NaN();
  double overhead_us = 0;        // manager time around the inference (decide + apply + measure)
  bool met() const { return target_latency_ms <= 0 || latency_ms <= target_latency_ms; }
};

struct TelemetrySummary {
  size_t count = 0;
  double within_target = 1;      // share of steps with latency <= target (steps with a target)
  size_t misses = 0;
  double mean_accuracy = 0;
  double mean_latency_ms = 0, p50_latency_ms = 0, p99_latency_ms = 0, max_latency_ms = 0;
  double mean_energy_mj = std::numeric_limits<double>::quiet_NaN();
  double mean_power_w = std::numeric_limits<double>::quiet_NaN();
  size_t switches = 0;           // point changes
  std::string to_string() const;
};

class Telemetry {
 public:
  // knob_columns: the knobs whose values each row records (in this order).
  // knob_units: aligned with knob_columns (or empty); the plot draws the frequency knobs among them.
  explicit Telemetry(std::vector<std::string> knob_columns = {}, std::vector<std::string> point_ids = {},
                     std::vector<std::string> knob_units = {});

  const std::vector<std::string>& knob_columns() const { return m_knobs; }
  const std::vector<std::string>& point_ids() const { return m_points; }
  void set_point_ids(std::vector<std::string> ids) { m_points = std::move(ids); }
  void reserve(size_t rows);
  // knob_values: knob_columns().size() values (missing ones are written as empty).
  void add(const TelemetryRow& row, const int64_t* knob_values);
  void clear();

  size_t size() const { return m_rows.size(); }
  const std::vector<TelemetryRow>& rows() const { return m_rows; }
  int64_t knob_value(size_t row, size_t column) const { return m_knob_values[row * m_knobs.size() + column]; }

  // Summary over rows [begin, end) (end = npos: to the last).
  TelemetrySummary summary(size_t begin = 0, size_t end = static_cast<size_t>(-1)) const;

  // Files; throw Io naming the path when it cannot be written.
  std::string to_csv() const;
  std::string to_json() const;
  void write_csv(const std::string& path) const;
  void write_json(const std::string& path) const;
  // Four panels against time: latency and its target, level (or point), frequencies (MHz), power.
  std::string to_svg(const std::string& title = "dynn telemetry") const;
  void write_svg(const std::string& path, const std::string& title = "dynn telemetry") const;

 private:
  std::vector<std::string> m_knobs, m_points, m_units;
  std::vector<TelemetryRow> m_rows;
  std::vector<int64_t> m_knob_values;  // row-major, m_knobs.size() per row
};

// A minimal SVG chart: stacked panels sharing the x axis, each with line / step / dot series.
class SvgChart {
 public:
  enum class Style { Line, Step, Dots, Bars };
  struct Series {
    std::string label;
    std::vector<double> x, y;
    Style style = Style::Line;
    std::string color;  // "" = palette
  };
  struct Panel {
    std::string ylabel;
    std::vector<Series> series;
    double ymin = std::numeric_limits<double>::quiet_NaN();  // NaN = from the data
    double ymax = std::numeric_limits<double>::quiet_NaN();
    std::vector<std::string> categories;  // Bars: x = category index, labels under the axis
  };

  SvgChart(std::string title, std::string xlabel, int width = 960, int panel_height = 170);
  Panel& add_panel(const std::string& ylabel);
  std::string render() const;
  void write(const std::string& path) const;  // Io naming the path on failure

 private:
  std::string m_title, m_xlabel;
  int m_width, m_panel_height;
  std::deque<Panel> m_panels;  // deque: references from add_panel() stay valid
};

// Writes text to a file (truncating); throws Error(Io) naming the path.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace dynn
