// The sysfs knobs of Platform::detect: cpufreq/devfreq attributes (governor, min/max, the pinned
// frequency, userspace setspeed) and the CPU affinity of the inference threads.
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include "core/platform/linux_backends.hpp"
#include "core/platform/sysfs.hpp"
#include "dynn/error.hpp"

namespace dynn::linux_backends {

namespace fs = std::filesystem;

namespace {

// A sysfs attribute holding one integer or one word.
class SysfsKnob : public Knob {
 public:
  SysfsKnob(KnobSpec spec, fs::path path) : Knob(std::move(spec)), m_path(std::move(path)) {
    if (auto p = sysfs::read_problem(m_path); !p.empty()) {
      mark_unavailable(p);
      return;
    }
    try {  // probe: garbage content makes the knob unavailable, not the platform
      if (numeric()) sysfs::read_int(m_path);
      else if (sysfs::read(m_path).empty())
        throw Error(ErrorCode::Parse, m_path.string() + " is empty");
    } catch (const Error& e) {
      mark_unavailable(e.what());
      return;
    }
    if (auto p = sysfs::write_problem(m_path); !p.empty()) mark_unwritable(p);
  }

 protected:
  int64_t read_numeric() const override { return sysfs::read_int(m_path); }
  std::string read_text() const override { return sysfs::read(m_path); }
  void write_numeric(int64_t v) override { sysfs::write(m_path, std::to_string(v)); }
  void write_text(const std::string& v) override { sysfs::write(m_path, v); }
  std::string restore_file() const override { return m_path.string(); }
  fs::path m_path;
};

// scaling_setspeed / devfreq userspace/set_freq: only meaningful under the userspace governor
// (other governors make scaling_setspeed read "<unsupported>", which is not a broken knob).
class UserspaceKnob : public SysfsKnob {
 public:
  UserspaceKnob(KnobSpec spec, fs::path path, fs::path governor)
      : SysfsKnob(std::move(spec), std::move(path)), m_governor(std::move(governor)) {
    if (!readable() && sysfs::read_problem(m_path).empty()) mark_unavailable("");
  }

 protected:
  std::string write_blocker() const override {
    std::string g;
    try {
      g = sysfs::read(m_governor);
    } catch (const Error& e) {
      return std::string("governor unreadable: ") + e.what();
    }
    if (g != "userspace") return fmt::format("governor is '{}'; {} needs 'userspace'", g, m_path.filename().string());
    return {};
  }
  int64_t read_numeric() const override {
    std::string t = sysfs::read(m_path);
    if (t == "<unsupported>")
      throw Error(ErrorCode::Unsupported, fmt::format("{} reads '<unsupported>': the governor is not 'userspace'", m_path.string()));
    return sysfs::parse_int(t, m_path.string());
  }

 private:
  fs::path m_governor;
};

// A frequency pinned by writing min = max (works under any governor, what Jetson scripts do).
// Reads back the pinned value when min == max, else the current frequency.
class PinnedFreqKnob : public Knob {
 public:
  PinnedFreqKnob(KnobSpec spec, Knob* min, Knob* max, fs::path cur) : Knob(std::move(spec)), m_min(min), m_max(max), m_cur(std::move(cur)) {
    if (!m_min->readable()) mark_unavailable(m_min->unavailable_reason());
    else if (!m_max->readable()) mark_unavailable(m_max->unavailable_reason());
    set_parts({m_min, m_max});
  }

 protected:
  bool saves_original() const override { return false; }  // min/max save themselves
  std::string write_blocker() const override {
    if (auto r = m_min->unwritable_reason(); !r.empty()) return r;
    return m_max->unwritable_reason();
  }
  int64_t read_numeric() const override {
    int64_t lo = m_min->get(), hi = m_max->get();
    if (lo == hi) return lo;
    return sysfs::read_int(m_cur);
  }
  void write_numeric(int64_t v) override {
    // Order matters to the kernel: never ask for min > max.
    if (v >= m_min->get()) {
      m_max->set(v);
      m_min->set(v);
    } else {
      m_min->set(v);
      m_max->set(v);
    }
  }

 private:
  Knob* m_min;
  Knob* m_max;
  fs::path m_cur;
};

// CPU affinity of the inference threads. Unbound: the calling thread (dynn runs inside the
// application's inference loop). The model binds it to pin its own pool threads as well.
// Unbound writes remember each thread they pin (its id and whole original mask, CPUs >= 64
// included) and restore() puts every one of them back by id, whichever thread calls it.
class AffinityKnob : public CallbackKnob {
 public:
  AffinityKnob(KnobSpec spec, uint64_t allowed) : CallbackKnob(std::move(spec), static_cast<int64_t>(allowed)), m_allowed(allowed) {}

 protected:
  void validate_extra(int64_t v) const override {
    if (v <= 0) throw Error(ErrorCode::InvalidArgument, fmt::format("knob '{}': affinity mask {} selects no CPU", name(), v));
    if (static_cast<uint64_t>(v) & ~m_allowed)
      throw Error(ErrorCode::InvalidArgument, fmt::format("knob '{}': mask {:#x} has CPUs outside the available set {:#x}",
                                                          name(), static_cast<uint64_t>(v), m_allowed));
  }
  int64_t read_numeric() const override {
    if (bound()) return CallbackKnob::read_numeric();
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0)
      throw Error(ErrorCode::Io, fmt::format("knob '{}': sched_getaffinity failed: {}", name(), std::strerror(errno)));
    uint64_t m = 0;
    for (int c = 0; c < 64; ++c)
      if (CPU_ISSET(c, &set)) m |= uint64_t{1} << c;
    return static_cast<int64_t>(m);
  }
  void write_numeric(int64_t v) override {
    if (bound()) {
      CallbackKnob::write_numeric(v);
      return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c = 0; c < 64; ++c)
      if (static_cast<uint64_t>(v) >> c & 1) CPU_SET(c, &set);
    const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
    std::lock_guard<std::mutex> lock(m_mutex);
    const bool first = std::none_of(m_pinned.begin(), m_pinned.end(), [&](const Pinned& p) { return p.tid == tid; });
    if (first) {
      Pinned p{tid, {}};
      CPU_ZERO(&p.original);
      if (::sched_getaffinity(0, sizeof p.original, &p.original) != 0)
        throw Error(ErrorCode::Io, fmt::format("knob '{}': sched_getaffinity of thread {} failed: {}", name(), tid, std::strerror(errno)));
      m_pinned.push_back(p);
    }
    if (::sched_setaffinity(0, sizeof set, &set) != 0) {
      int err = errno;
      if (first) m_pinned.pop_back();
      throw Error(ErrorCode::Io, fmt::format("sched_setaffinity(thread {}, {:#x}) failed: {}", tid, static_cast<uint64_t>(v), std::strerror(err)));
    }
  }
  void write_original(int64_t saved) override {
    if (bound()) CallbackKnob::write_numeric(saved);
    std::lock_guard<std::mutex> lock(m_mutex);
    std::vector<std::string> failures;
    std::vector<Pinned> left;
    const pid_t pid = ::getpid();
    for (auto it = m_pinned.rbegin(); it != m_pinned.rend(); ++it) {
      // A thread that has exited is no error. tgkill(pid, tid, 0) first: a recycled id outside
      // this process is never touched.
      if (::syscall(SYS_tgkill, pid, it->tid, 0) != 0 && errno == ESRCH) continue;
      if (::sched_setaffinity(it->tid, sizeof it->original, &it->original) == 0 || errno == ESRCH) continue;
      failures.push_back(fmt::format("thread {}: {}", it->tid, std::strerror(errno)));
      left.insert(left.begin(), *it);
    }
    m_pinned = std::move(left);
    if (!failures.empty())
      throw Error(ErrorCode::Io, fmt::format("sched_setaffinity back to the original masks failed: {}", fmt::join(failures, "; ")));
  }

 private:
  struct Pinned {
    pid_t tid;
    cpu_set_t original;
  };
  uint64_t m_allowed;
  std::mutex m_mutex;  // threads pin themselves concurrently
  std::vector<Pinned> m_pinned;
};

}  // namespace

void add_freq_knobs(Ctx& c, const std::string& prefix, const fs::path& dir, const std::string& unit,
                    std::vector<int64_t> values, std::optional<int64_t> lo, std::optional<int64_t> hi,
                    std::vector<std::string> governors, const std::string& gov_file, const std::string& min_file,
                    const std::string& max_file, const std::string& cur_file, const std::string& user_file) {
  KnobSpec g{prefix + ".governor", "", "frequency governor (" + (dir / gov_file).string() + ")", KnobType::Text, {}, {}, {}, governors};
  c.p.add_knob(std::make_unique<SysfsKnob>(g, dir / gov_file));
  KnobSpec mn{prefix + ".min_freq", unit, "lowest frequency the governor may pick (" + (dir / min_file).string() + ")",
              KnobType::Numeric, values, lo, hi, {}};
  KnobSpec mx = mn;
  mx.name = prefix + ".max_freq";
  mx.description = "highest frequency the governor may pick (" + (dir / max_file).string() + ")";
  Knob& kmin = c.p.add_knob(std::make_unique<SysfsKnob>(mn, dir / min_file));
  Knob& kmax = c.p.add_knob(std::make_unique<SysfsKnob>(mx, dir / max_file));
  KnobSpec pin = mn;
  pin.name = prefix + ".freq";
  pin.description = "pinned frequency: writes min_freq = max_freq (any governor); reads the pinned or current value";
  c.p.add_knob(std::make_unique<PinnedFreqKnob>(pin, &kmin, &kmax, dir / cur_file));
  if (sysfs::exists(dir / user_file)) {
    KnobSpec us = mn;
    us.name = prefix + ".setspeed";
    us.description = "target frequency under the userspace governor (" + (dir / user_file).string() + ")";
    auto k = std::make_unique<UserspaceKnob>(us, dir / user_file, dir / gov_file);
    c.p.add_knob(std::move(k));
  }
}

void add_hotplug_knobs(Ctx& c, const std::vector<int>& online) {
  const fs::path base = c.sys("sys/devices/system/cpu");
  std::vector<int> cpus = online;
  for (const char* f : {"present", "possible"}) {
    try {
      auto v = sysfs::parse_cpu_list(sysfs::read(base / f), (base / f).string());
      if (v.empty()) continue;
      cpus.insert(cpus.end(), v.begin(), v.end());
      break;
    } catch (const Error&) {  // detect_cpus already noted a broken list
    }
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  for (int cpu : cpus) {
    const fs::path f = base / fmt::format("cpu{}", cpu) / "online";
    if (!sysfs::exists(f)) continue;
    KnobSpec k{fmt::format("cpu{}.online", cpu), "", fmt::format("CPU hot-plug: 1 online, 0 offline ({})", f.string()), KnobType::Numeric,
               {0, 1}, {}, {}, {}};
    c.p.add_knob(std::make_unique<SysfsKnob>(k, f));
  }
}

std::unique_ptr<Knob> make_affinity_knob(KnobSpec spec, uint64_t allowed) {
  return std::make_unique<AffinityKnob>(std::move(spec), allowed);
}

}  // namespace dynn::linux_backends
