// Internal: the backends Platform::detect wires together (detect.cpp). The sysfs knobs are in
// linux_knobs.cpp, the sysfs/procfs sensors and the derived totals in linux_sensors.cpp, NVML in
// nvml.cpp; their classes stay private to those files and are made by the functions below.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dynn/platform/platform.hpp"

namespace dynn::linux_backends {

// One detection: the platform being filled, the root its sysfs/procfs paths are under, the options.
struct Ctx {
  Platform& p;
  std::filesystem::path root;
  const DetectOptions& opt;
  std::filesystem::path sys(const std::string& rel) const { return root / rel; }
};

// ---------------------------------------------------------------- knobs (linux_knobs.cpp)

// The knobs of one frequency domain (a cpufreq policy or a devfreq device) in dir: <prefix>.governor,
// .min_freq, .max_freq, .freq (pinned: min = max) and, where user_file exists, .setspeed.
void add_freq_knobs(Ctx& c, const std::string& prefix, const std::filesystem::path& dir, const std::string& unit,
                    std::vector<int64_t> values, std::optional<int64_t> lo, std::optional<int64_t> hi,
                    std::vector<std::string> governors, const std::string& gov_file, const std::string& min_file,
                    const std::string& max_file, const std::string& cur_file, const std::string& user_file);
// cpuN.online (hot-plug, sysfs cpuN/online) for every present CPU that has the file (cpu0
// usually has none); `online` adds the CPUs the present list misses.
void add_hotplug_knobs(Ctx& c, const std::vector<int>& online);
// CPU affinity of the inference threads; allowed: the CPUs a mask may select.
std::unique_ptr<Knob> make_affinity_knob(KnobSpec spec, uint64_t allowed);

// ---------------------------------------------------------------- sensors (linux_sensors.cpp)

// The number in one file (an integer; with decimal, a decimal number) times a scale.
std::unique_ptr<Sensor> make_sysfs_sensor(std::string name, std::string unit, std::string desc, std::filesystem::path path,
                                          double scale, bool decimal = false);
// JetPack 5+ hwmon INA3221 channel: bus mV x current mA -> W.
std::unique_ptr<Sensor> make_hwmon_power_sensor(std::string name, std::string desc, std::filesystem::path mv,
                                                std::filesystem::path ma);
// RAPL zone dir: energy_uj in J, wrap-corrected.
std::unique_ptr<Sensor> make_rapl_sensor(std::string name, std::string desc, std::filesystem::path dir);
// /proc/stat line ("cpu", "cpu3"): busy share since the previous read.
std::unique_ptr<Sensor> make_proc_stat_sensor(std::string name, std::string desc, std::filesystem::path stat, std::string line);
// Derived totals: energy integrated from a power sensor, average power from energy counters, a sum.
std::unique_ptr<Sensor> make_integrated_energy_sensor(std::string name, std::string desc, Sensor* power);
std::unique_ptr<Sensor> make_counter_power_sensor(std::string name, std::string desc, std::vector<Sensor*> energy);
std::unique_ptr<Sensor> make_sum_sensor(std::string name, std::string unit, SensorKind kind, std::string desc,
                                        std::vector<Sensor*> parts);

// ---------------------------------------------------------------- NVML (nvml.cpp)

// Sensors and knobs of every NVML device (energy counters appended to energies); returns the
// number of devices.
int detect_nvml(Ctx& c, std::vector<Sensor*>& energies);

}  // namespace dynn::linux_backends
