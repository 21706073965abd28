// Small helpers shared by the ImageNet example binaries: option parsing, a progress bar, tables,
// where ../shared is, and building the supernet and its sub-networks from options.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "dynn/error.hpp"
#include "dynn/parse.hpp"
#include "dynn/platform/restore_guard.hpp"

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
        if (opts.count(key)) throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("option --{} given twice", key));
        opts[key].push_back("1");
      } else if (with_value.count(key)) {
        if (!has_eq) {
          if (i + 1 >= argc) throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("option --{} needs a value", key));
          value = argv[++i];
        }
        if (opts.count(key) && !repeatable(key))
          throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("option --{} given twice ('{}' and '{}')", key, opts[key].back(), value));
        opts[key].push_back(value);
      } else {
        throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("unknown option --{} (see --help)", key));
      }
    }
  }
  // Options that may be given several times (a list); any other repeated option is an error, so a
  // second value never silently wins.
  static bool repeatable(const std::string& k) { return k == "subnet" || k == "config" || k == "setting"; }
  bool has(const std::string& k) const { return opts.count(k) > 0; }
  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = opts.find(k);
    return it == opts.end() ? def : it->second.back();
  }
  std::vector<std::string> all(const std::string& k) const {
    auto it = opts.find(k);
    return it == opts.end() ? std::vector<std::string>{} : it->second;
  }
  // Checked numbers: the whole value, finite, in range; the error names the option.
  double number(const std::string& k, double def, double lo, double hi) const {
    return has(k) ? dynn::parse_double(get(k), "--" + k, lo, hi) : def;
  }
  int integer(const std::string& k, int def, int lo, int hi) const {
    return has(k) ? static_cast<int>(dynn::parse_int(get(k), "--" + k, lo, hi)) : def;
  }
  // --threads and the like: 1 .. the CPUs this process may run on (more only oversubscribes).
  int threads(const std::string& k) const;
};

// CPUs this process may run on (its affinity mask), at least 1.
inline int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

inline int Args::threads(const std::string& k) const {
  const int n = usable_cpus();
  return has(k) ? static_cast<int>(dynn::parse_int(get(k), "--" + k + " (threads, this process may use " + std::to_string(n) + " CPUs)", 1, n)) : n;
}

// Output paths are checked before any expensive work, so a typo or a read-only place does not cost
// a whole run. Checked by doing: a file is opened for writing (without truncating an existing one;
// a new one is removed again), a folder is created.
[[noreturn]] inline void bad_output(const std::string& option, const std::string& path, const std::string& why) {
  throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("{} '{}': {}", option, path, why));
}
inline void check_output_file(const std::string& path, const std::string& option) {
  namespace fs = std::filesystem;
  auto bad = [&](const std::string& why) { bad_output(option, path, why); };
  if (path.empty()) bad("empty path");
  std::error_code ec;
  if (fs::exists(path, ec) && !fs::is_regular_file(path, ec)) bad("exists and is not a regular file");
  const bool existed = fs::exists(path, ec);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NONBLOCK | (existed ? O_APPEND : O_CREAT | O_EXCL), 0644);
  if (fd < 0) bad(fmt::format("cannot be written: {}", std::strerror(errno)));
  ::close(fd);
  if (!existed) ::unlink(path.c_str());
}
inline void check_output_dir(const std::string& path, const std::string& option) {
  namespace fs = std::filesystem;
  auto bad = [&](const std::string& why) { bad_output(option, path, why); };
  if (path.empty()) bad("empty path");
  std::error_code ec;
  if (fs::exists(path, ec) && !fs::is_directory(path, ec)) bad("exists and is not a folder");
  fs::create_directories(path, ec);
  if (ec) bad(fmt::format("cannot create it: {}", ec.message()));
  const std::string probe = (fs::path(path) / ".dynn-write-test").string();
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 && errno != EEXIST) bad(fmt::format("cannot write in it: {}", std::strerror(errno)));
  if (fd >= 0) ::close(fd), ::unlink(probe.c_str());
}

// Exit statuses of every example binary: 0 success; 2 bad options or unusable input (a file that
// cannot be read or parsed, no readable image at all); 1 any other failure.
constexpr int kExitInput = 2, kExitFailure = 1;
inline int exit_code(const std::exception& e) {
  if (const auto* d = dynamic_cast<const dynn::Error*>(&e)) {
    switch (d->code()) {
      case dynn::ErrorCode::InvalidArgument:
      case dynn::ErrorCode::NotFound:
      case dynn::ErrorCode::Parse:
      case dynn::ErrorCode::Io:
      case dynn::ErrorCode::PermissionDenied:
      case dynn::ErrorCode::Unsupported:
        return kExitInput;
      default:
        return kExitFailure;
    }
  }
  return kExitFailure;
}
// Runs a tool's body: "<tool>: error: <message>" on stderr and the status above on failure.
// Hardware settings the tool changes are put back on Ctrl-C, SIGTERM, abort() and exit() too
// (and recorded under $XDG_RUNTIME_DIR for `dynn-platform --restore` after a kill -9).
template <class Body>
int run_tool(const char* tool, Body&& body) {
  try {
    dynn::RestoreOnExitOptions restore;
    restore.record_path = dynn::default_restore_record_path();
    dynn::install_restore_on_exit(restore);
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\n%s: error: %s\n", tool, e.what());
    return exit_code(e);
  }
}

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
