// Hardware settings put back when the process ends without running the Platform destructors:
// on SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT (abort()) and on exit().
//
// Every sysfs knob (cpufreq/devfreq governor, min/max/pinned frequency, setspeed) records its
// file and its original text in a fixed, preallocated table when it is first changed, and drops
// the entry when it is put back. install_restore_on_exit() adds a signal handler that does nothing
// but open/write/close those files, newest change first (async-signal-safe), then puts the
// previous disposition back and raises the signal again (so the process still dies of it, or the
// application's own handler runs), and an atexit hook that does the same for exit().
//
// Not covered: SIGKILL (kill -9, the OOM killer), _exit(), power loss. For those, give a record
// file: it holds the same originals while any is changed (removed when all are back), and a later
// run puts them back with apply_restore_record() (`dynn-platform --restore FILE`). NVML clock
// locks, thread affinity and callback knobs are restored by normal code only.
#pragma once

#include <cstddef>
#include <string>

namespace dynn {

struct RestoreOnExitOptions {
  bool signals = true;   // SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT (one that is ignored stays ignored)
  bool at_exit = true;   // exit() and returning from main while a platform still has changes
  // Non-empty: keep the originals in this file while any knob is changed (for kill -9). Set once
  // per process; default_restore_record_path() is a per-user, per-process name.
  std::string record_path;
};

// Installs the handlers (idempotent; later calls may add what an earlier one left out). Throws
// InvalidArgument for a second, different record_path, Io when a signal handler cannot be set.
void install_restore_on_exit(const RestoreOnExitOptions& options = {});

// "$XDG_RUNTIME_DIR/dynn-restore-<pid>.json", or "" when XDG_RUNTIME_DIR is not set.
std::string default_restore_record_path();

// Writes back the originals of a record left by a process that died without restoring them,
// newest change first, then removes the record. Returns the number of files written. Refuses
// (Busy) a record whose process still runs unless `force`; Parse for a malformed record;
// InvalidArgument for an entry that is not a cpufreq/devfreq attribute with a plain value (a
// record is never trusted to write anywhere else); Io listing the entries that failed (the record
// is kept then).
size_t apply_restore_record(const std::string& path, bool force = false);

// Number of sysfs settings currently owed a restore (what a signal would put back now).
size_t pending_restores();

}  // namespace dynn
