// The sysfs/procfs sensors of Platform::detect (INA3221/INA231 rails, RAPL, thermal zones,
// frequencies, /proc/stat) and the derived totals (integrated energy, average power, sums).
#include <algorithm>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "core/platform/linux_backends.hpp"
#include "core/platform/sysfs.hpp"
#include "dynn/error.hpp"

namespace dynn::linux_backends {

namespace fs = std::filesystem;

namespace {

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

}  // namespace

std::unique_ptr<Sensor> make_sysfs_sensor(std::string name, std::string unit, std::string desc, fs::path path, double scale,
                                          bool decimal) {
  return std::make_unique<SysfsSensor>(std::move(name), std::move(unit), std::move(desc), std::move(path), scale, decimal);
}
std::unique_ptr<Sensor> make_hwmon_power_sensor(std::string name, std::string desc, fs::path mv, fs::path ma) {
  return std::make_unique<HwmonPowerSensor>(std::move(name), std::move(desc), std::move(mv), std::move(ma));
}
std::unique_ptr<Sensor> make_rapl_sensor(std::string name, std::string desc, fs::path dir) {
  return std::make_unique<RaplSensor>(std::move(name), std::move(desc), std::move(dir));
}
std::unique_ptr<Sensor> make_proc_stat_sensor(std::string name, std::string desc, fs::path stat, std::string line) {
  return std::make_unique<ProcStatSensor>(std::move(name), std::move(desc), std::move(stat), std::move(line));
}
std::unique_ptr<Sensor> make_integrated_energy_sensor(std::string name, std::string desc, Sensor* power) {
  return std::make_unique<IntegratedEnergySensor>(std::move(name), std::move(desc), power);
}
std::unique_ptr<Sensor> make_counter_power_sensor(std::string name, std::string desc, std::vector<Sensor*> energy) {
  return std::make_unique<CounterPowerSensor>(std::move(name), std::move(desc), std::move(energy));
}
std::unique_ptr<Sensor> make_sum_sensor(std::string name, std::string unit, SensorKind kind, std::string desc, std::vector<Sensor*> parts) {
  return std::make_unique<SumSensor>(std::move(name), std::move(unit), kind, std::move(desc), std::move(parts));
}

}  // namespace dynn::linux_backends
