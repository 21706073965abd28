#include "dynn/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace dynn {

namespace {
std::mutex& sink_mutex() {
  static std::mutex m;
  return m;
}
LogSink& sink_slot() {
  static LogSink s;  // empty: stderr
  return s;
}
std::atomic<int> g_level{static_cast<int>(LogLevel::Warn)};
}  // namespace

const char* log_level_name(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warn";
    case LogLevel::Error: return "error";
    case LogLevel::Off: return "off";
  }
  return "unknown";
}

void set_log_sink(LogSink sink) {
  std::lock_guard<std::mutex> lock(sink_mutex());
  sink_slot() = std::move(sink);
}

void set_log_level(LogLevel level) noexcept { g_level.store(static_cast<int>(level)); }
LogLevel log_level() noexcept { return static_cast<LogLevel>(g_level.load()); }
bool log_enabled(LogLevel level) noexcept {
  return level != LogLevel::Off && static_cast<int>(level) >= g_level.load();
}

void log(LogLevel level, const std::string& message) noexcept {
  if (!log_enabled(level)) return;
  try {
    std::lock_guard<std::mutex> lock(sink_mutex());
    if (sink_slot()) {
      sink_slot()(level, message);
    } else {
      std::fprintf(stderr, "dynn: %s\n", message.c_str());
    }
  } catch (...) {
    // A sink that throws loses its message; logging must never take the caller down.
  }
}

}  // namespace dynn
