// Fake sysfs/procfs trees of real boards, built under a TempDir, for Platform::detect tests.
// File names and formats follow ../shared/docs/platform_interfaces.md section 2.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace dynn::test {

struct FakeTree {
  TempDir dir;
  explicit FakeTree(const std::string& name) : dir("platform-" + name) {}
  std::filesystem::path root() const { return dir.path; }
  std::filesystem::path at(const std::string& rel) const { return dir.path / rel; }
  void put(const std::string& rel, const std::string& content) const {
    auto p = at(rel);
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << content << "\n";
  }
  std::string get(const std::string& rel) const {
    std::ifstream f(at(rel));
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }
  void remove(const std::string& rel) const { std::filesystem::remove_all(at(rel)); }
  // Turn a file into a directory: every read and write of it fails, also as root.
  void make_dir(const std::string& rel) const {
    remove(rel);
    std::filesystem::create_directories(at(rel));
  }
};

inline std::string join_ints(const std::vector<long long>& v) {
  std::string s;
  for (auto x : v) s += (s.empty() ? "" : " ") + std::to_string(x);
  return s;
}

inline const std::vector<long long>& xavier_cpu_khz() {
  static const std::vector<long long> v = {115200, 192000, 268800, 345600, 422400, 499200, 576000, 652800, 729600,
                                           806400, 883200, 960000, 1036800, 1113600, 1190400, 1267200, 1344000, 1420800,
                                           1497600, 1574400, 1651200, 1728000, 1804800, 1881600, 1907200};
  return v;
}
inline const std::vector<long long>& xavier_gpu_hz() {
  static const std::vector<long long> v = {114750000, 204000000, 306000000, 408000000, 510000000, 599250000, 701250000, 752250000,
                                           803250000, 854250000, 905250000, 956250000, 1007250000, 1058250000, 1109250000};
  return v;
}

inline void put_proc_stat(const FakeTree& t, int ncpu) {
  std::string s = "cpu  4000 0 1000 15000 100 0 0 0 0 0\n";
  for (int i = 0; i < ncpu; ++i) s += "cpu" + std::to_string(i) + " 1000 0 250 3750 25 0 0 0 0 0\n";
  s += "intr 0\nctxt 0\n";
  t.put("proc/stat", s);
}

inline void put_policy(const FakeTree& t, int first, const std::string& related, const std::vector<long long>& khz,
                       const std::string& governors, const std::string& governor, bool with_list = true, bool setspeed = true) {
  std::string d = "sys/devices/system/cpu/cpufreq/policy" + std::to_string(first) + "/";
  t.put(d + "related_cpus", related);
  t.put(d + "affected_cpus", related);
  t.put(d + "cpuinfo_min_freq", std::to_string(khz.front()));
  t.put(d + "cpuinfo_max_freq", std::to_string(khz.back()));
  if (with_list) t.put(d + "scaling_available_frequencies", join_ints(khz));
  t.put(d + "scaling_available_governors", governors);
  t.put(d + "scaling_governor", governor);
  t.put(d + "scaling_min_freq", std::to_string(khz.front()));
  t.put(d + "scaling_max_freq", std::to_string(khz.back()));
  t.put(d + "scaling_cur_freq", std::to_string(khz[khz.size() / 2]));
  if (setspeed) t.put(d + "scaling_setspeed", "<unsupported>");
  t.put(d + "scaling_driver", "fake");
}

inline void put_cpus(const FakeTree& t, int n, const std::vector<int>& cluster_ids, const std::vector<int>& capacity = {}) {
  t.put("sys/devices/system/cpu/online", "0-" + std::to_string(n - 1));
  t.put("sys/devices/system/cpu/possible", "0-" + std::to_string(n - 1));
  for (int i = 0; i < n; ++i) {
    std::string d = "sys/devices/system/cpu/cpu" + std::to_string(i) + "/";
    t.put(d + "topology/cluster_id", std::to_string(cluster_ids[i]));
    t.put(d + "topology/physical_package_id", "0");
    if (i > 0) t.put(d + "online", "1");  // hot-plug file; cpu0 has none
    if (!capacity.empty()) t.put(d + "cpu_capacity", std::to_string(capacity[i]));
  }
}

inline void put_thermal(const FakeTree& t, int n, const std::string& type, int millic) {
  std::string d = "sys/class/thermal/thermal_zone" + std::to_string(n) + "/";
  t.put(d + "type", type);
  t.put(d + "temp", std::to_string(millic));
}

// Jetson Xavier NX, JetPack 4 (L4T 32): tegra194 cpufreq, devfreq 17000000.gv11b, ina3221x iio.
inline void build_xavier_nx_jp4(const FakeTree& t) {
  t.put("proc/device-tree/model", "NVIDIA Jetson Xavier NX Developer Kit");
  put_cpus(t, 6, {0, 0, 1, 1, 2, 2});
  const std::string govs = "interactive conservative ondemand userspace powersave performance schedutil";
  put_policy(t, 0, "0 1", xavier_cpu_khz(), govs, "schedutil");
  put_policy(t, 2, "2 3", xavier_cpu_khz(), govs, "schedutil");
  put_policy(t, 4, "4 5", xavier_cpu_khz(), govs, "schedutil");
  const std::string g = "sys/class/devfreq/17000000.gv11b/";
  t.put(g + "device/of_node/name", "gv11b");
  t.put(g + "available_frequencies", join_ints(xavier_gpu_hz()));
  t.put(g + "available_governors", "wmark_active wmark_simple nvhost_podgov userspace performance simple_ondemand");
  t.put(g + "governor", "nvhost_podgov");
  t.put(g + "min_freq", "114750000");
  t.put(g + "max_freq", "1109250000");
  t.put(g + "cur_freq", "510000000");
  t.put("sys/devices/gpu.0/load", "125");
  const std::string i = "sys/bus/i2c/drivers/ina3221x/7-0040/iio:device0/";
  t.put(i + "rail_name_0", "VDD_IN");
  t.put(i + "in_power0_input", "5079");
  t.put(i + "rail_name_1", "VDD_CPU_GPU_CV");
  t.put(i + "in_power1_input", "696");
  t.put(i + "rail_name_2", "VDD_SOC");
  t.put(i + "in_power2_input", "1104");
  put_thermal(t, 0, "CPU-therm", 45500);
  put_thermal(t, 1, "GPU-therm", 44000);
  put_thermal(t, 2, "Tboard_tegra", 40000);
  put_proc_stat(t, 6);
}

// Jetson Orin NX, JetPack 6: devfreq 17000000.gpu, load next to the device, hwmon ina3221 (mV x mA).
inline void build_orin_jp6(const FakeTree& t) {
  t.put("proc/device-tree/model", "NVIDIA Jetson Orin NX Engineering Reference Developer Kit");
  put_cpus(t, 8, {0, 0, 0, 0, 1, 1, 1, 1});
  std::vector<long long> khz;
  for (long long f = 115200; f <= 1984000; f += 115200) khz.push_back(f);
  put_policy(t, 0, "0 1 2 3", khz, "userspace ondemand performance schedutil", "schedutil");
  put_policy(t, 4, "4 5 6 7", khz, "userspace ondemand performance schedutil", "schedutil");
  const std::string g = "sys/class/devfreq/17000000.gpu/";
  t.put(g + "device/of_node/name", "gpu");
  t.put(g + "available_frequencies", "306000000 408000000 510000000 612000000 714000000 816000000 918000000");
  t.put(g + "available_governors", "userspace performance simple_ondemand nvhost_podgov");
  t.put(g + "governor", "nvhost_podgov");
  t.put(g + "min_freq", "306000000");
  t.put(g + "max_freq", "918000000");
  t.put(g + "cur_freq", "306000000");
  t.put(g + "device/load", "500");
  const std::string h = "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3/";
  t.put(h + "in1_label", "VDD_IN");
  t.put(h + "in1_input", "5000");
  t.put(h + "curr1_input", "1200");
  t.put(h + "in2_label", "VDD_CPU_GPU_CV");
  t.put(h + "in2_input", "5000");
  t.put(h + "curr2_input", "300");
  t.put(h + "in3_label", "VDD_SOC");
  t.put(h + "in3_input", "5000");
  t.put(h + "curr3_input", "250");
  t.put(h + "in7_label", "sum of shunt voltages");
  t.put(h + "in7_input", "1234");
  put_thermal(t, 0, "CPU", 50000);
  put_thermal(t, 1, "GPU", 48000);
  put_thermal(t, 2, "SOC0", 49000);
  put_thermal(t, 3, "Tboard", 40000);
  put_proc_stat(t, 8);
}

// Odroid XU3 (Exynos 5422, vendor kernel): A7 cpu0-3, A15 cpu4-7, INA231 sensors in W.
inline void build_odroid_xu3(const FakeTree& t) {
  t.put("proc/device-tree/model", "Hardkernel Odroid XU3");
  put_cpus(t, 8, {0, 0, 0, 0, 1, 1, 1, 1}, {446, 446, 446, 446, 1024, 1024, 1024, 1024});
  std::vector<long long> a7, a15;
  for (long long f = 200000; f <= 1400000; f += 100000) a7.push_back(f);
  for (long long f = 200000; f <= 2000000; f += 100000) a15.push_back(f);
  put_policy(t, 0, "0 1 2 3", a7, "conservative ondemand userspace powersave performance", "ondemand");
  put_policy(t, 4, "4 5 6 7", a15, "conservative ondemand userspace powersave performance", "ondemand");
  t.put("sys/bus/i2c/drivers/INA231/3-0040/sensor_W", "1.250000");
  t.put("sys/bus/i2c/drivers/INA231/3-0041/sensor_W", "0.120000");
  t.put("sys/bus/i2c/drivers/INA231/3-0044/sensor_W", "0.050000");
  t.put("sys/bus/i2c/drivers/INA231/3-0045/sensor_W", "0.180000");
  put_thermal(t, 0, "cpu-thermal", 52000);
  put_proc_stat(t, 8);
}

// Intel laptop: intel_pstate (no frequency list, no setspeed), RAPL package/core/dram.
inline void build_intel_laptop(const FakeTree& t) {
  t.put("sys/devices/system/cpu/online", "0-3");
  for (int i = 0; i < 4; ++i)
    put_policy(t, i, std::to_string(i), {400000, 4700000}, "performance powersave", "powersave", false, false);
  t.put("sys/class/powercap/intel-rapl:0/name", "package-0");
  t.put("sys/class/powercap/intel-rapl:0/energy_uj", "1000000");
  t.put("sys/class/powercap/intel-rapl:0/max_energy_range_uj", "262143328850");
  t.put("sys/class/powercap/intel-rapl:0:0/name", "core");
  t.put("sys/class/powercap/intel-rapl:0:0/energy_uj", "400000");
  t.put("sys/class/powercap/intel-rapl:0:0/max_energy_range_uj", "262143328850");
  t.put("sys/class/powercap/intel-rapl:0:2/name", "dram");
  t.put("sys/class/powercap/intel-rapl:0:2/energy_uj", "100000");
  t.put("sys/class/powercap/intel-rapl:0:2/max_energy_range_uj", "262143328850");
  put_thermal(t, 0, "acpitz", 40000);
  put_thermal(t, 1, "x86_pkg_temp", 55000);
  put_proc_stat(t, 4);
}

}  // namespace dynn::test
