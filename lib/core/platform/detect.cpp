// Platform::detect: builds the knobs and sensors of a Linux machine from sysfs/procfs under a root
// directory (docs/platform.md lists the files). Absent or broken pieces become notes and
// unavailable knobs/sensors; detection itself does not fail.
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "core/platform/sysfs.hpp"
#include "dynn/error.hpp"
#include "dynn/platform/platform.hpp"

namespace dynn {

namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------- knobs

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

// NVML locked graphics clocks: min and max share one lock (nvmlDeviceSetGpuLockedClocks).
struct NvmlLock {
  std::shared_ptr<const NvmlApi> api;
  void* dev = nullptr;
  unsigned lo = 0, hi = 0;          // supported range
  unsigned cur_lo = 0, cur_hi = 0;  // what we locked (== lo/hi when unlocked)
  std::string err(int rc) const { return api->error_string ? api->error_string(rc) : fmt::format("NVML error {}", rc); }
};

class NvmlClockKnob : public Knob {
 public:
  NvmlClockKnob(KnobSpec spec, std::shared_ptr<NvmlLock> lock, bool is_max, bool allow_writes)
      : Knob(std::move(spec)), m_lock(std::move(lock)), m_is_max(is_max) {
    if (!m_lock->api->device_set_gpu_locked_clocks || !m_lock->api->device_reset_gpu_locked_clocks)
      mark_unwritable("NVML has no nvmlDeviceSetGpuLockedClocks (driver too old)");
    else if (!allow_writes)
      mark_unwritable("read-only by default: NVML setters change a shared GPU; set DetectOptions::allow_nvml_writes");
  }

 protected:
  int64_t read_numeric() const override { return m_is_max ? m_lock->cur_hi : m_lock->cur_lo; }
  void write_numeric(int64_t v) override {
    unsigned lo = m_lock->cur_lo, hi = m_lock->cur_hi;
    (m_is_max ? hi : lo) = static_cast<unsigned>(v);
    if (lo > hi) (m_is_max ? lo : hi) = static_cast<unsigned>(v);
    int rc = (lo == m_lock->lo && hi == m_lock->hi) ? m_lock->api->device_reset_gpu_locked_clocks(m_lock->dev)
                                                     : m_lock->api->device_set_gpu_locked_clocks(m_lock->dev, lo, hi);
    if (rc != 0) throw Error(rc == 4 ? ErrorCode::PermissionDenied : ErrorCode::Backend,
                             fmt::format("nvmlDeviceSetGpuLockedClocks({}, {}): {}", lo, hi, m_lock->err(rc)));
    m_lock->cur_lo = lo;
    m_lock->cur_hi = hi;
  }

 private:
  std::shared_ptr<NvmlLock> m_lock;
  bool m_is_max;
};

class NvmlPowerLimitKnob : public Knob {
 public:
  NvmlPowerLimitKnob(KnobSpec spec, std::shared_ptr<NvmlLock> dev, bool allow_writes) : Knob(std::move(spec)), m_dev(std::move(dev)) {
    if (!m_dev->api->device_set_power_management_limit) mark_unwritable("NVML has no nvmlDeviceSetPowerManagementLimit");
    else if (!allow_writes)
      mark_unwritable("read-only by default: NVML setters change a shared GPU; set DetectOptions::allow_nvml_writes");
  }

 protected:
  int64_t read_numeric() const override {
    unsigned mw = 0;
    if (int rc = m_dev->api->device_get_power_management_limit(m_dev->dev, &mw); rc != 0)
      throw Error(ErrorCode::Backend, "nvmlDeviceGetPowerManagementLimit: " + m_dev->err(rc));
    return mw;
  }
  void write_numeric(int64_t v) override {
    if (int rc = m_dev->api->device_set_power_management_limit(m_dev->dev, static_cast<unsigned>(v)); rc != 0)
      throw Error(rc == 4 ? ErrorCode::PermissionDenied : ErrorCode::Backend,
                  fmt::format("nvmlDeviceSetPowerManagementLimit({}): {}", v, m_dev->err(rc)));
  }

 private:
  std::shared_ptr<NvmlLock> m_dev;
};

// ---------------------------------------------------------------- sensors

// One integer file times a scale (mW -> W, m°C -> °C, kHz -> MHz, per-mille -> %).
class SysfsSensor : public Sensor {
 public:
  SysfsSensor(std::string name, std::string unit, std::string desc, fs::path path, double scale, bool decimal = false)
      : Sensor(std::move(name), std::move(unit), SensorKind::Instant, std::move(desc)), m_path(std::move(path)), m_scale(scale),
        m_decimal(decimal) {
    if (auto p = sysfs::read_problem(m_path); !p.empty()) mark_unavailable(p);
  }

 protected:
  double sample() override {
    if (m_decimal) return sysfs::parse_double(sysfs::read(m_path), m_path.string()) * m_scale;
    return static_cast<double>(sysfs::read_int(m_path)) * m_scale;
  }
  fs::path m_path;
  double m_scale;
  bool m_decimal;
};

// JetPack 5+ hwmon INA3221 channel: bus mV x current mA -> W.
class HwmonPowerSensor : public Sensor {
 public:
  HwmonPowerSensor(std::string name, std::string desc, fs::path mv, fs::path ma)
      : Sensor(std::move(name), "W", SensorKind::Instant, std::move(desc)), m_mv(std::move(mv)), m_ma(std::move(ma)) {
    if (auto p = sysfs::read_problem(m_mv); !p.empty()) mark_unavailable(p);
    else if (auto q = sysfs::read_problem(m_ma); !q.empty()) mark_unavailable(q);
  }

 protected:
  double sample() override { return static_cast<double>(sysfs::read_int(m_mv)) * static_cast<double>(sysfs::read_int(m_ma)) * 1e-6; }

 private:
  fs::path m_mv, m_ma;
};

// RAPL energy_uj: a µJ counter that wraps at max_energy_range_uj; reported in J, monotone.
class RaplSensor : public Sensor {
 public:
  RaplSensor(std::string name, std::string desc, fs::path dir)
      : Sensor(std::move(name), "J", SensorKind::Counter, std::move(desc)), m_energy(dir / "energy_uj") {
    if (auto p = sysfs::read_problem(m_energy); !p.empty()) {
      mark_unavailable(p + (p.rfind("permission", 0) == 0 ? "; energy_uj is root-only since Linux 5.10" : ""));
      return;
    }
    try {
      m_range = sysfs::read_int(dir / "max_energy_range_uj");
      if (m_range <= 0) throw Error(ErrorCode::Parse, (dir / "max_energy_range_uj").string() + " is not positive");
    } catch (const Error& e) {
      mark_unavailable(std::string("wrap point unknown: ") + e.what());
    }
  }

 protected:
  double sample() override {
    int64_t raw = sysfs::read_int(m_energy);
    if (raw < 0 || raw > m_range)
      throw Error(ErrorCode::Parse, fmt::format("{} = {} is outside 0..{} (max_energy_range_uj)", m_energy.string(), raw, m_range));
    if (m_prev && raw < *m_prev) m_wraps += 1;  // one wrap per read: reads must be < one wrap period apart (~minutes)
    m_prev = raw;
    return (static_cast<double>(raw) + static_cast<double>(m_wraps) * (static_cast<double>(m_range) + 1.0)) * 1e-6;
  }

 private:
  fs::path m_energy;
  int64_t m_range = 0;
  std::optional<int64_t> m_prev;
  int64_t m_wraps = 0;
};

// /proc/stat: busy share of the CPU time since the previous read (first read: since boot).
class ProcStatSensor : public Sensor {
 public:
  ProcStatSensor(std::string name, std::string desc, fs::path stat, std::string line)
      : Sensor(std::move(name), "%", SensorKind::Instant, std::move(desc)), m_stat(std::move(stat)), m_line(std::move(line)) {
    if (auto p = sysfs::read_problem(m_stat); !p.empty()) mark_unavailable(p);
    set_plausible_range(0, 100);
  }

 protected:
  double sample() override {
    std::istringstream in(sysfs::read(m_stat));
    std::string l;
    while (std::getline(in, l)) {
      std::istringstream ls(l);
      std::string head;
      ls >> head;
      if (head != m_line) continue;
      std::vector<long long> f;
      long long x;
      while (ls >> x) f.push_back(x);
      if (f.size() < 4 || std::any_of(f.begin(), f.end(), [](long long v) { return v < 0; }))
        throw Error(ErrorCode::Parse, fmt::format("{}: line '{}' has no valid counters", m_stat.string(), m_line));
      long long total = 0;
      for (size_t i = 0; i < f.size() && i < 8; ++i) total += f[i];  // guest time is already in user
      long long idle = f[3] + (f.size() > 4 ? f[4] : 0);
      long long dt = total - m_total, di = idle - m_idle;
      if (dt < 0 || di < 0) throw Error(ErrorCode::Parse, fmt::format("{}: counters of '{}' went backwards", m_stat.string(), m_line));
      m_total = total;
      m_idle = idle;
      if (dt == 0) return m_last;
      m_last = 100.0 * static_cast<double>(dt - di) / static_cast<double>(dt);
      return m_last;
    }
    throw Error(ErrorCode::Parse, fmt::format("{} has no '{}' line", m_stat.string(), m_line));
  }

 private:
  fs::path m_stat;
  std::string m_line;
  long long m_total = 0, m_idle = 0;
  double m_last = 0;
};

// Energy integrated from a polled power sensor (trapezoid between reads of this sensor). As
// accurate as the read rate: read it at least a few times per inference.
class IntegratedEnergySensor : public Sensor {
 public:
  IntegratedEnergySensor(std::string name, std::string desc, Sensor* power)
      : Sensor(std::move(name), "J", SensorKind::Counter, std::move(desc)), m_power(power) {
    if (!m_power->available()) mark_unavailable(m_power->name() + " unavailable: " + m_power->unavailable_reason());
  }

 protected:
  double sample() override {
    double p = m_power->read(), t = now();
    if (m_t) m_energy += 0.5 * (p + m_p) * std::max(0.0, t - *m_t);
    m_t = t;
    m_p = p;
    return m_energy;
  }

 private:
  Sensor* m_power;
  std::optional<double> m_t;
  double m_p = 0, m_energy = 0;
};

// Average power over the time between reads, from energy counters.
class CounterPowerSensor : public Sensor {
 public:
  CounterPowerSensor(std::string name, std::string desc, std::vector<Sensor*> energy)
      : Sensor(std::move(name), "W", SensorKind::Instant, std::move(desc)), m_energy(std::move(energy)) {
    for (auto* e : m_energy)
      if (!e->available()) mark_unavailable(e->name() + " unavailable: " + e->unavailable_reason());
  }

 protected:
  double sample() override {
    double e = 0;
    for (auto* s : m_energy) e += s->read();
    double t = now();
    double p = m_last_p;
    if (m_t && t > *m_t) p = (e - m_e) / (t - *m_t);
    else if (!m_t) {
      m_t = t;
      m_e = e;
      throw Error(ErrorCode::Busy, "average power needs two reads; read again later");
    }
    m_t = t;
    m_e = e;
    m_last_p = p;
    return p;
  }

 private:
  std::vector<Sensor*> m_energy;
  std::optional<double> m_t;
  double m_e = 0, m_last_p = 0;
};

class SumSensor : public Sensor {
 public:
  SumSensor(std::string name, std::string unit, SensorKind kind, std::string desc, std::vector<Sensor*> parts)
      : Sensor(std::move(name), std::move(unit), kind, std::move(desc)), m_parts(std::move(parts)) {
    for (auto* e : m_parts)
      if (!e->available()) mark_unavailable(e->name() + " unavailable: " + e->unavailable_reason());
  }

 protected:
  double sample() override {
    double s = 0;
    for (auto* p : m_parts) s += p->read();
    return s;
  }

 private:
  std::vector<Sensor*> m_parts;
};

std::string clean_name(std::string s) {
  for (char& c : s)
    if (c == ' ' || c == '/' || c == '\t') c = '_';
  return s;
}

// ---------------------------------------------------------------- detection steps

struct Ctx {
  Platform& p;
  fs::path root;
  const DetectOptions& opt;
  fs::path sys(const std::string& rel) const { return root / rel; }
};

std::vector<int> detect_cpus(Ctx& c) {
  fs::path cpu = c.sys("sys/devices/system/cpu");
  for (const char* f : {"online", "present", "possible"}) {
    try {
      auto v = sysfs::parse_cpu_list(sysfs::read(cpu / f), (cpu / f).string());
      if (!v.empty()) return v;
    } catch (const Error& e) {
      c.p.add_note(fmt::format("cpu list: {}", e.what()));
    }
  }
  std::vector<int> v;
  for (auto& d : sysfs::list(cpu, "cpu")) {
    std::string n = d.filename().string().substr(3);
    if (!n.empty() && std::all_of(n.begin(), n.end(), ::isdigit)) v.push_back(std::stoi(n));
  }
  if (!v.empty()) return v;
  if (c.root == fs::path("/")) {
    unsigned n = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < n; ++i) v.push_back(static_cast<int>(i));
    c.p.add_note(fmt::format("no CPU list under {}; using {} CPUs from the C++ runtime", cpu.string(), n));
  } else {
    c.p.add_note(fmt::format("no CPU list under {}", cpu.string()));
  }
  return v;
}

const std::vector<std::string> kGpuNodeNames = {"gv11b", "gp10b", "ga10b", "gb10b", "gpu"};

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

void detect_cpufreq(Ctx& c, std::vector<CpuCluster>& clusters) {
  fs::path base = c.sys("sys/devices/system/cpu/cpufreq");
  auto policies = sysfs::list(base, "policy");
  if (policies.empty()) {
    c.p.add_note(fmt::format("CPU DVFS absent: no {}/policy* (no cpufreq driver, e.g. a VM or container)", base.string()));
    return;
  }
  for (auto& dir : policies) {
    std::string pol = dir.filename().string();
    std::string prefix = "cpufreq." + pol;
    std::vector<int> cpus;
    for (const char* f : {"related_cpus", "affected_cpus"}) {
      try {
        cpus = sysfs::parse_cpu_list(sysfs::read(dir / f), (dir / f).string());
        if (!cpus.empty()) break;
      } catch (const Error&) {
      }
    }
    std::vector<int64_t> values;
    std::optional<int64_t> lo, hi;
    try {
      values = sysfs::read_ints(dir / "scaling_available_frequencies");
    } catch (const Error& e) {
      if (sysfs::exists(dir / "scaling_available_frequencies")) c.p.add_note(fmt::format("{}: {}", prefix, e.what()));
      try {
        lo = sysfs::read_int(dir / "cpuinfo_min_freq");
        hi = sysfs::read_int(dir / "cpuinfo_max_freq");
      } catch (const Error& e2) {
        c.p.add_note(fmt::format("{}: no frequency list or limits: {}", prefix, e2.what()));
      }
    }
    std::vector<std::string> govs;
    try {
      govs = sysfs::read_words(dir / "scaling_available_governors");
    } catch (const Error& e) {
      c.p.add_note(fmt::format("{}: {}", prefix, e.what()));
    }
    add_freq_knobs(c, prefix, dir, "kHz", values, lo, hi, govs, "scaling_governor", "scaling_min_freq", "scaling_max_freq",
                   "scaling_cur_freq", "scaling_setspeed");
    auto& s = c.p.add_sensor(std::make_unique<SysfsSensor>("freq." + pol, "MHz", "current CPU frequency of " + pol + " (scaling_cur_freq)",
                                                           dir / "scaling_cur_freq", 1e-3));
    s.set_plausible_range(0, 1e5);
    for (auto& cl : clusters) {
      if (cl.cpus.empty() || std::find(cpus.begin(), cpus.end(), cl.cpus.front()) == cpus.end()) continue;
      cl.policy = pol;
      if (!values.empty()) {
        cl.min_khz = values.front();
        cl.max_khz = values.back();
      } else if (lo && hi) {
        cl.min_khz = *lo;
        cl.max_khz = *hi;
      }
    }
  }
}

std::vector<CpuCluster> detect_clusters(Ctx& c, const std::vector<int>& cpus) {
  fs::path base = c.sys("sys/devices/system/cpu");
  std::vector<CpuCluster> out;
  std::map<std::pair<long long, long long>, size_t> index;
  bool any_topology = false;
  for (int cpu : cpus) {
    fs::path d = base / ("cpu" + std::to_string(cpu));
    long long cid = -1, pkg = 0, cap = 1024;
    try {
      cid = sysfs::read_int(d / "topology/cluster_id");
      any_topology = true;
    } catch (const Error&) {
    }
    try {
      pkg = sysfs::read_int(d / "topology/physical_package_id");
    } catch (const Error&) {
    }
    try {
      cap = sysfs::read_int(d / "cpu_capacity");
      any_topology = true;
    } catch (const Error&) {
    }
    auto key = std::make_pair(pkg * 100000 + cid, cap);
    auto it = index.find(key);
    if (it == index.end()) {
      CpuCluster cl;
      cl.id = static_cast<int>(out.size());
      cl.capacity = static_cast<int>(cap);
      index[key] = out.size();
      out.push_back(cl);
      it = index.find(key);
    }
    out[it->second].cpus.push_back(cpu);
  }
  if (!any_topology && !cpus.empty())
    c.p.add_note("CPU topology absent (no topology/cluster_id or cpu_capacity): all CPUs form one cluster");
  return out;
}

void detect_devfreq_gpu(Ctx& c) {
  fs::path base = c.sys("sys/class/devfreq");
  int n = 0;
  for (auto& dir : sysfs::list(base, "")) {
    std::string dev = dir.filename().string(), node;
    try {
      node = sysfs::read(dir / "device/of_node/name");
    } catch (const Error&) {
      auto dot = dev.rfind('.');  // fall back on the device name "17000000.gv11b"
      node = dot == std::string::npos ? dev : dev.substr(dot + 1);
    }
    if (std::find(kGpuNodeNames.begin(), kGpuNodeNames.end(), node) == kGpuNodeNames.end()) continue;
    std::string prefix = n == 0 ? "gpu" : "gpu" + std::to_string(n);
    ++n;
    std::vector<int64_t> values;
    std::optional<int64_t> lo, hi;
    try {
      values = sysfs::read_ints(dir / "available_frequencies");
    } catch (const Error& e) {
      c.p.add_note(fmt::format("{} ({}): {}", prefix, dev, e.what()));
    }
    std::vector<std::string> govs;
    try {
      govs = sysfs::read_words(dir / "available_governors");
    } catch (const Error& e) {
      c.p.add_note(fmt::format("{} ({}): {}", prefix, dev, e.what()));
    }
    add_freq_knobs(c, prefix, dir, "Hz", values, lo, hi, govs, "governor", "min_freq", "max_freq", "cur_freq", "userspace/set_freq");
    auto& f = c.p.add_sensor(std::make_unique<SysfsSensor>("freq." + prefix, "MHz", "current GPU frequency (" + dev + "/cur_freq)",
                                                           dir / "cur_freq", 1e-6));
    f.set_plausible_range(0, 1e5);
    // GPU load, per-mille: next to the device (Orin), or the legacy gpu.0 paths (Nano/TX2/Xavier).
    std::vector<fs::path> loads = {dir / "device/load", c.sys("sys/devices/gpu.0/load"), c.sys("sys/devices/platform/gpu.0/load")};
    bool found = false;
    for (auto& l : loads) {
      if (!sysfs::exists(l)) continue;
      auto& s = c.p.add_sensor(std::make_unique<SysfsSensor>("util." + prefix, "%", "GPU load (" + l.string() + ", per-mille / 10)", l, 0.1));
      s.set_plausible_range(0, 100);
      found = true;
      break;
    }
    if (!found) c.p.add_note(fmt::format("{}: no GPU load file (looked at {})", prefix, loads.front().string()));
  }
  if (n == 0) c.p.add_note(fmt::format("devfreq GPU absent: no {}/* with of_node name in gv11b/gp10b/ga10b/gb10b/gpu", base.string()));
}

void detect_power(Ctx& c, std::vector<Sensor*>& rails, Sensor*& total) {
  // JetPack <= 4: ina3221x iio, mW.
  for (auto& dev : sysfs::list(c.sys("sys/bus/i2c/drivers/ina3221x"), "")) {
    for (auto& iio : sysfs::list(dev, "iio:device")) {
      for (int ch = 0; ch < 3; ++ch) {
        fs::path pw = iio / fmt::format("in_power{}_input", ch);
        if (!sysfs::exists(pw)) continue;
        std::string rail;
        try {
          rail = clean_name(sysfs::read(iio / fmt::format("rail_name_{}", ch)));
        } catch (const Error&) {
        }
        if (rail.empty()) rail = fmt::format("ina3221.{}.ch{}", dev.filename().string(), ch);
        if (c.p.find_sensor("power." + rail)) continue;
        auto& s = c.p.add_sensor(std::make_unique<SysfsSensor>("power." + rail, "W", "INA3221 rail " + rail + " (" + pw.string() + ", mW)", pw, 1e-3));
        s.set_plausible_range(0, 1000);
        rails.push_back(&s);
      }
    }
  }
  // JetPack >= 5: mainline ina3221 hwmon, mV x mA.
  for (auto& dev : sysfs::list(c.sys("sys/bus/i2c/drivers/ina3221"), "")) {
    for (auto& hw : sysfs::list(dev / "hwmon", "hwmon")) {
      for (int ch = 1; ch <= 3; ++ch) {
        fs::path mv = hw / fmt::format("in{}_input", ch), ma = hw / fmt::format("curr{}_input", ch);
        if (!sysfs::exists(mv) && !sysfs::exists(ma)) continue;
        std::string rail;
        try {
          rail = clean_name(sysfs::read(hw / fmt::format("in{}_label", ch)));
        } catch (const Error&) {
        }
        if (rail.empty()) rail = fmt::format("ina3221.{}.ch{}", dev.filename().string(), ch);
        if (c.p.find_sensor("power." + rail)) continue;
        auto& s = c.p.add_sensor(std::make_unique<HwmonPowerSensor>("power." + rail, "INA3221 rail " + rail + " (" + mv.string() + " x curr, mV x mA)", mv, ma));
        s.set_plausible_range(0, 1000);
        rails.push_back(&s);
      }
    }
  }
  // Odroid XU3 INA231 (vendor kernel): watts.
  const std::map<std::string, std::string> ina231 = {{"3-0040", "arm"}, {"3-0041", "mem"}, {"3-0044", "g3d"}, {"3-0045", "kfc"}};
  for (auto& [addr, rail] : ina231) {
    fs::path w = c.sys("sys/bus/i2c/drivers/INA231") / addr / "sensor_W";
    if (!sysfs::exists(w)) continue;
    std::string name = "power." + rail;
    auto& s = c.p.add_sensor(std::make_unique<SysfsSensor>(name, "W", "INA231 " + rail + " (" + w.string() + ", W; needs enable=1)", w, 1.0, true));
    s.set_plausible_range(0, 100);
    rails.push_back(&s);
  }
  if (rails.empty()) {
    c.p.add_note("board power rails absent (no INA3221/INA231 under sys/bus/i2c/drivers)");
    return;
  }
  for (auto* r : rails)
    if (r->name() == "power.VDD_IN" || r->name() == "power.POM_5V_IN") total = r;
}

void detect_rapl(Ctx& c, std::vector<Sensor*>& packages) {
  fs::path base = c.sys("sys/class/powercap");
  auto zones = sysfs::list(base, "intel-rapl:");
  // Packages ("intel-rapl:0") before their sub-zones ("intel-rapl:0:1"), which are named after them.
  std::stable_sort(zones.begin(), zones.end(), [](const fs::path& a, const fs::path& b) {
    auto depth = [](const fs::path& p) { auto n = p.filename().string(); return std::count(n.begin(), n.end(), ':'); };
    return depth(a) < depth(b);
  });
  if (zones.empty()) {
    c.p.add_note(fmt::format("RAPL absent: no {}/intel-rapl:*", base.string()));
    return;
  }
  std::map<std::string, std::string> pkg_names;  // "intel-rapl:0" -> "package-0"
  for (auto& z : zones) {
    std::string id = z.filename().string();
    std::string zname;
    try {
      zname = clean_name(sysfs::read(z / "name"));
    } catch (const Error&) {
      zname = id;
    }
    bool sub = std::count(id.begin(), id.end(), ':') == 2;
    std::string sname;
    if (!sub) {
      pkg_names[id] = zname;
      sname = "energy." + zname;
    } else {
      std::string parent = id.substr(0, id.rfind(':'));
      sname = "energy." + (pkg_names.count(parent) ? pkg_names[parent] : parent) + "." + zname;
    }
    if (c.p.find_sensor(sname)) continue;
    auto s = std::make_unique<RaplSensor>(sname, "RAPL " + id + " (" + zname + ") energy_uj, wrap-corrected", z);
    s->set_stale_after(c.opt.counter_stale_after_s);
    if (!s->available()) c.p.add_note(fmt::format("{}: {}", sname, s->unavailable_reason()));
    auto& ref = c.p.add_sensor(std::move(s));
    if (!sub && zname.rfind("package", 0) == 0) packages.push_back(&ref);
  }
}

void detect_thermal(Ctx& c) {
  fs::path base = c.sys("sys/class/thermal");
  auto zones = sysfs::list(base, "thermal_zone");
  if (zones.empty()) {
    c.p.add_note(fmt::format("thermal zones absent: no {}/thermal_zone*", base.string()));
    return;
  }
  for (auto& z : zones) {
    std::string type;
    try {
      type = clean_name(sysfs::read(z / "type"));
    } catch (const Error& e) {
      c.p.add_note(fmt::format("{}: {}", z.filename().string(), e.what()));
      continue;
    }
    if (type.empty()) type = z.filename().string();
    std::string name = "temp." + type;
    if (c.p.find_sensor(name)) name += "." + z.filename().string();
    auto& s = c.p.add_sensor(std::make_unique<SysfsSensor>(name, "degC", "thermal zone " + z.filename().string() + " (" + type + "), m°C", z / "temp", 1e-3));
    s.set_plausible_range(-60, 200);
  }
}

void detect_proc_stat(Ctx& c, const std::vector<int>& cpus) {
  fs::path stat = c.sys("proc/stat");
  if (!sysfs::exists(stat)) {
    c.p.add_note(fmt::format("CPU utilisation absent: no {}", stat.string()));
    return;
  }
  c.p.add_sensor(std::make_unique<ProcStatSensor>("util.cpu", "busy share of all CPUs since the previous read (/proc/stat)", stat, "cpu"));
  for (int cpu : cpus)
    c.p.add_sensor(std::make_unique<ProcStatSensor>(fmt::format("util.cpu{}", cpu), fmt::format("busy share of CPU {} since the previous read", cpu),
                                                    stat, fmt::format("cpu{}", cpu)));
}

int detect_nvml(Ctx& c, std::vector<Sensor*>& energies) {
  std::shared_ptr<const NvmlApi> api = c.opt.nvml_api;
  if (!api) {
    if (!c.opt.use_nvml || c.root != fs::path("/")) return 0;
    std::string why;
    api = load_nvml(&why);
    if (!api) {
      c.p.add_note(why);
      return 0;
    }
  }
  auto err = [api](int rc) { return api->error_string ? std::string(api->error_string(rc)) : fmt::format("NVML error {}", rc); };
  unsigned count = 0;
  if (int rc = api->device_get_count(&count); rc != 0) {
    c.p.add_note("nvmlDeviceGetCount failed: " + err(rc));
    return 0;
  }
  for (unsigned i = 0; i < count; ++i) {
    void* dev = nullptr;
    if (int rc = api->device_get_handle_by_index(i, &dev); rc != 0) {
      c.p.add_note(fmt::format("NVML device {}: {}", i, err(rc)));
      continue;
    }
    std::string id = fmt::format("cuda{}", i);
    auto add = [&](const std::string& name, const std::string& unit, SensorKind kind, const std::string& desc, auto fn, bool present) {
      if (!present) {
        c.p.add_note(fmt::format("{}: NVML lacks the call", name));
        return static_cast<Sensor*>(nullptr);
      }
      auto s = std::make_unique<FunctionSensor>(name, unit, kind, desc, fn);
      if (kind == SensorKind::Counter) s->set_stale_after(c.opt.counter_stale_after_s);
      auto& ref = c.p.add_sensor(std::move(s));
      if (!ref.try_read()) c.p.add_note(fmt::format("{}: {}", name, ref.last_error()));
      return &ref;
    };
    add("power." + id, "W", SensorKind::Instant, "nvmlDeviceGetPowerUsage (mW, averaged)", [api, dev, err] {
      unsigned mw = 0;
      if (int rc = api->device_get_power_usage(dev, &mw); rc != 0) throw Error(ErrorCode::Backend, "nvmlDeviceGetPowerUsage: " + err(rc));
      return mw * 1e-3;
    }, api->device_get_power_usage != nullptr);
    if (auto* e = add("energy." + id, "J", SensorKind::Counter, "nvmlDeviceGetTotalEnergyConsumption (mJ since driver load)", [api, dev, err] {
          unsigned long long mj = 0;
          if (int rc = api->device_get_total_energy_consumption(dev, &mj); rc != 0)
            throw Error(ErrorCode::Backend, "nvmlDeviceGetTotalEnergyConsumption: " + err(rc));
          return static_cast<double>(mj) * 1e-3;
        }, api->device_get_total_energy_consumption != nullptr))
      energies.push_back(e);
    for (auto [suffix, type] : {std::pair<const char*, int>{"", 0}, {".mem", 2}}) {
      add("freq." + id + suffix, "MHz", SensorKind::Instant, type == 0 ? "graphics clock (nvmlDeviceGetClockInfo)" : "memory clock (nvmlDeviceGetClockInfo)",
          [api, dev, err, type = type] {
            unsigned mhz = 0;
            if (int rc = api->device_get_clock_info(dev, type, &mhz); rc != 0) throw Error(ErrorCode::Backend, "nvmlDeviceGetClockInfo: " + err(rc));
            return static_cast<double>(mhz);
          }, api->device_get_clock_info != nullptr);
    }
    add("temp." + id, "degC", SensorKind::Instant, "GPU die temperature (nvmlDeviceGetTemperature)", [api, dev, err] {
      unsigned t = 0;
      if (int rc = api->device_get_temperature(dev, 0, &t); rc != 0) throw Error(ErrorCode::Backend, "nvmlDeviceGetTemperature: " + err(rc));
      return static_cast<double>(t);
    }, api->device_get_temperature != nullptr);
    add("util." + id, "%", SensorKind::Instant, "GPU utilisation (nvmlDeviceGetUtilizationRates)", [api, dev, err] {
      NvmlUtilization u{};
      if (int rc = api->device_get_utilization_rates(dev, &u); rc != 0) throw Error(ErrorCode::Backend, "nvmlDeviceGetUtilizationRates: " + err(rc));
      return static_cast<double>(u.gpu);
    }, api->device_get_utilization_rates != nullptr);

    // Locked-clock knobs: values = graphics clocks supported at the highest memory clock.
    auto lock = std::make_shared<NvmlLock>();
    lock->api = api;
    lock->dev = dev;
    std::vector<int64_t> clocks;
    if (api->device_get_supported_memory_clocks && api->device_get_supported_graphics_clocks) {
      unsigned n = 64, mem[64];
      if (api->device_get_supported_memory_clocks(dev, &n, mem) == 0 && n > 0) {
        unsigned top = *std::max_element(mem, mem + std::min(n, 64u));
        unsigned g[512], gn = 512;
        if (api->device_get_supported_graphics_clocks(dev, top, &gn, g) == 0)
          for (unsigned k = 0; k < std::min(gn, 512u); ++k) clocks.push_back(g[k]);
      }
    }
    if (!clocks.empty()) {
      std::sort(clocks.begin(), clocks.end());
      lock->lo = lock->cur_lo = static_cast<unsigned>(clocks.front());
      lock->hi = lock->cur_hi = static_cast<unsigned>(clocks.back());
      KnobSpec mn{id + ".min_clock", "MHz", "locked graphics clock, lower bound (nvmlDeviceSetGpuLockedClocks; reset when back to full range)",
                  KnobType::Numeric, clocks, {}, {}, {}};
      KnobSpec mx = mn;
      mx.name = id + ".max_clock";
      mx.description = "locked graphics clock, upper bound (nvmlDeviceSetGpuLockedClocks)";
      c.p.add_knob(std::make_unique<NvmlClockKnob>(mn, lock, false, c.opt.allow_nvml_writes));
      c.p.add_knob(std::make_unique<NvmlClockKnob>(mx, lock, true, c.opt.allow_nvml_writes));
    } else {
      c.p.add_note(id + ": no supported graphics clock list from NVML; no clock knobs");
    }
    unsigned pl_lo = 0, pl_hi = 0, pl = 0;
    if (api->device_get_power_management_limit && api->device_get_power_management_limit_constraints &&
        api->device_get_power_management_limit_constraints(dev, &pl_lo, &pl_hi) == 0 && api->device_get_power_management_limit(dev, &pl) == 0) {
      KnobSpec ps{id + ".power_limit", "mW", "board power limit (nvmlDeviceSetPowerManagementLimit)", KnobType::Numeric, {}, pl_lo, pl_hi, {}};
      c.p.add_knob(std::make_unique<NvmlPowerLimitKnob>(ps, lock, c.opt.allow_nvml_writes));
    }
  }
  return static_cast<int>(count);
}

}  // namespace

std::unique_ptr<Platform> Platform::detect(const DetectOptions& options) {
  fs::path root = options.root.empty() ? fs::path("/") : fs::path(options.root);
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw Error(ErrorCode::NotFound, fmt::format("Platform::detect: root {} is not a directory", root.string()));
  std::string host = "linux";
  try {
    std::string model = sysfs::read(root / "proc/device-tree/model");
    if (!model.empty()) host = model;
  } catch (const Error&) {
  }
  auto p = std::make_unique<Platform>(host, options.clock);
  Ctx c{*p, root, options};

  auto cpus = detect_cpus(c);
  auto clusters = detect_clusters(c, cpus);
  detect_cpufreq(c, clusters);
  p->set_cpu_clusters(clusters);
  detect_devfreq_gpu(c);

  std::vector<Sensor*> rails, packages, gpu_energy;
  Sensor* total = nullptr;
  detect_power(c, rails, total);
  detect_rapl(c, packages);
  detect_thermal(c);
  detect_proc_stat(c, cpus);
  int ncuda = detect_nvml(c, gpu_energy);

  // Totals controllers can rely on: energy.total (J, counter) and power.total (W).
  if (!packages.empty() || !gpu_energy.empty()) {
    std::vector<Sensor*> parts = packages;
    parts.insert(parts.end(), gpu_energy.begin(), gpu_energy.end());
    auto s = std::make_unique<SumSensor>("energy.total", "J", SensorKind::Counter, "sum of RAPL package and NVML energy counters", parts);
    s->set_stale_after(options.counter_stale_after_s);
    Sensor& e = p->add_sensor(std::move(s));
    if (!total) {
      auto& pt = p->add_sensor(std::make_unique<CounterPowerSensor>("power.total", "average power between reads, from energy.total", std::vector<Sensor*>{&e}));
      pt.try_read();  // baseline, so the first real read averages since detection
    }
    else p->add_sensor(std::make_unique<FunctionSensor>("power.total", "W", SensorKind::Instant, "= " + total->name(), [total] { return total->read(); }));
  } else if (total || !rails.empty()) {
    Sensor* pw = total;
    if (!pw) pw = &p->add_sensor(std::make_unique<SumSensor>("power.total", "W", SensorKind::Instant, "sum of the board power rails (no total rail found)", rails));
    else p->add_sensor(std::make_unique<FunctionSensor>("power.total", "W", SensorKind::Instant, "= " + total->name(), [total] { return total->read(); }));
    p->add_sensor(std::make_unique<IntegratedEnergySensor>("energy.total", "integral of " + pw->name() + " between reads of this sensor (polled)", pw));
  } else {
    p->add_note("no power or energy sensor: power.total and energy.total absent");
  }

  // Runtime knobs (always present).
  uint64_t allowed = 0;
  for (int cpu : cpus)
    if (cpu < 64) allowed |= uint64_t{1} << cpu;
  if (root == fs::path("/")) {  // intersect with what this process may use (cgroup cpuset)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
      uint64_t mine = 0;
      for (int i = 0; i < 64; ++i)
        if (CPU_ISSET(i, &set)) mine |= uint64_t{1} << i;
      if (allowed & mine) allowed &= mine;
    }
  }
  const int ncpu = std::max(1, static_cast<int>(cpus.size()));
  KnobSpec aff{"affinity", "cpumask", "CPUs the inference threads may run on (bit i = CPU i; sched/pthread affinity)", KnobType::Numeric,
               {}, 1, static_cast<int64_t>(allowed ? allowed : 1), {}};
  p->add_knob(std::make_unique<AffinityKnob>(aff, allowed ? allowed : 1));
  KnobSpec th{"threads", "threads", "intra-op threads of the model (stored until the model binds the knob)", KnobType::Numeric, {}, 1, ncpu, {}};
  p->add_knob(std::make_unique<CallbackKnob>(th, ncpu));
  std::vector<int64_t> devs = {-1};
  for (int i = 0; i < ncuda; ++i) devs.push_back(i);
  KnobSpec dv{"device", "device", "where the model runs: -1 = CPU, n = cuda:n (stored until the model binds the knob)", KnobType::Numeric, devs, {}, {}, {}};
  p->add_knob(std::make_unique<CallbackKnob>(dv, -1));
  return p;
}

}  // namespace dynn
