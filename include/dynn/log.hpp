// A tiny process-wide logger. The library reports what it cannot throw (a destructor that fails to
// restore a knob, a fallback it took) through here; applications route it with set_log_sink()
// (the C ABI's dynn_log_set does). Default: "dynn: <message>" lines on stderr for Warn and above.
//
// Thread-safety: every function may be called from any thread. The sink is called with an internal
// mutex held, so calls never overlap; a sink must not log itself (it would deadlock) and should be
// quick.
#pragma once

#include <functional>
#include <string>

namespace dynn {

enum class LogLevel : int { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };
const char* log_level_name(LogLevel level) noexcept;  // "debug", "info", "warn", "error", "off"

using LogSink = std::function<void(LogLevel level, const std::string& message)>;

// Replaces the sink; an empty function restores the default (stderr). Returns nothing: the old
// sink is dropped once no call is using it.
void set_log_sink(LogSink sink);
// Messages below `level` are dropped before formatting reaches the sink (default Warn).
void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;
bool log_enabled(LogLevel level) noexcept;

// Sends one message (no trailing newline needed). Never throws: a sink that throws is ignored.
void log(LogLevel level, const std::string& message) noexcept;
inline void log_warn(const std::string& message) noexcept { log(LogLevel::Warn, message); }
inline void log_info(const std::string& message) noexcept { log(LogLevel::Info, message); }

}  // namespace dynn
