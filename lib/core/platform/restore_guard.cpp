// install_restore_on_exit(): sysfs settings put back on a fatal signal or exit(), and the
// persisted restore record for what no handler can catch (kill -9).
//
// The table is static storage, filled by normal code (under a mutex, one writer at a time) and
// read by the signal handler without locks: each slot is a seqlock (odd count while it is being
// filled or cleared) over atomics, so a handler that runs in the middle of an update, on this or
// any other thread, skips that one slot instead of reading half an entry (a slot is filled before
// its knob is written and cleared after the original is back, so the skipped write is not owed).
// The handler itself only calls open, write, close, unlink, sigaction and raise.
#include "dynn/platform/restore_guard.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/io/file.hpp"
#include "core/platform/restore_table.hpp"
#include "dynn/error.hpp"
#include "dynn/log.hpp"
#include "dynn/parse.hpp"
#include "core/json_strict.hpp"

namespace dynn {

namespace {

constexpr int kSlots = 256;
constexpr size_t kPathMax = 512;  // bytes with the terminating NUL
constexpr size_t kTextMax = 128;
constexpr uint32_t kFree = 0, kActive = 1;
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT};
constexpr int kNumSignals = sizeof kSignals / sizeof kSignals[0];
constexpr const char* kRecordFormat = "dynn-restore-record";

static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic<uint32_t>::is_always_lock_free &&
                  std::atomic<char>::is_always_lock_free,
              "the signal handler needs lock-free atomics");

struct Slot {
  std::atomic<uint32_t> seq;
  std::atomic<uint32_t> state;
  std::atomic<int32_t> pid;     // the process that changed the setting: a forked child never restores its parent's
  std::atomic<uint64_t> order;  // first-change order: the handler writes newest first
  std::atomic<uint32_t> path_len, text_len;
  std::atomic<char> path[kPathMax];
  std::atomic<char> text[kTextMax];
};

// Zero-initialised static storage: no constructor runs, usable from the first knob on.
Slot g_slots[kSlots];
constexpr size_t kNameMax = 64;
char g_knob_names[kSlots][kNameMax];  // normal code only (the record file); no destructor: usable during exit
std::atomic<uint64_t> g_order{0};
std::atomic<int> g_restoring{0};
char g_record[kPathMax];
std::atomic<bool> g_record_set{false};
std::atomic<int32_t> g_record_pid{0};  // the record belongs to the process that named it
struct sigaction g_old[kNumSignals];
std::atomic<bool> g_handler_set[kNumSignals];
bool g_atexit = false;
std::mutex g_mutex;  // normal-code writers of everything above

void put_chars(std::atomic<char>* dst, const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) dst[i].store(s[i], std::memory_order_relaxed);
}

// Async-signal-safe: open, write, close.
bool write_file(const char* path, const char* text, size_t len) {
  int fd = ::open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return false;
  bool ok = true;
  while (len > 0) {
    ssize_t n = ::write(fd, text, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      ok = false;
      break;
    }
    text += n;
    len -= static_cast<size_t>(n);
  }
  if (::close(fd) != 0) ok = false;
  return ok;
}

// Every active entry written back, newest first, once per process. Async-signal-safe.
size_t restore_now() {
  if (g_restoring.exchange(1)) return 0;
  const int32_t self = static_cast<int32_t>(::getpid());
  bool done[kSlots] = {};
  char path[kPathMax], text[kTextMax];
  size_t written = 0;
  bool all_ok = true;
  for (;;) {
    int best = -1;
    uint64_t best_order = 0;
    for (int i = 0; i < kSlots; ++i) {
      if (done[i]) continue;
      const Slot& s = g_slots[i];
      if ((s.seq.load(std::memory_order_acquire) & 1) || s.state.load(std::memory_order_relaxed) != kActive ||
          s.pid.load(std::memory_order_relaxed) != self)
        continue;
      uint64_t o = s.order.load(std::memory_order_relaxed);
      if (best < 0 || o > best_order) best = i, best_order = o;
    }
    if (best < 0) break;
    done[best] = true;
    const Slot& s = g_slots[best];
    const uint32_t q = s.seq.load(std::memory_order_acquire);
    if (q & 1) continue;
    const uint32_t pl = s.path_len.load(std::memory_order_relaxed), tl = s.text_len.load(std::memory_order_relaxed);
    if (pl == 0 || pl >= kPathMax || tl >= kTextMax) continue;
    for (uint32_t i = 0; i < pl; ++i) path[i] = s.path[i].load(std::memory_order_relaxed);
    path[pl] = 0;
    for (uint32_t i = 0; i < tl; ++i) text[i] = s.text[i].load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (s.seq.load(std::memory_order_relaxed) != q || s.state.load(std::memory_order_relaxed) != kActive) continue;  // changed meanwhile
    if (write_file(path, text, tl)) ++written;
    else all_ok = false;
  }
  if (all_ok && g_record_set.load(std::memory_order_acquire) && g_record_pid.load() == self) ::unlink(g_record);
  return written;
}

void on_signal(int sig) {
  const int saved_errno = errno;
  if (restore_now() > 0) {
    static const char msg[] = "dynn: fatal signal: hardware settings put back\n";
    ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
  }
  // The previous disposition, then the same signal again: the default action ends the process
  // with it (the exit status says so), or the application's own handler runs.
  for (int i = 0; i < kNumSignals; ++i)
    if (kSignals[i] == sig) {
      ::sigaction(sig, &g_old[i], nullptr);
      g_handler_set[i].store(false);
    }
  ::raise(sig);
  errno = saved_errno;
}

void on_exit() { restore_now(); }

// The record file mirrors the active entries, oldest first (caller holds g_mutex). Removed when
// none is left. Failures are logged: the record is a fallback, the knobs work without it.
void write_record_locked() {
  const int32_t self = static_cast<int32_t>(::getpid());
  if (!g_record_set.load() || g_record_pid.load() != self) return;
  nlohmann::json entries = nlohmann::json::array();
  std::vector<std::pair<uint64_t, int>> active;
  for (int i = 0; i < kSlots; ++i)
    if (g_slots[i].state.load() == kActive && g_slots[i].pid.load() == self) active.emplace_back(g_slots[i].order.load(), i);
  std::sort(active.begin(), active.end());
  for (auto& [order, i] : active) {
    std::string path(g_slots[i].path_len.load(), '\0'), text(g_slots[i].text_len.load(), '\0');
    for (size_t k = 0; k < path.size(); ++k) path[k] = g_slots[i].path[k].load();
    for (size_t k = 0; k < text.size(); ++k) text[k] = g_slots[i].text[k].load();
    entries.push_back({{"knob", std::string(g_knob_names[i])}, {"path", path}, {"value", text}});
  }
  try {
    if (entries.empty()) {
      std::error_code ec;
      std::filesystem::remove(g_record, ec);
      return;
    }
    nlohmann::json j = {{"format", kRecordFormat}, {"version", 1}, {"pid", static_cast<int64_t>(::getpid())}, {"entries", entries}};
    io::write_file(g_record, j.dump(1) + "\n", "restore record");
  } catch (const std::exception& e) {
    log_warn(std::string("restore record not updated: ") + e.what());
  }
}

// Only the attributes dynn's sysfs knobs write: a record can never be made to write elsewhere.
std::string record_entry_problem(const std::string& path, const std::string& value) {
  namespace fs = std::filesystem;
  fs::path p(path);
  if (!p.is_absolute()) return "the path is not absolute";
  for (const auto& part : p)
    if (part == ".." || part == ".") return "the path has a '.' or '..' component";
  const std::string file = p.filename().string(), dir = p.parent_path().filename().string();
  const std::string up = p.parent_path().parent_path().filename().string();
  const std::string up2 = p.parent_path().parent_path().parent_path().filename().string();
  bool ok = false;
  if (file == "scaling_governor" || file == "scaling_min_freq" || file == "scaling_max_freq" || file == "scaling_setspeed")
    ok = dir.rfind("policy", 0) == 0 && up == "cpufreq";
  else if (file == "governor" || file == "min_freq" || file == "max_freq")
    ok = up == "devfreq";
  else if (file == "set_freq")
    ok = dir == "userspace" && up2 == "devfreq";
  else if (file == "online") {  // CPU hot-plug: .../cpu/cpuN/online, 0 or 1 only
    ok = up == "cpu" && dir.size() > 3 && dir.rfind("cpu", 0) == 0 &&
         dir.find_first_not_of("0123456789", 3) == std::string::npos;
    if (ok && value != "0" && value != "1") return "a CPU hot-plug value other than 0 or 1";
  }
  if (!ok) return "not a cpufreq policy, devfreq or CPU hot-plug attribute dynn writes";
  if (value.empty() || value.size() > 64) return "the value is empty or longer than 64 bytes";
  for (char c : value)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return "the value has characters other than letters, digits, '_', '-' and '.'";
  return {};
}

}  // namespace

namespace restore_table {

int add(const std::string& knob, const std::string& path, const std::string& text) {
  static std::atomic<bool> warned{false};
  auto warn_once = [&](const std::string& why) {
    if (!warned.exchange(true))
      log_warn(fmt::format("knob '{}' ({}): not put back on a signal or exit(): {} (normal restores are unaffected)", knob, path, why));
  };
  if (path.empty() || path.size() >= kPathMax || text.size() >= kTextMax) {
    warn_once(fmt::format("path or value longer than {} / {} bytes", kPathMax - 1, kTextMax - 1));
    return -1;
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  for (int i = 0; i < kSlots; ++i) {
    Slot& s = g_slots[i];
    if (s.state.load(std::memory_order_relaxed) != kFree) continue;
    const uint32_t q = s.seq.load(std::memory_order_relaxed);
    s.seq.store(q + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    put_chars(s.path, path);
    put_chars(s.text, text);
    s.path_len.store(static_cast<uint32_t>(path.size()), std::memory_order_relaxed);
    s.text_len.store(static_cast<uint32_t>(text.size()), std::memory_order_relaxed);
    s.order.store(++g_order, std::memory_order_relaxed);
    s.pid.store(static_cast<int32_t>(::getpid()), std::memory_order_relaxed);
    s.state.store(kActive, std::memory_order_relaxed);
    s.seq.store(q + 2, std::memory_order_release);
    std::snprintf(g_knob_names[i], kNameMax, "%s", knob.c_str());
    write_record_locked();
    return i;
  }
  warn_once(fmt::format("the table of {} changed settings is full", kSlots));
  return -1;
}

void remove(int slot) {
  if (slot < 0 || slot >= kSlots) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  Slot& s = g_slots[slot];
  const uint32_t q = s.seq.load(std::memory_order_relaxed);
  s.seq.store(q + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  s.state.store(kFree, std::memory_order_relaxed);
  s.seq.store(q + 2, std::memory_order_release);
  g_knob_names[slot][0] = 0;
  write_record_locked();
}

bool exiting() { return g_restoring.load(std::memory_order_acquire) != 0; }

}  // namespace restore_table

void install_restore_on_exit(const RestoreOnExitOptions& options) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!options.record_path.empty()) {
    if (g_record_set.load() && g_record_pid.load() == static_cast<int32_t>(::getpid())) {
      if (options.record_path != g_record)
        throw Error(ErrorCode::InvalidArgument, fmt::format("install_restore_on_exit: record_path '{}': this process already keeps its record in '{}'",
                                                            options.record_path, g_record));
    } else {
      if (options.record_path.size() >= kPathMax)
        throw Error(ErrorCode::InvalidArgument, fmt::format("install_restore_on_exit: record_path is {} bytes long (at most {})",
                                                            options.record_path.size(), kPathMax - 1));
      std::error_code ec;
      if (std::filesystem::is_directory(options.record_path, ec))
        throw Error(ErrorCode::InvalidArgument, fmt::format("install_restore_on_exit: record_path '{}' is a folder", options.record_path));
      std::memcpy(g_record, options.record_path.c_str(), options.record_path.size() + 1);
      g_record_pid.store(static_cast<int32_t>(::getpid()));
      g_record_set.store(true, std::memory_order_release);
      write_record_locked();  // settings changed before this call are recorded too
    }
  }
  if (options.at_exit && !g_atexit) {
    if (std::atexit(on_exit) != 0) throw Error(ErrorCode::Io, "install_restore_on_exit: atexit() failed");
    g_atexit = true;
  }
  if (!options.signals) return;
  for (int i = 0; i < kNumSignals; ++i) {
    if (g_handler_set[i].load()) continue;
    struct sigaction old {};
    if (::sigaction(kSignals[i], nullptr, &old) != 0)
      throw Error(ErrorCode::Io, fmt::format("install_restore_on_exit: sigaction({}): {}", kSignals[i], std::strerror(errno)));
    if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN) continue;  // ignored (nohup, background): stays ignored
    g_old[i] = old;  // before the handler can run
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int s : kSignals) sigaddset(&sa.sa_mask, s);  // one restore at a time
    sa.sa_flags = SA_RESTART;
    if (::sigaction(kSignals[i], &sa, nullptr) != 0)
      throw Error(ErrorCode::Io, fmt::format("install_restore_on_exit: sigaction({}): {}", kSignals[i], std::strerror(errno)));
    g_handler_set[i].store(true);
  }
}

std::string default_restore_record_path() {
  const char* dir = std::getenv("XDG_RUNTIME_DIR");
  if (!dir || !*dir) return {};
  return fmt::format("{}/dynn-restore-{}.json", dir, ::getpid());
}

size_t pending_restores() {
  std::lock_guard<std::mutex> lock(g_mutex);
  size_t n = 0;
  for (const auto& s : g_slots) n += s.state.load() == kActive && s.pid.load() == static_cast<int32_t>(::getpid());
  return n;
}

size_t apply_restore_record(const std::string& path, bool force) {
  const std::string what = "restore record '" + path + "'";
  const std::string text = io::read_text_file(path, size_t(1) << 20, "restore record");
  nlohmann::json j = json_strict::parse(text, what);
  auto bad = [&](const std::string& why) { throw Error(ErrorCode::Parse, fmt::format("{}: {}", what, why)); };
  if (!j.is_object() || !j.contains("format") || j["format"] != kRecordFormat) bad(fmt::format("not a {} (no \"format\": \"{}\")", kRecordFormat, kRecordFormat));
  if (!j.contains("version") || json_strict::integer(j["version"], what + ": version", 1, 1, ErrorCode::Parse) != 1) bad("unknown version");
  if (!j.contains("pid")) bad("missing field 'pid'");
  const int64_t pid = json_strict::integer(j["pid"], what + ": pid", 1, INT32_MAX, ErrorCode::Parse);
  if (!j.contains("entries") || !j["entries"].is_array()) bad("missing array 'entries'");
  struct Entry {
    std::string path, value;
  };
  std::vector<Entry> entries;
  for (size_t i = 0; i < j["entries"].size(); ++i) {
    const auto& e = j["entries"][i];
    if (!e.is_object() || !e.contains("path") || !e["path"].is_string() || !e.contains("value") || !e["value"].is_string())
      bad(fmt::format("entries[{}]: expected {{\"path\": text, \"value\": text}}", i));
    Entry en{e["path"].get<std::string>(), e["value"].get<std::string>()};
    if (auto why = record_entry_problem(en.path, en.value); !why.empty())
      throw Error(ErrorCode::InvalidArgument, fmt::format("{}: entries[{}] ('{}' = '{}'): {}; nothing written", what, i,
                                                          ellipsize(en.path, 200), ellipsize(en.value, 64), why));
    entries.push_back(std::move(en));
  }
  if (!force && pid != ::getpid() && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM))
    throw Error(ErrorCode::Busy, fmt::format("{}: process {} still runs and owns these settings (force to apply anyway)", what, pid));
  std::vector<std::string> failures;
  size_t written = 0;
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {  // newest change first
    int fd = ::open(it->path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
      failures.push_back(fmt::format("{}: {}", it->path, std::strerror(errno)));
      continue;
    }
    ssize_t n = ::write(fd, it->value.data(), it->value.size());
    int err = errno;
    if (::close(fd) != 0 && n >= 0) n = -1, err = errno;
    if (n != static_cast<ssize_t>(it->value.size())) failures.push_back(fmt::format("{}: {}", it->path, std::strerror(err)));
    else ++written;
  }
  if (!failures.empty())
    throw Error(ErrorCode::Io, fmt::format("{}: {} of {} setting(s) could not be put back (record kept): {}", what, failures.size(),
                                           entries.size(), fmt::join(failures, "; ")));
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (ec) log_warn(fmt::format("{}: settings put back, but the record could not be removed: {}", what, ec.message()));
  return written;
}

}  // namespace dynn
