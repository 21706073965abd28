#include "dynn/runtime/telemetry.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/io/file.hpp"
#include "dynn/error.hpp"
#include "dynn/platform/knob.hpp"

namespace dynn {

void write_text_file(const std::string& path, const std::string& text) { io::write_file(path, text, "telemetry"); }

namespace {
constexpr int64_t kNoValue = std::numeric_limits<int64_t>::min();

std::string num(double v) {
  if (!std::isfinite(v)) return "";
  return fmt::format("{:.6g}", v);
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  double pos = q * static_cast<double>(v.size() - 1);
  size_t i = static_cast<size_t>(pos);
  double f = pos - static_cast<double>(i);
  return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

}  // namespace

std::string TelemetrySummary::to_string() const {
  return fmt::format("{} steps, {:.2f}% within target ({} misses), mean accuracy {:.3f}%, latency mean {:.2f} p50 {:.2f} p99 {:.2f} max {:.2f} ms, "
                     "energy {:.1f} mJ, power {:.2f} W, {} switches",
                     count, within_target * 100, misses, mean_accuracy * 100, mean_latency_ms, p50_latency_ms, p99_latency_ms,
                     max_latency_ms, mean_energy_mj, mean_power_w, switches);
}

Telemetry::Telemetry(std::vector<std::string> knob_columns, std::vector<std::string> point_ids,
                     std::vector<std::string> knob_units)
    : m_knobs(std::move(knob_columns)), m_points(std::move(point_ids)), m_units(std::move(knob_units)) {
  if (!m_units.empty() && m_units.size() != m_knobs.size())
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("telemetry: {} knob units for {} knob columns", m_units.size(), m_knobs.size()));
}

void Telemetry::reserve(size_t rows) {
  m_rows.reserve(rows);
  m_knob_values.reserve(rows * m_knobs.size());
}

void Telemetry::add(const TelemetryRow& row, const int64_t* knob_values) {
  m_rows.push_back(row);
  for (size_t i = 0; i < m_knobs.size(); ++i) m_knob_values.push_back(knob_values ? knob_values[i] : kNoValue);
}

void Telemetry::clear() {
  m_rows.clear();
  m_knob_values.clear();
}

TelemetrySummary Telemetry::summary(size_t begin, size_t end) const {
  TelemetrySummary s;
  end = std::min(end, m_rows.size());
  if (begin >= end) return s;
  std::vector<double> lat;
  size_t with_target = 0, e_n = 0, p_n = 0;
  double acc = 0, e = 0, p = 0;
  for (size_t i = begin; i < end; ++i) {
    const auto& r = m_rows[i];
    lat.push_back(r.latency_ms);
    acc += r.accuracy;
    if (r.target_latency_ms > 0) {
      ++with_target;
      if (!r.met()) ++s.misses;
    }
    if (std::isfinite(r.energy_mj)) e += r.energy_mj, ++e_n;
    if (std::isfinite(r.power_w)) p += r.power_w, ++p_n;
    if (i > begin && r.point != m_rows[i - 1].point) ++s.switches;
  }
  s.count = end - begin;
  s.within_target = with_target ? 1.0 - static_cast<double>(s.misses) / static_cast<double>(with_target) : 1.0;
  s.mean_accuracy = acc / static_cast<double>(s.count);
  double sum = 0;
  for (double v : lat) sum += v;
  s.mean_latency_ms = sum / static_cast<double>(lat.size());
  s.p50_latency_ms = percentile(lat, 0.5);
  s.p99_latency_ms = percentile(lat, 0.99);
  s.max_latency_ms = *std::max_element(lat.begin(), lat.end());
  if (e_n) s.mean_energy_mj = e / static_cast<double>(e_n);
  if (p_n) s.mean_power_w = p / static_cast<double>(p_n);
  return s;
}

std::string Telemetry::to_csv() const {
  std::string o = "step,time_s,latency_ms,target_latency_ms,target_accuracy,target_power_w,point,point_id,level,accuracy,power_w,energy_mj,temperature_c,overhead_us";
  for (const auto& k : m_knobs) o += "," + k;
  o += "\n";
  for (size_t i = 0; i < m_rows.size(); ++i) {
    const auto& r = m_rows[i];
    std::string id = r.point >= 0 && static_cast<size_t>(r.point) < m_points.size() ? m_points[static_cast<size_t>(r.point)] : "";
    o += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{}", r.step, num(r.time_s), num(r.latency_ms), num(r.target_latency_ms),
                     num(r.target_accuracy), num(r.target_power_w), r.point, id, r.level, num(r.accuracy), num(r.power_w),
                     num(r.energy_mj), num(r.temperature_c), num(r.overhead_us));
    for (size_t k = 0; k < m_knobs.size(); ++k) {
      int64_t v = knob_value(i, k);
      o += v == kNoValue ? std::string(",") : fmt::format(",{}", v);
    }
    o += "\n";
  }
  return o;
}

std::string Telemetry::to_json() const {
  auto jnum = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json rows = nlohmann::json::array();
  for (size_t i = 0; i < m_rows.size(); ++i) {
    const auto& r = m_rows[i];
    nlohmann::json knobs = nlohmann::json::object();
    for (size_t k = 0; k < m_knobs.size(); ++k) {
      int64_t v = knob_value(i, k);
      knobs[m_knobs[k]] = v == kNoValue ? nlohmann::json(nullptr) : nlohmann::json(v);
    }
    rows.push_back({{"step", r.step},
                    {"time_s", r.time_s},
                    {"latency_ms", jnum(r.latency_ms)},
                    {"target_latency_ms", r.target_latency_ms},
                    {"target_accuracy", r.target_accuracy},
                    {"target_power_w", r.target_power_w},
                    {"point", r.point},
                    {"point_id", r.point >= 0 && static_cast<size_t>(r.point) < m_points.size() ? m_points[static_cast<size_t>(r.point)] : ""},
                    {"level", r.level},
                    {"accuracy", r.accuracy},
                    {"power_w", jnum(r.power_w)},
                    {"energy_mj", jnum(r.energy_mj)},
                    {"temperature_c", jnum(r.temperature_c)},
                    {"overhead_us", jnum(r.overhead_us)},
                    {"knobs", knobs}});
  }
  nlohmann::json j = {{"format", "dynn-telemetry"}, {"version", 1}, {"knobs", m_knobs}, {"points", m_points}, {"rows", rows}};
  return j.dump(1);
}

void Telemetry::write_csv(const std::string& path) const { write_text_file(path, to_csv()); }
void Telemetry::write_json(const std::string& path) const { write_text_file(path, to_json()); }

std::string Telemetry::to_svg(const std::string& title) const {
  // Time from the first inference (a platform clock may start anywhere); panels only for series
  // with data, so a machine without power sensors or DVFS shows no empty frame.
  SvgChart chart(title, "time since start (s)");
  std::vector<double> t;
  const double t0 = m_rows.empty() ? 0 : m_rows.front().time_s;
  for (const auto& r : m_rows) t.push_back(r.time_s - t0);
  auto any_finite = [](const std::vector<double>& v) { return std::any_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); }); };
  // A knob column as numbers (NaN where the row has none), through `to`.
  auto knob_series = [&](size_t k, const std::string& name, const std::function<double(int64_t)>& to) {
    SvgChart::Series s{name, t, {}, SvgChart::Style::Step, ""};
    for (size_t i = 0; i < m_rows.size(); ++i) {
      const int64_t v = knob_value(i, k);
      s.y.push_back(v == kNoValue ? NAN : to(v));
    }
    return s;
  };
  auto unit_of = [&](size_t k) { return k < m_units.size() ? m_units[k] : std::string(); };
  {
    auto& p = chart.add_panel("latency (ms)");
    SvgChart::Series lat{"latency", t, {}, SvgChart::Style::Dots, ""};
    SvgChart::Series tgt{"target", t, {}, SvgChart::Style::Step, "#d62728"};
    for (const auto& r : m_rows) {
      lat.y.push_back(r.latency_ms);
      tgt.y.push_back(r.target_latency_ms > 0 ? r.target_latency_ms : NAN);
    }
    p.series.push_back(std::move(lat));
    if (any_finite(tgt.y)) p.series.push_back(std::move(tgt));
    p.ymin = 0;
  }
  {
    bool levels = std::any_of(m_rows.begin(), m_rows.end(), [](const TelemetryRow& r) { return r.level >= 0; });
    // Points without a level among leveled ones (those the manager's search adds) sit at -1.
    bool unleveled = levels && std::any_of(m_rows.begin(), m_rows.end(), [](const TelemetryRow& r) { return r.level < 0; });
    auto& p = chart.add_panel(!levels ? "operating point (index)" : unleveled ? "level (-1: none, e.g. found by search)" : "level");
    SvgChart::Series s{levels ? "level" : "point", t, {}, SvgChart::Style::Step, ""};
    for (const auto& r : m_rows) s.y.push_back(levels ? r.level : r.point);
    p.series.push_back(std::move(s));
  }
  {
    // The model's knobs: thread count, CPUs of the affinity mask, device (-1 = CPU, N = GPU N).
    std::vector<SvgChart::Series> series;
    for (size_t k = 0; k < m_knobs.size(); ++k) {
      const std::string unit = unit_of(k);
      if (unit == "threads") series.push_back(knob_series(k, m_knobs[k], [](int64_t v) { return static_cast<double>(v); }));
      if (unit == "cpumask")
        series.push_back(knob_series(k, m_knobs[k] + " (CPUs)", [](int64_t v) {
          int n = 0;
          for (uint64_t m = static_cast<uint64_t>(v); m; m &= m - 1) ++n;
          return static_cast<double>(n);
        }));
      if (unit == "device") series.push_back(knob_series(k, m_knobs[k] + " (-1 = CPU)", [](int64_t v) { return static_cast<double>(v); }));
    }
    series.erase(std::remove_if(series.begin(), series.end(), [&](const SvgChart::Series& s) { return !any_finite(s.y); }), series.end());
    if (!series.empty()) {
      auto& p = chart.add_panel("threads / CPUs / device");
      p.series = std::move(series);
    }
  }
  {
    std::vector<SvgChart::Series> series;
    for (size_t k = 0; k < m_knobs.size(); ++k) {
      const std::string unit = unit_of(k);
      if (!is_frequency_unit(unit)) continue;
      auto s = knob_series(k, m_knobs[k], [&unit](int64_t v) { return frequency_mhz(v, unit); });
      if (any_finite(s.y)) series.push_back(std::move(s));
    }
    if (!series.empty()) {
      auto& p = chart.add_panel("frequency (MHz)");
      p.series = std::move(series);
      p.ymin = 0;
    }
  }
  {
    SvgChart::Series s{"power", t, {}, SvgChart::Style::Line, ""};
    for (const auto& r : m_rows) s.y.push_back(r.power_w);
    if (any_finite(s.y)) {
      auto& p = chart.add_panel("power (W)");
      p.series.push_back(std::move(s));
      p.ymin = 0;
    }
  }
  return chart.render();
}

void Telemetry::write_svg(const std::string& path, const std::string& title) const { write_text_file(path, to_svg(title)); }

// ------------------------------------------------------------------------------------------ SVG

SvgChart::SvgChart(std::string title, std::string xlabel, int width, int panel_height)
    : m_title(std::move(title)), m_xlabel(std::move(xlabel)), m_width(width), m_panel_height(panel_height) {}

SvgChart::Panel& SvgChart::add_panel(const std::string& ylabel) {
  m_panels.emplace_back();
  m_panels.back().ylabel = ylabel;
  return m_panels.back();
}

void SvgChart::write(const std::string& path) const { write_text_file(path, render()); }

namespace {
// "Nice" tick step for a range.
double tick_step(double range, int target) {
  if (!(range > 0)) return 1;
  double raw = range / target;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / mag;
  double nice = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  return nice * mag;
}
const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
}  // namespace

std::string SvgChart::render() const {
  const int left = 70, right = 170, top = 40, gap = 36, bottom = 46;
  int ph = m_panel_height;
  int n = static_cast<int>(m_panels.size());
  int height = top + n * ph + (n > 0 ? (n - 1) * gap : 0) + bottom;
  int pw = m_width - left - right;
  std::string o = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" font-size=\"11\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n",
      m_width, height, m_width, height, m_width / 2, xml_escape(m_title));
  // Shared x range.
  double x0 = INFINITY, x1 = -INFINITY;
  for (const auto& p : m_panels)
    for (const auto& s : p.series)
      for (double x : s.x)
        if (std::isfinite(x)) x0 = std::min(x0, x), x1 = std::max(x1, x);
  bool bars = !m_panels.empty() && !m_panels.front().categories.empty();
  if (bars) x0 = -0.5, x1 = static_cast<double>(m_panels.front().categories.size()) - 0.5;
  if (!std::isfinite(x0)) x0 = 0, x1 = 1;
  if (x1 <= x0) x1 = x0 + 1;
  auto X = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  for (int pi = 0; pi < n; ++pi) {
    const Panel& p = m_panels[static_cast<size_t>(pi)];
    int y_top = top + pi * (ph + gap);
    double y0 = INFINITY, y1 = -INFINITY;
    for (const auto& s : p.series)
      for (double y : s.y)
        if (std::isfinite(y)) y0 = std::min(y0, y), y1 = std::max(y1, y);
    if (!std::isfinite(y0)) y0 = 0, y1 = 1;
    if (std::isfinite(p.ymin)) y0 = p.ymin;
    if (std::isfinite(p.ymax)) y1 = p.ymax;
    if (y1 <= y0) y1 = y0 + 1;
    y1 += (y1 - y0) * 0.05;
    auto Y = [&](double y) { return y_top + ph - (y - y0) / (y1 - y0) * ph; };
    o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n", left, y_top, pw, ph);
    double ys = tick_step(y1 - y0, 4);
    for (double y = std::ceil(y0 / ys) * ys; y <= y1 + 1e-9; y += ys) {
      if (std::fabs(y) < ys * 1e-9) y = 0;  // no "-0" from accumulated steps
      o += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:g}</text>\n",
                       left, left + pw, Y(y), Y(y), left - 5, Y(y) + 4, y);
    }
    o += fmt::format("<text x=\"16\" y=\"{}\" transform=\"rotate(-90 16 {})\" text-anchor=\"middle\">{}</text>\n", y_top + ph / 2,
                     y_top + ph / 2, xml_escape(p.ylabel));
    if (pi == n - 1 || bars) {
      if (!p.categories.empty()) {
        for (size_t c = 0; c < p.categories.size(); ++c)
          o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", X(static_cast<double>(c)), y_top + ph + 14,
                           xml_escape(p.categories[c]));
      } else if (pi == n - 1) {
        double xs = tick_step(x1 - x0, 8);
        for (double x = std::ceil(x0 / xs) * xs; x <= x1 + 1e-9; x += xs) {
          if (std::fabs(x) < xs * 1e-9) x = 0;
          o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{:g}</text>\n", X(x), y_top + ph + 14, x);
        }
        o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", left + pw / 2, y_top + ph + 32, xml_escape(m_xlabel));
      }
    }
    int legend_y = y_top + 12;
    size_t ns = p.series.size();
    for (size_t si = 0; si < ns; ++si) {
      const Series& s = p.series[si];
      std::string color = s.color.empty() ? kPalette[si % 9] : s.color;
      o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>\n", left + pw + 10,
                       legend_y - 9, color, left + pw + 24, legend_y, xml_escape(s.label));
      legend_y += 15;
      size_t m = std::min(s.x.size(), s.y.size());
      if (s.style == Style::Bars) {
        double bw = pw / (x1 - x0) * 0.8 / static_cast<double>(ns);
        for (size_t i = 0; i < m; ++i) {
          if (!std::isfinite(s.y[i])) continue;
          double xc = X(s.x[i]) - 0.4 * pw / (x1 - x0) + bw * static_cast<double>(si);
          double yt = Y(std::max(s.y[i], y0)), yb = Y(y0);
          o += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"/>\n", xc, yt, bw, yb - yt, color);
        }
        continue;
      }
      if (s.style == Style::Dots) {
        // Thin out very long series so the file stays small.
        // Zero-length segments with round caps: a dot each, a dozen bytes per point.
        size_t stride = std::max<size_t>(1, m / 4000);
        std::string d;
        for (size_t i = 0; i < m; i += stride)
          if (std::isfinite(s.y[i]) && std::isfinite(s.x[i]))
            d += fmt::format("M{:.1f},{:.1f}h0", X(s.x[i]), Y(std::min(std::max(s.y[i], y0), y1)));
        if (!d.empty())
          o += fmt::format("<path d=\"{}\" stroke=\"{}\" stroke-width=\"2.6\" stroke-linecap=\"round\" fill=\"none\"/>\n", d, color);
        continue;
      }
      std::string path;
      bool pen = false;
      double prev_y = NAN;
      size_t stride = s.style == Style::Step ? 1 : std::max<size_t>(1, m / 3000);
      for (size_t i = 0; i < m; i += stride) {
        double x = s.x[i], y = s.y[i];
        if (!std::isfinite(x) || !std::isfinite(y)) {
          pen = false;
          continue;
        }
        // A step series only needs a vertex where the value changes (and the last one).
        if (pen && s.style == Style::Step && i + 1 < m && std::isfinite(s.y[i + 1]) && y == s.y[i - 1] && y == s.y[i + 1]) continue;
        double yy = Y(std::min(std::max(y, y0), y1));
        if (!pen) {
          path += fmt::format("M{:.1f},{:.1f}", X(x), yy);
          pen = true;
        } else if (s.style == Style::Step) {
          path += fmt::format("H{:.1f}V{:.1f}", X(x), yy);
        } else {
          path += fmt::format("L{:.1f},{:.1f}", X(x), yy);
        }
        prev_y = yy;
      }
      (void)prev_y;
      if (!path.empty())
        o += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.4\"/>\n", path, color);
    }
  }
  o += "</svg>\n";
  return o;
}

}  // namespace dynn
