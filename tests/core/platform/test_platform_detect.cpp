#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "dynn/error.hpp"
#include "dynn/platform.hpp"
#include "fake_trees.hpp"

using dynn::DetectOptions;
using dynn::Error;
using dynn::ErrorCode;
using dynn::Platform;
using dynn::test::FakeTree;

namespace {

std::unique_ptr<Platform> detect(const FakeTree& t, std::shared_ptr<dynn::Clock> clock = nullptr) {
  DetectOptions o;
  o.root = t.root().string();
  o.clock = std::move(clock);
  return Platform::detect(o);
}

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

template <class F>
std::pair<ErrorCode, std::string> error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return {e.code(), e.what()};
  }
  FAIL("expected a dynn::Error");
  return {ErrorCode::Internal, ""};
}

}  // namespace

TEST_CASE("Xavier NX (JetPack 4): knobs, sensors and clusters are discovered", "[platform]") {
  FakeTree t("xnx");
  dynn::test::build_xavier_nx_jp4(t);
  auto p = detect(t);
  CHECK(p->name() == "NVIDIA Jetson Xavier NX Developer Kit");
  auto kn = p->knob_names();
  for (const char* pol : {"policy0", "policy2", "policy4"})
    for (const char* k : {"governor", "min_freq", "max_freq", "freq", "setspeed"})
      CHECK(has(kn, std::string("cpufreq.") + pol + "." + k));
  for (const char* k : {"gpu.governor", "gpu.min_freq", "gpu.max_freq", "gpu.freq", "affinity", "threads", "device"}) CHECK(has(kn, k));
  auto sn = p->sensor_names();
  for (const char* s : {"freq.policy0", "freq.policy2", "freq.policy4", "freq.gpu", "util.gpu", "power.VDD_IN", "power.VDD_CPU_GPU_CV",
                        "power.VDD_SOC", "power.total", "energy.total", "temp.CPU-therm", "temp.GPU-therm", "temp.Tboard_tegra",
                        "util.cpu", "util.cpu0", "util.cpu5"})
    CHECK(has(sn, s));

  REQUIRE(p->cpu_clusters().size() == 3);
  CHECK(p->cpu_clusters()[1].cpus == std::vector<int>{2, 3});
  CHECK(p->cpu_clusters()[1].policy == "policy2");
  CHECK(p->cpu_clusters()[1].max_khz == 1907200);
  CHECK(p->cpu_clusters()[2].mask() == 0x30);

  auto& mx = p->knob("cpufreq.policy0.max_freq");
  CHECK(mx.unit() == "kHz");
  CHECK(mx.values().size() == 25);
  CHECK(mx.get() == 1907200);
  CHECK(mx.writable());
  CHECK(p->knob("gpu.max_freq").values().size() == 15);
  CHECK(p->knob("gpu.max_freq").get() == 1109250000);
  CHECK(p->knob("cpufreq.policy0.governor").get_text() == "schedutil");
  CHECK(p->knob("cpufreq.policy0.freq").get() == dynn::test::xavier_cpu_khz()[12]);  // not pinned: scaling_cur_freq

  CHECK(p->sensor("power.VDD_IN").read() == Approx(5.079));
  CHECK(p->sensor("power.total").read() == Approx(5.079));
  CHECK(p->sensor("temp.CPU-therm").read() == Approx(45.5));
  CHECK(p->sensor("freq.gpu").read() == Approx(510.0));
  CHECK(p->sensor("freq.policy0").read() == Approx(1036.8));
  CHECK(p->sensor("util.gpu").read() == Approx(12.5));
  CHECK(p->sensor("util.cpu").read() == Approx(100.0 * 5000 / 20100));  // since boot: (user+system)/(all)
  CHECK(p->sensor("energy.total").kind() == dynn::SensorKind::Counter);

  // Unknown names list what exists.
  auto [code, msg] = error_of([&] { p->knob("cpufreq.policy9.max_freq"); });
  CHECK(code == ErrorCode::NotFound);
  CHECK(msg.find("cpufreq.policy0.max_freq") != std::string::npos);
  auto [code2, msg2] = error_of([&] { p->sensor("power.nope"); });
  CHECK(code2 == ErrorCode::NotFound);
  CHECK(msg2.find("power.VDD_IN") != std::string::npos);
}

TEST_CASE("cpufreq and devfreq writes validate, pin, and are restored", "[platform]") {
  FakeTree t("xnx-write");
  dynn::test::build_xavier_nx_jp4(t);
  const std::string pol = "sys/devices/system/cpu/cpufreq/policy2/";
  const std::string gpu = "sys/class/devfreq/17000000.gv11b/";
  {
    auto p = detect(t);
    auto& f = p->knob("cpufreq.policy2.freq");
    f.set(1420800);
    CHECK(t.get(pol + "scaling_min_freq") == "1420800");
    CHECK(t.get(pol + "scaling_max_freq") == "1420800");
    CHECK(f.get() == 1420800);
    f.set(115200);  // downwards: min first, then max
    CHECK(t.get(pol + "scaling_min_freq") == "115200");
    CHECK(t.get(pol + "scaling_max_freq") == "115200");

    auto [code, msg] = error_of([&] { f.set(1000000); });
    CHECK(code == ErrorCode::InvalidArgument);
    CHECK(msg.find("1000000") != std::string::npos);
    CHECK(msg.find("1420800") != std::string::npos);  // names the allowed values

    p->apply({{"gpu.freq", 803250000}, {"cpufreq.policy0.max_freq", 1190400}});
    CHECK(t.get(gpu + "min_freq") == "803250000");
    CHECK(t.get(gpu + "max_freq") == "803250000");
    CHECK(t.get("sys/devices/system/cpu/cpufreq/policy0/scaling_max_freq") == "1190400");
    // A bad entry rejects the whole setting before anything is written.
    CHECK_THROWS_AS(p->apply({{"cpufreq.policy4.max_freq", 1420800}, {"gpu.freq", 12345}}), Error);
    CHECK(t.get("sys/devices/system/cpu/cpufreq/policy4/scaling_max_freq") == "1907200");
    CHECK_THROWS_AS(p->apply({{"no.such.knob", 1}}), Error);

    auto& gov = p->knob("cpufreq.policy4.governor");
    CHECK_THROWS_AS(gov.set_text("turbo"), Error);
    gov.set_text("performance");
    CHECK(t.get("sys/devices/system/cpu/cpufreq/policy4/scaling_governor") == "performance");
  }
  // Destroyed: everything back.
  CHECK(t.get(pol + "scaling_min_freq") == "115200");
  CHECK(t.get(pol + "scaling_max_freq") == "1907200");
  CHECK(t.get(gpu + "min_freq") == "114750000");
  CHECK(t.get(gpu + "max_freq") == "1109250000");
  CHECK(t.get("sys/devices/system/cpu/cpufreq/policy0/scaling_max_freq") == "1907200");
  CHECK(t.get("sys/devices/system/cpu/cpufreq/policy4/scaling_governor") == "schedutil");
}

TEST_CASE("CPU hot-plug knobs: cpuN/online of present CPUs, validated and restored", "[platform]") {
  FakeTree t("xnx-hotplug");
  dynn::test::build_xavier_nx_jp4(t);
  const std::string cpu = "sys/devices/system/cpu/";
  // cpu5 is offline at detection (nvpmodel 4-core modes): it is missing from "online" only.
  t.put(cpu + "online", "0-4");
  t.put(cpu + "present", "0-5");
  t.put(cpu + "cpu5/online", "0");
  {
    auto p = detect(t);
    CHECK_FALSE(p->find_knob("cpu0.online"));  // no file
    auto& k4 = p->knob("cpu4.online");
    CHECK(k4.values() == std::vector<int64_t>{0, 1});
    CHECK(p->knob("cpu5.online").get() == 0);
    k4.set(0);
    CHECK(t.get(cpu + "cpu4/online") == "0");
    p->knob("cpu5.online").set(1);
    CHECK(t.get(cpu + "cpu5/online") == "1");
    auto [code, msg] = error_of([&] { k4.set(2); });
    CHECK(code == ErrorCode::InvalidArgument);
    CHECK(msg.find("cpu4.online") != std::string::npos);
  }
  CHECK(t.get(cpu + "cpu4/online") == "1");  // restored when the platform let go
  CHECK(t.get(cpu + "cpu5/online") == "0");
}

TEST_CASE("settings are restored after an exception and by explicit restore()", "[platform]") {
  FakeTree t("xnx-exc");
  dynn::test::build_xavier_nx_jp4(t);
  const std::string gpu = "sys/class/devfreq/17000000.gv11b/";
  try {
    auto p = detect(t);
    p->knob("gpu.max_freq").set(510000000);
    CHECK(t.get(gpu + "max_freq") == "510000000");
    throw std::runtime_error("controller crashed");
  } catch (const std::runtime_error&) {
  }
  CHECK(t.get(gpu + "max_freq") == "1109250000");

  auto p = detect(t);
  auto& k = p->knob("gpu.min_freq");
  k.set(306000000);
  CHECK(k.changed());
  p->restore();
  CHECK_FALSE(k.changed());
  CHECK(t.get(gpu + "min_freq") == "114750000");
}

TEST_CASE("scaling_setspeed is only writable under the userspace governor", "[platform]") {
  FakeTree t("xnx-setspeed");
  dynn::test::build_xavier_nx_jp4(t);
  const std::string pol = "sys/devices/system/cpu/cpufreq/policy0/";
  {
    auto p = detect(t);
    auto& ss = p->knob("cpufreq.policy0.setspeed");
    CHECK_FALSE(ss.writable());
    CHECK(ss.unwritable_reason().find("governor is 'schedutil'") != std::string::npos);
    auto [code, msg] = error_of([&] { ss.set(1420800); });
    CHECK(code == ErrorCode::Unsupported);
    CHECK(msg.find("userspace") != std::string::npos);

    p->knob("cpufreq.policy0.governor").set_text("userspace");
    t.put(pol + "scaling_setspeed", "1036800");  // what the kernel shows once userspace is active
    CHECK(ss.writable());
    ss.set(1420800);
    CHECK(t.get(pol + "scaling_setspeed") == "1420800");
  }
  // Newest change first: setspeed back to 1036800 (under userspace), then the governor.
  CHECK(t.get(pol + "scaling_setspeed") == "1036800");
  CHECK(t.get(pol + "scaling_governor") == "schedutil");
}

TEST_CASE("a write refused at run time marks the knob and the rest keeps working", "[platform]") {
  FakeTree t("xnx-refuse");
  dynn::test::build_xavier_nx_jp4(t);
  const std::string mx = "sys/devices/system/cpu/cpufreq/policy2/scaling_max_freq";
  auto p = detect(t);
  auto& k = p->knob("cpufreq.policy2.max_freq");
  k.set(1420800);
  // The attribute goes away under us (driver unbound, or our rights revoked): writes fail.
  if (::geteuid() != 0) {
    ::chmod(t.at(mx).c_str(), 0444);
  } else {
    t.make_dir(mx);  // root ignores mode bits; a directory refuses writes even to root
  }
  auto [code, msg] = error_of([&] { k.set(1190400); });
  CHECK(msg.find("cpufreq.policy2.max_freq") != std::string::npos);
  CHECK(msg.find("scaling_max_freq") != std::string::npos);
  CHECK((code == ErrorCode::Io || code == ErrorCode::PermissionDenied));
  CHECK_FALSE(k.writable());
  CHECK(k.unwritable_reason().find("write refused at run time") != std::string::npos);
  CHECK(k.changed());  // still owed a restore

  auto& g = p->knob("gpu.max_freq");
  g.set(510000000);
  CHECK(t.get("sys/class/devfreq/17000000.gv11b/max_freq") == "510000000");
  // restore() puts back what it can, then reports the knob it could not restore.
  auto [rcode, rmsg] = error_of([&] { p->restore(); });
  CHECK(rcode == ErrorCode::Io);
  CHECK(rmsg.find("cpufreq.policy2.max_freq") != std::string::npos);
  CHECK(t.get("sys/class/devfreq/17000000.gv11b/max_freq") == "1109250000");
  if (::geteuid() != 0) ::chmod(t.at(mx).c_str(), 0644);
  else t.remove(mx), t.put(mx, "1420800");
  p->restore();  // the file is back: the owed restore now succeeds
  CHECK(t.get(mx) == "1907200");
}

TEST_CASE("missing, unreadable and garbage files make knobs/sensors unavailable, not the platform", "[platform]") {
  FakeTree t("xnx-broken");
  dynn::test::build_xavier_nx_jp4(t);
  const std::string pol = "sys/devices/system/cpu/cpufreq/policy0/";
  t.remove(pol + "scaling_governor");                        // missing
  t.put("sys/devices/system/cpu/cpufreq/policy2/scaling_max_freq", "fast");  // garbage
  t.put("sys/devices/system/cpu/cpufreq/policy4/scaling_available_frequencies", "");  // empty list
  t.make_dir("sys/class/devfreq/17000000.gv11b/min_freq");   // unreadable (also as root)
  t.put("sys/class/thermal/thermal_zone1/temp", "hot");      // garbage sensor
  t.put("sys/bus/i2c/drivers/ina3221x/7-0040/iio:device0/in_power2_input", "");  // empty sensor
  auto p = detect(t);

  auto& gov = p->knob("cpufreq.policy0.governor");
  CHECK_FALSE(gov.readable());
  CHECK(gov.unavailable_reason().find("missing") != std::string::npos);
  CHECK(gov.unavailable_reason().find("scaling_governor") != std::string::npos);
  CHECK(gov.value_string().find("unavailable") != std::string::npos);
  CHECK(error_of([&] { gov.get_text(); }).first == ErrorCode::Unsupported);

  auto& bad = p->knob("cpufreq.policy2.max_freq");
  CHECK_FALSE(bad.readable());
  CHECK(bad.unavailable_reason().find("fast") != std::string::npos);
  CHECK_FALSE(p->knob("cpufreq.policy2.freq").writable());
  CHECK(p->knob("cpufreq.policy2.min_freq").get() == 115200);  // its neighbour is fine

  // Empty OPP list: falls back to the cpuinfo range, and says so.
  auto& mx4 = p->knob("cpufreq.policy4.max_freq");
  CHECK(mx4.values().empty());
  CHECK(mx4.min_value() == 115200);
  CHECK(mx4.max_value() == 1907200);
  mx4.set(1000000);  // in range
  CHECK_THROWS_AS(mx4.set(3000000), Error);
  bool noted = false;
  for (auto& n : p->notes()) noted |= n.find("scaling_available_frequencies") != std::string::npos;
  CHECK(noted);

  CHECK_FALSE(p->knob("gpu.min_freq").readable());
  CHECK(p->knob("gpu.max_freq").get() == 1109250000);

  auto& temp = p->sensor("temp.GPU-therm");
  auto [code, msg] = error_of([&] { temp.read(); });
  CHECK(code == ErrorCode::Parse);
  CHECK(msg.find("temp.GPU-therm") != std::string::npos);
  CHECK(msg.find("thermal_zone1/temp") != std::string::npos);
  temp.try_read();
  temp.try_read();
  CHECK_FALSE(temp.available());  // three failures in a row
  CHECK(p->sensor("temp.CPU-therm").read() == Approx(45.5));
  CHECK(error_of([&] { p->sensor("power.VDD_SOC").read(); }).first == ErrorCode::Parse);
  CHECK(p->sensor("power.VDD_IN").read() == Approx(5.079));
  // The report still renders everything.
  auto rep = p->report();
  CHECK(rep.find("cpufreq.policy0.governor") != std::string::npos);
  CHECK(rep.find("absent") != std::string::npos);
}

TEST_CASE("Orin (JetPack 6): devfreq 17000000.gpu and hwmon INA3221 power = mV x mA", "[platform]") {
  FakeTree t("orin");
  dynn::test::build_orin_jp6(t);
  auto p = detect(t);
  CHECK(p->knob("gpu.max_freq").get() == 918000000);
  CHECK(p->knob("gpu.max_freq").unit() == "Hz");
  CHECK(p->sensor("util.gpu").read() == Approx(50.0));
  CHECK(p->sensor("power.VDD_IN").read() == Approx(6.0));
  CHECK(p->sensor("power.VDD_CPU_GPU_CV").read() == Approx(1.5));
  CHECK(p->sensor("power.total").read() == Approx(6.0));
  CHECK(p->find_sensor("power.sum_of_shunt_voltages") == nullptr);
  CHECK(p->sensor("temp.Tboard").read() == Approx(40.0));
  REQUIRE(p->cpu_clusters().size() == 2);
  CHECK(p->cpu_clusters()[1].policy == "policy4");
  CHECK(p->find_knob("gpu.setspeed") == nullptr);

  // A devfreq device that is not a GPU is ignored; a second GPU gets the next name.
  t.put("sys/class/devfreq/13d00000.emc/device/of_node/name", "emc");
  t.put("sys/class/devfreq/13d00000.emc/cur_freq", "1");
  auto p2 = detect(t);
  CHECK(p2->find_knob("gpu1.max_freq") == nullptr);

  // Stale power sensor: same reading for longer than allowed (virtual clock, no sleeping).
  auto clock = std::make_shared<dynn::VirtualClock>();
  auto p3 = detect(t, clock);
  auto& s = p3->sensor("power.VDD_IN");
  s.set_stale_after(2.0);
  CHECK(s.read() == Approx(6.0));
  clock->sleep(1.0);
  CHECK(s.read() == Approx(6.0));
  clock->sleep(5.0);
  auto [code, msg] = error_of([&] { s.read(); });
  CHECK(code == ErrorCode::Io);
  CHECK(msg.find("stale") != std::string::npos);
  t.put("sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3/curr1_input", "1300");
  CHECK(s.read() == Approx(6.5));  // it moves again: fine
}

TEST_CASE("Odroid XU3: big.LITTLE clusters from cpu_capacity and INA231 watts", "[platform]") {
  FakeTree t("xu3");
  dynn::test::build_odroid_xu3(t);
  auto p = detect(t);
  REQUIRE(p->cpu_clusters().size() == 2);
  CHECK(p->cpu_clusters()[0].capacity == 446);
  CHECK(p->cpu_clusters()[0].max_khz == 1400000);
  CHECK(p->cpu_clusters()[1].capacity == 1024);
  CHECK(p->cpu_clusters()[1].mask() == 0xF0);
  CHECK(p->knob("cpufreq.policy4.max_freq").values().size() == 19);
  CHECK(p->sensor("power.arm").read() == Approx(1.25));
  CHECK(p->sensor("power.kfc").read() == Approx(0.18));
  CHECK(p->sensor("power.total").read() == Approx(1.25 + 0.12 + 0.05 + 0.18));
  CHECK(p->find_knob("gpu.max_freq") == nullptr);
  bool noted = false;
  for (auto& n : p->notes()) noted |= n.find("devfreq GPU absent") != std::string::npos;
  CHECK(noted);
}

TEST_CASE("Intel laptop: intel_pstate range knobs and RAPL counters with wrap-around", "[platform]") {
  FakeTree t("intel");
  dynn::test::build_intel_laptop(t);
  auto clock = std::make_shared<dynn::VirtualClock>();
  auto p = detect(t, clock);
  auto& mx = p->knob("cpufreq.policy3.max_freq");
  CHECK(mx.values().empty());
  CHECK(mx.min_value() == 400000);
  CHECK(mx.max_value() == 4700000);
  CHECK(p->find_knob("cpufreq.policy0.setspeed") == nullptr);
  CHECK(p->knob("cpufreq.policy0.governor").text_values() == std::vector<std::string>{"performance", "powersave"});

  auto& pkg = p->sensor("energy.package-0");
  CHECK(pkg.kind() == dynn::SensorKind::Counter);
  CHECK(pkg.unit() == "J");
  CHECK(p->find_sensor("energy.package-0.core"));
  CHECK(p->find_sensor("energy.package-0.dram"));
  const long long range = 262143328850LL;
  CHECK(pkg.read() == Approx(1.0));
  t.put("sys/class/powercap/intel-rapl:0/energy_uj", std::to_string(range - 1000));
  double before = pkg.read();
  t.put("sys/class/powercap/intel-rapl:0/energy_uj", "500");  // wrapped
  double after = pkg.read();
  CHECK((after - before) * 1e6 == Approx(1501).margin(1e-3));

  // power.total averages energy.total between reads.
  auto& pw = p->sensor("power.total");
  pw.read();  // window starts here
  clock->sleep(2.0);
  t.put("sys/class/powercap/intel-rapl:0/energy_uj", "20000500");  // +20 J in 2 s
  CHECK(pw.read() == Approx(10.0));

  // Counter that stops moving: stale.
  pkg.set_stale_after(5);
  pkg.read();
  clock->sleep(10);
  CHECK(error_of([&] { pkg.read(); }).second.find("stale") != std::string::npos);

  // energy_uj unreadable (root-only since 5.10): the sensor is unavailable with the reason.
  t.make_dir("sys/class/powercap/intel-rapl:0:2/energy_uj");
  auto p2 = detect(t);
  CHECK_FALSE(p2->sensor("energy.package-0.dram").available());
  CHECK(p2->sensor("energy.package-0").available());
}

TEST_CASE("an empty root still gives affinity, threads and device, and reports what is absent", "[platform]") {
  FakeTree t("empty");
  auto p = detect(t);
  CHECK(p->find_knob("threads"));
  CHECK(p->find_knob("affinity"));
  CHECK(p->find_knob("device"));
  CHECK(p->knob("device").get() == -1);
  CHECK(p->knob("device").values() == std::vector<int64_t>{-1});
  CHECK(p->notes().size() >= 5);
  CHECK(p->report_json().find("\"notes\"") != std::string::npos);
  DetectOptions o;
  o.root = (t.root() / "nope").string();
  CHECK_THROWS_AS(Platform::detect(o), Error);
}

TEST_CASE("this machine: detect('/') works, affinity and threads round-trip and are restored", "[platform]") {
  auto p = Platform::detect();
  auto& aff = p->knob("affinity");
  REQUIRE(aff.readable());
  const int64_t orig = aff.get();
  CHECK(orig > 0);
  int64_t first = orig & -orig;  // lowest allowed CPU
  aff.set(first);
  CHECK(aff.get() == first);
  CHECK(sched_getcpu() == __builtin_ctzll(static_cast<unsigned long long>(first)));
  CHECK_THROWS_AS(aff.set(0), Error);
  p->restore();
  CHECK(aff.get() == orig);

  auto& th = p->knob("threads");
  int stored = -1;
  p->bind_knob("threads", [&] { return static_cast<int64_t>(stored < 0 ? 1 : stored); }, [&](int64_t v) { stored = static_cast<int>(v); });
  th.set(1);
  CHECK(stored == 1);
  CHECK(th.get() == 1);
  CHECK_THROWS_AS(th.set(0), Error);
  CHECK_THROWS_AS(p->bind_knob("affinity", nullptr, nullptr), Error);
  CHECK_THROWS_AS(p->bind_knob("cpufreq.policy0.max_freq", [] { return int64_t{0}; }, [](int64_t) {}), Error);
  p->restore();
  static_cast<dynn::CallbackKnob&>(th).unbind();
  CHECK_FALSE(p->report().empty());
}
