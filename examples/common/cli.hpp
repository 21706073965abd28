// Small helpers shared by the ImageNet example binaries: option parsing, a progress bar, tables,
// where ../shared is, and building the supernet and its sub-networks from options.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dynn/error.hpp"

namespace demo {

// --key value / --flag options and positional arguments. Unknown options are an error naming them.
struct Args {
  std::map<std::string, std::vector<std::string>> opts;
  std::vector<std::string> positional;

  Args(int argc, char** argv, const std::set<std::string>& with_value, const std::set<std::string>& flags) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h") a = "--help";
      if (a.rfind("--", 0) != 0 || a.size() == 2) {
        positional.push_back(a);
        continue;
      }
      std::string key = a.substr(2), value;
      auto eq = key.find('=');
      bool has_eq = eq != std::string::npos;
      if (has_eq) value = key.substr(eq + 1), key = key.substr(0, eq);
      if (flags.count(key)) {
        if (has_eq) throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("option --{} takes no value", key));
        opts[key].push_back("1");
      } else if (with_value.count(key)) {
        if (!has_eq) {
          if (i + 1 >= argc) throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("option --{} needs a value", key));
          value = argv[++i];
        }
        opts[key].push_back(value);
      } else {
        throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("unknown option --{} (see --help)", key));
      }
    }
  }
  bool has(const std::string& k) const { return opts.count(k) > 0; }
  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = opts.find(k);
    return it == opts.end() ? def : it->second.back();
  }
  std::vector<std::string> all(const std::string& k) const {
    auto it = opts.find(k);
    return it == opts.end() ? std::vector<std::string>{} : it->second;
  }
  double number(const std::string& k, double def, double lo, double hi) const {
    if (!has(k)) return def;
    std::string s = get(k);
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || !(v >= lo && v <= hi))
      throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("--{} {}: expected a number in [{}, {}]", k, s, lo, hi));
    return v;
  }
  int integer(const std::string& k, int def, int lo, int hi) const {
    double v = number(k, def, lo, hi);
    if (v != static_cast<int>(v)) throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("--{} {}: expected an integer", k, get(k)));
    return static_cast<int>(v);
  }
};

// ../shared as configured at build time; DYNN_SHARED_DIR overrides. "" when absent.
inline std::string shared_dir() {
  std::string d;
  if (const char* e = std::getenv("DYNN_SHARED_DIR"); e && *e) {
    d = e;
  } else {
#ifdef DYNN_SHARED_DIR_DEFAULT
    d = DYNN_SHARED_DIR_DEFAULT;
#endif
  }
  std::error_code ec;
  if (d.empty() || !std::filesystem::is_directory(d, ec)) return "";
  return d;
}
inline std::string shared_file(const std::string& rel) {
  std::string d = shared_dir();
  if (d.empty()) return "";
  auto p = std::filesystem::path(d) / rel;
  std::error_code ec;
  return std::filesystem::exists(p, ec) ? p.string() : "";
}

// A progress bar on stderr with rate and ETA; redraws at most 10 times a second, and only on a
// terminal (otherwise one line per 10 %).
class Progress {
 public:
  Progress(std::string label, size_t total, bool enabled = true)
      : m_label(std::move(label)), m_total(total), m_enabled(enabled), m_tty(::isatty(2) != 0), m_t0(clock::now()) {}
  ~Progress() { finish(); }
  void update(size_t done, const std::string& note = "") {
    if (!m_enabled || m_total == 0) return;
    double el = elapsed();
    if (m_tty) {
      if (done < m_total && el - m_last < 0.1) return;
      m_last = el;
      const int width = 28;
      int fill = static_cast<int>(static_cast<double>(width) * static_cast<double>(done) / static_cast<double>(m_total));
      double rate = el > 0 ? static_cast<double>(done) / el : 0;
      double eta = rate > 0 ? static_cast<double>(m_total - std::min(done, m_total)) / rate : 0;
      std::fprintf(stderr, "\r\033[K%s [%s%s] %zu/%zu %.1f/s ETA %.0fs %s", m_label.c_str(), std::string(static_cast<size_t>(fill), '#').c_str(),
                   std::string(static_cast<size_t>(width - fill), '.').c_str(), done, m_total, rate, eta, note.c_str());
      std::fflush(stderr);
      m_drawn = true;
    } else {
      size_t decile = done * 10 / m_total;
      if (decile > m_decile || done == m_total) {
        m_decile = decile;
        std::fprintf(stderr, "%s: %zu/%zu (%.0f s) %s\n", m_label.c_str(), done, m_total, el, note.c_str());
      }
    }
  }
  void finish() {
    if (m_drawn) std::fprintf(stderr, "\n");
    m_drawn = false;
  }
  double elapsed() const { return std::chrono::duration<double>(clock::now() - m_t0).count(); }

 private:
  using clock = std::chrono::steady_clock;
  std::string m_label;
  size_t m_total;
  bool m_enabled, m_tty;
  clock::time_point m_t0;
  double m_last = -1;
  size_t m_decile = 0;
  bool m_drawn = false;
};

// A plain-text table with aligned columns (first column left, the others right).
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::string str() const {
    std::vector<size_t> w(header.size());
    for (size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
    for (const auto& r : rows)
      for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
    auto line = [&](const std::vector<std::string>& r) {
      std::string o;
      for (size_t i = 0; i < w.size(); ++i) {
        std::string c = i < r.size() ? r[i] : "";
        std::string pad(w[i] - std::min(w[i], c.size()), ' ');
        o += (i ? "  " : "") + (i == 0 ? c + pad : pad + c);
      }
      return o + "\n";
    };
    std::string o = line(header);
    size_t total = 0;
    for (auto x : w) total += x + 2;
    o += std::string(total - 2, '-') + "\n";
    for (const auto& r : rows) o += line(r);
    return o;
  }
};

inline std::string pct(double fraction, int digits = 1) { return fmt::format("{:.{}f}%", 100 * fraction, digits); }

}  // namespace demo
