// Platform::detect: builds the knobs and sensors of a Linux machine from sysfs/procfs under a root
// directory (docs/platform.md lists the files). Absent or broken pieces become notes and
// unavailable knobs/sensors; detection itself does not fail. The knob and sensor classes are in
// linux_knobs.cpp and linux_sensors.cpp, NVML in nvml.cpp.
#include <sched.h>

#include <algorithm>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "core/platform/linux_backends.hpp"
#include "core/platform/sysfs.hpp"
#include "dynn/error.hpp"
#include "dynn/platform/platform.hpp"

namespace dynn {

namespace fs = std::filesystem;
using namespace linux_backends;

namespace {

std::string clean_name(std::string s) {
  for (char& c : s)
    if (c == ' ' || c == '/' || c == '\t') c = '_';
  return s;
}

// ---------------------------------------------------------------- detection steps

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
    auto& s = c.p.add_sensor(make_sysfs_sensor("freq." + pol, "MHz", "current CPU frequency of " + pol + " (scaling_cur_freq)",
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
    auto& f = c.p.add_sensor(make_sysfs_sensor("freq." + prefix, "MHz", "current GPU frequency (" + dev + "/cur_freq)",
                                                           dir / "cur_freq", 1e-6));
    f.set_plausible_range(0, 1e5);
    // GPU load, per-mille: next to the device (Orin), or the legacy gpu.0 paths (Nano/TX2/Xavier).
    std::vector<fs::path> loads = {dir / "device/load", c.sys("sys/devices/gpu.0/load"), c.sys("sys/devices/platform/gpu.0/load")};
    bool found = false;
    for (auto& l : loads) {
      if (!sysfs::exists(l)) continue;
      auto& s = c.p.add_sensor(make_sysfs_sensor("util." + prefix, "%", "GPU load (" + l.string() + ", per-mille / 10)", l, 0.1));
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
        auto& s = c.p.add_sensor(make_sysfs_sensor("power." + rail, "W", "INA3221 rail " + rail + " (" + pw.string() + ", mW)", pw, 1e-3));
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
        auto& s = c.p.add_sensor(make_hwmon_power_sensor("power." + rail, "INA3221 rail " + rail + " (" + mv.string() + " x curr, mV x mA)", mv, ma));
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
    auto& s = c.p.add_sensor(make_sysfs_sensor(name, "W", "INA231 " + rail + " (" + w.string() + ", W; needs enable=1)", w, 1.0, true));
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
    auto s = make_rapl_sensor(sname, "RAPL " + id + " (" + zname + ") energy_uj, wrap-corrected", z);
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
    auto& s = c.p.add_sensor(make_sysfs_sensor(name, "degC", "thermal zone " + z.filename().string() + " (" + type + "), m°C", z / "temp", 1e-3));
    s.set_plausible_range(-60, 200);
  }
}

void detect_proc_stat(Ctx& c, const std::vector<int>& cpus) {
  fs::path stat = c.sys("proc/stat");
  if (!sysfs::exists(stat)) {
    c.p.add_note(fmt::format("CPU utilisation absent: no {}", stat.string()));
    return;
  }
  c.p.add_sensor(make_proc_stat_sensor("util.cpu", "busy share of all CPUs since the previous read (/proc/stat)", stat, "cpu"));
  for (int cpu : cpus)
    c.p.add_sensor(make_proc_stat_sensor(fmt::format("util.cpu{}", cpu), fmt::format("busy share of CPU {} since the previous read", cpu),
                                                    stat, fmt::format("cpu{}", cpu)));
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
  add_hotplug_knobs(c, cpus);
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
    auto s = make_sum_sensor("energy.total", "J", SensorKind::Counter, "sum of RAPL package and NVML energy counters", parts);
    s->set_stale_after(options.counter_stale_after_s);
    Sensor& e = p->add_sensor(std::move(s));
    if (!total) {
      auto& pt = p->add_sensor(make_counter_power_sensor("power.total", "average power between reads, from energy.total", std::vector<Sensor*>{&e}));
      pt.try_read();  // baseline, so the first real read averages since detection
    }
    else p->add_sensor(std::make_unique<FunctionSensor>("power.total", "W", SensorKind::Instant, "= " + total->name(), [total] { return total->read(); }));
  } else if (total || !rails.empty()) {
    Sensor* pw = total;
    if (!pw) pw = &p->add_sensor(make_sum_sensor("power.total", "W", SensorKind::Instant, "sum of the board power rails (no total rail found)", rails));
    else p->add_sensor(std::make_unique<FunctionSensor>("power.total", "W", SensorKind::Instant, "= " + total->name(), [total] { return total->read(); }));
    p->add_sensor(make_integrated_energy_sensor("energy.total", "integral of " + pw->name() + " between reads of this sensor (polled)", pw));
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
  p->add_knob(make_affinity_knob(aff, allowed ? allowed : 1));
  KnobSpec th{"threads", "threads", "intra-op threads of the model (stored until the model binds the knob)", KnobType::Numeric, {}, 1, ncpu, {}};
  p->add_knob(std::make_unique<CallbackKnob>(th, ncpu));
  std::vector<int64_t> devs = {-1};
  for (int i = 0; i < ncuda; ++i) devs.push_back(i);
  KnobSpec dv{"device", "device", "where the model runs: -1 = CPU, n = cuda:n (stored until the model binds the knob)", KnobType::Numeric, devs, {}, {}, {}};
  p->add_knob(std::make_unique<CallbackKnob>(dv, -1));
  return p;
}

}  // namespace dynn
