#include <algorithm>
#include <set>

#include "dynn/error.hpp"
#include "dynn/platform.hpp"
#include "dynn/profile/latency_table.hpp"
#include "fake_trees.hpp"

using dynn::SimInterference;
using dynn::SimulatedPlatform;
using dynn::SimOptions;

namespace {

void pin_all(SimulatedPlatform& s, int64_t cpu_khz, int64_t gpu_hz) {
  for (const char* p : {"policy0", "policy2", "policy4"}) s.knob(std::string("cpufreq.") + p + ".freq").set(cpu_khz);
  if (gpu_hz) s.knob("gpu.freq").set(gpu_hz);
}

}  // namespace

TEST_CASE("simulated Xavier NX has the knob and sensor names the real JetPack 4 board gets", "[platform][sim]") {
  dynn::test::FakeTree t("sim-names");
  dynn::test::build_xavier_nx_jp4(t);
  dynn::DetectOptions o;
  o.root = t.root().string();
  auto real = dynn::Platform::detect(o);
  SimulatedPlatform sim;
  for (auto& n : real->knob_names()) {
    INFO(n);
    REQUIRE(sim.find_knob(n));
    CHECK(sim.knob(n).unit() == real->knob(n).unit());
    if (n != "device") CHECK(sim.knob(n).values() == real->knob(n).values());  // the real one gains cuda:0 when the model declares it
  }
  for (auto& n : real->sensor_names()) {
    INFO(n);
    REQUIRE(sim.find_sensor(n));
    CHECK(sim.sensor(n).unit() == real->sensor(n).unit());
  }
  CHECK(sim.knob("cpufreq.policy2.max_freq").values().size() == 25);
  CHECK(sim.knob("gpu.max_freq").values().size() == 15);
  CHECK(sim.knob("gpu.max_freq").values().front() == 114750000);
  CHECK(sim.knob("device").values() == std::vector<int64_t>{-1, 0});
  REQUIRE(sim.cpu_clusters().size() == 3);
  CHECK(sim.cpu_clusters()[2].policy == "policy4");
  CHECK(sim.now() == 0.0);
}

TEST_CASE("the simulator is deterministic", "[platform][sim]") {
  auto run = [] {
    SimulatedPlatform s(dynn::SimBoard::xavier_nx(), SimOptions{{}, {}, 0.05, 42});
    s.add_interference({SimInterference::Target::Gpu, 1.0, 2.0, 0.3, 0});
    std::vector<double> out;
    for (int i = 0; i < 200; ++i) {
      auto r = s.simulate_work(25.0, i % 3 ? "gpu" : "cpu");
      out.push_back(r.latency_s);
      out.push_back(r.energy_j);
      s.advance(0.003);
    }
    out.push_back(s.temperature_c());
    out.push_back(s.sensor("energy.total").read());
    return out;
  };
  auto a = run(), b = run();
  CHECK(a == b);  // bit for bit
  SimulatedPlatform c(dynn::SimBoard::xavier_nx(), SimOptions{{}, {}, 0.05, 43});
  CHECK(c.simulate_work(25.0, "gpu").latency_s != a[2]);  // the seed matters
}

TEST_CASE("latency scales with frequency, threads and affinity", "[platform][sim]") {
  SimulatedPlatform s;
  // At the reference settings (15 W 6-core mode clocks, 6 threads) latency = the LUT value.
  pin_all(s, 1420800, 1109250000);
  CHECK(s.simulate_work(30.0, "gpu").latency_s == Approx(0.030));
  CHECK(s.simulate_work(800.0, "cpu").latency_s == Approx(0.800));
  // GPU 1109 -> 803 MHz: x1.16 (Dynamic-OFA motivation figure).
  s.knob("gpu.freq").set(803250000);
  CHECK(s.simulate_work(30.0, "gpu").latency_s / 0.030 == Approx(1.16).epsilon(0.01));
  // Monotone over all OPPs.
  double prev = 1e9;
  for (auto f : s.knob("cpufreq.policy0.freq").values()) {
    pin_all(s, f, 0);
    double t = s.predict_latency_s(800.0, "cpu");
    CHECK(t < prev);
    prev = t;
  }
  pin_all(s, 1420800, 0);
  const double six = s.predict_latency_s(800.0, "cpu");
  s.knob("threads").set(1);
  const double one = s.predict_latency_s(800.0, "cpu");
  CHECK(one > 3 * six);
  s.knob("threads").set(6);
  s.knob("affinity").set(0x3);  // two cores for six threads
  CHECK(s.predict_latency_s(800.0, "cpu") > 2 * six);
  CHECK_THROWS_AS(s.knob("affinity").set(0x40), dynn::Error);
  CHECK_THROWS_AS(s.knob("threads").set(7), dynn::Error);
  // Governors: powersave runs at min, userspace at setspeed.
  s.restore();
  s.knob("cpufreq.policy0.governor").set_text("powersave");
  s.knob("affinity").set(0x1);
  s.knob("threads").set(1);
  auto slow = s.simulate_work(100.0, "cpu");
  CHECK(slow.cpu_mhz == Approx(115.2));
  CHECK_FALSE(s.knob("cpufreq.policy0.setspeed").writable());
  s.knob("cpufreq.policy0.governor").set_text("userspace");
  s.knob("cpufreq.policy0.setspeed").set(960000);
  CHECK(s.simulate_work(100.0, "cpu").cpu_mhz == Approx(960.0));
  // The device knob picks the device when none is named.
  s.knob("device").set(0);
  CHECK(s.simulate_work(10.0).device == "gpu");
}

TEST_CASE("simulated power stays in the published envelopes", "[platform][sim]") {
  SECTION("idle ~5.1 W (tegrastats anchor) and idle energy = power x time") {
    SimulatedPlatform s;
    const double p = s.sensor("power.VDD_IN").read();
    CHECK(p > 4.8);
    CHECK(p < 5.4);
    for (const char* pol : {"policy0", "policy2", "policy4"}) s.knob(std::string("cpufreq.") + pol + ".governor").set_text("performance");
    const double all_on = s.sensor("power.VDD_IN").read();
    CHECK(all_on == Approx(5.2).margin(0.1));
    // The anchor's state: cpu4-5 offline (their cluster gated), cores at 1.9 GHz, GPU idle at 510 MHz.
    s.knob("gpu.min_freq").set(510000000);
    s.knob("cpu4.online").set(0);
    s.knob("cpu5.online").set(0);
    CHECK(s.sensor("power.VDD_IN").read() == Approx(5.079).epsilon(1e-9));
    CHECK(s.sensor("power.VDD_CPU_GPU_CV").read() == Approx(0.696).epsilon(1e-9));
    CHECK(s.sensor("power.VDD_SOC").read() == Approx(1.104));
    s.knob("cpu4.online").set(1);
    const double e0 = s.sensor("energy.total").read();
    const double pw = s.power_w();
    s.advance(100);
    CHECK(s.sensor("energy.total").read() - e0 == Approx(pw * 100).epsilon(1e-6));
    CHECK(s.now() == Approx(100));
  }
  SECTION("everything busy: <= 15 W with the 15 W mode clocks, <= 20 W at the top clocks, <= 10 W in a 10 W setting") {
    auto full = [](int64_t cpu, int64_t gpu, int64_t mask) {
      SimulatedPlatform s;
      pin_all(s, cpu, gpu);
      s.knob("affinity").set(mask);
      s.knob("threads").set(__builtin_popcountll(static_cast<unsigned long long>(mask)));
      s.add_interference({SimInterference::Target::Gpu, 0, 1e9, 1.0, 0});                 // GPU fully loaded
      s.add_interference({SimInterference::Target::Cpu, 0, 1e9, 1.0, static_cast<uint64_t>(mask)});  // and the cores
      s.advance(1);
      return s.sensor("power.VDD_IN").read();
    };
    const double p15 = full(1420800, 1109250000, 0x3F), p20 = full(1907200, 1109250000, 0x3F), p10 = full(1190400, 510000000, 0x0F);
    CHECK(p15 <= 15.0);
    CHECK(p15 > 12.0);
    CHECK(p20 <= 20.0);
    CHECK(p20 > p15);
    CHECK(p10 <= 10.0);
    CHECK(p10 > 7.0);
  }
  SECTION("an inference costs more than idling, and the faster clock costs more energy per op at equal work") {
    SimulatedPlatform s;
    pin_all(s, 1907200, 1109250000);
    auto hi = s.simulate_work(30, "gpu");
    s.knob("gpu.freq").set(510000000);
    auto lo = s.simulate_work(30, "gpu");
    CHECK(hi.avg_power_w > s.power_w());
    CHECK(hi.avg_power_w > lo.avg_power_w);
    CHECK(lo.latency_s > hi.latency_s);
    CHECK(hi.avg_power_w < 15.0);
  }
}

TEST_CASE("a hot, fan-less board throttles; with the fan it does not", "[platform][sim]") {
  auto sustained = [](std::optional<double> r) {
    SimOptions o;
    o.thermal_resistance = r;
    SimulatedPlatform s(dynn::SimBoard::xavier_nx(), o);
    pin_all(s, 1907200, 1109250000);
    s.add_interference({SimInterference::Target::Cpu, 0, 1e9, 1.0, 0x3E});  // another app keeps 5 cores busy
    const double first = s.simulate_work(30, "gpu").latency_s;
    double worst = 0, max_temp = 0;
    bool throttled = false;
    while (s.now() < 900) {
      auto r = s.simulate_work(30, "gpu");
      worst = std::max(worst, r.latency_s);
      max_temp = std::max(max_temp, r.peak_temp_c);
      throttled |= r.throttled;
    }
    return std::make_tuple(first, worst, max_temp, throttled, s.throttle_steps(), s.sensor("freq.gpu").read());
  };
  auto [f1, w1, t1, th1, steps1, g1] = sustained(std::nullopt);
  CHECK_FALSE(th1);
  CHECK(w1 == Approx(f1));
  CHECK(t1 < 90);
  auto [f2, w2, t2, th2, steps2, g2] = sustained(6.0);
  CHECK(th2);
  CHECK(steps2 > 0);
  CHECK(w2 > 1.05 * f2);     // throttled clocks make it slower
  CHECK(t2 < 95);            // and hold the temperature near the trip point
  CHECK(g2 < 1109.25);
  (void)g1;
  (void)steps1;
}

TEST_CASE("interference windows slow inference down while they last", "[platform][sim]") {
  SimulatedPlatform s;
  pin_all(s, 1420800, 1109250000);
  s.add_interference({SimInterference::Target::Gpu, 10, 5, 0.14, 0});
  s.add_interference({SimInterference::Target::Cpu, 30, 10, 0.5, 0});
  const double g0 = s.simulate_work(40, "gpu").latency_s;
  s.advance(10 - s.now());
  const double g1 = s.simulate_work(40, "gpu").latency_s;
  CHECK(g1 / g0 == Approx(1.0 / 0.86).epsilon(1e-6));  // ~x1.16: one co-runner on the GPU
  s.advance(15 - s.now() - 0.02);                       // crosses the end of the window mid-inference
  const double g2 = s.simulate_work(40, "gpu").latency_s;
  CHECK(g2 > g0);
  CHECK(g2 < g1);
  s.advance(20 - s.now());
  CHECK(s.simulate_work(40, "gpu").latency_s == Approx(g0));
  const double c0 = s.simulate_work(500, "cpu").latency_s;
  s.advance(30 - s.now());
  CHECK(s.simulate_work(500, "cpu").latency_s / c0 == Approx(2.0).epsilon(1e-6));  // CPU co-runner: x2
  CHECK_THROWS_AS(s.add_interference({SimInterference::Target::Cpu, 0, 1, 0.0, 0}), dynn::Error);
  CHECK_THROWS_AS(s.add_interference({SimInterference::Target::Cpu, 0, -1, 0.5, 0}), dynn::Error);
}

TEST_CASE("CPU hot-plug: offline cores take no work, gate their cluster and pass their co-runner on", "[platform][sim]") {
  SimulatedPlatform s;
  CHECK_FALSE(s.find_knob("cpu0.online"));  // cpu0 cannot go offline on these boards
  REQUIRE(s.knob("cpu5.online").values() == std::vector<int64_t>{0, 1});
  SECTION("latency: six threads on two online cores run like six threads pinned to two") {
    s.knob("affinity").set(0x3);
    const double pinned = s.predict_latency_s(100, "cpu");
    s.knob("affinity").set(0x3F);
    for (int c = 2; c < 6; ++c) s.knob("cpu" + std::to_string(c) + ".online").set(0);
    CHECK(s.predict_latency_s(100, "cpu") == Approx(pinned).epsilon(1e-12));
    s.knob("affinity").set(0x30);  // only offline CPUs: the threads run on the online ones
    CHECK(s.predict_latency_s(100, "cpu") == Approx(pinned).epsilon(1e-12));
  }
  SECTION("power: a cluster with every core offline is gated, one online core keeps it up") {
    const auto& b = s.board();
    const double idle = s.sensor("power.VDD_CPU_GPU_CV").read();
    const auto& cl = b.clusters[2];
    const double v = cl.v_min, f = static_cast<double>(cl.khz.front()) * 1e-6;  // schedutil idles at the lowest OPP
    const double idle_core = cl.c_eff * v * v * f * b.idle_activity;
    s.knob("cpu5.online").set(0);
    CHECK(idle - s.sensor("power.VDD_CPU_GPU_CV").read() == Approx(idle_core).epsilon(1e-9));
    s.knob("cpu4.online").set(0);
    CHECK(idle - s.sensor("power.VDD_CPU_GPU_CV").read() == Approx(2 * idle_core + cl.static_w).epsilon(1e-9));
  }
  SECTION("a co-runner's demand moves to the CPUs still online") {
    s.add_interference({SimInterference::Target::Cpu, 0, 1e9, 0.25, 0});
    s.knob("threads").set(2);
    s.knob("affinity").set(0x3);
    const double shared = s.predict_latency_s(100, "cpu");
    for (int c = 2; c < 6; ++c) s.knob("cpu" + std::to_string(c) + ".online").set(0);
    CHECK(s.predict_latency_s(100, "cpu") / shared == Approx(0.75 / 0.25).epsilon(1e-9));  // 3 x 0.25 per online core
  }
  SECTION("per-rail energy adds up, restore brings the cores back") {
    s.knob("cpu3.online").set(0);
    s.simulate_work(40, "gpu");
    s.simulate_work(200, "cpu");
    s.advance(0.5);
    CHECK(s.rail_energy_j("VDD_IN") == Approx(s.energy_j()).epsilon(1e-12));
    CHECK(s.rail_energy_j("VDD_CPU_GPU_CV") > 0);
    CHECK(s.rail_energy_j("VDD_CPU_GPU_CV") + s.rail_energy_j("VDD_SOC") < s.energy_j());
    try {
      s.rail_energy_j("VDD_GPU");
      FAIL("expected an error");
    } catch (const dynn::Error& e) {
      CHECK(e.code() == dynn::ErrorCode::NotFound);
      CHECK(std::string(e.what()).find("VDD_CPU_GPU_CV") != std::string::npos);
    }
    s.restore();
    CHECK(s.knob("cpu3.online").get() == 1);
  }
}

TEST_CASE("simulated sensors, restore and errors", "[platform][sim]") {
  SimulatedPlatform s;
  auto r = s.simulate_work(100, "gpu");
  CHECK(s.sensor("energy.total").read() == Approx(r.energy_j + 0.0).margin(1e-12));
  CHECK(s.sensor("util.gpu").read() == Approx(100.0).margin(0.1));
  s.advance(0.1);
  CHECK(s.sensor("util.gpu").read() == Approx(100.0 * 0.03).margin(0.1));  // idle since the last read
  CHECK(s.sensor("temp.CPU-therm").read() > 25.0);
  CHECK(s.sensor("freq.gpu").read() == Approx(114.75));  // podgov idles at min_freq

  s.knob("gpu.freq").set(803250000);
  s.knob("cpufreq.policy4.governor").set_text("performance");
  s.knob("threads").set(2);
  s.restore();
  CHECK(s.knob("gpu.max_freq").get() == 1109250000);
  CHECK(s.knob("gpu.min_freq").get() == 114750000);
  CHECK(s.knob("cpufreq.policy4.governor").get_text() == "schedutil");
  CHECK(s.knob("threads").get() == 6);

  CHECK_THROWS_AS(s.simulate_work(10, "npu"), dynn::Error);
  CHECK_THROWS_AS(s.simulate_work(-1, "cpu"), dynn::Error);
  CHECK_THROWS_AS(s.advance(-1), dynn::Error);
  try {
    s.simulate_inference(dynn::SubnetConfig::smallest(), "cpu");
    FAIL("expected an error");
  } catch (const dynn::Error& e) {
    CHECK(e.code() == dynn::ErrorCode::Unsupported);
  }
  CHECK_THROWS_AS(SimulatedPlatform::create("pentium"), dynn::Error);
  s.idle(1.0);  // Platform interface: virtual time, no sleeping
  CHECK(s.now() > 1.0);
}

TEST_CASE("Odroid XU3 profile reproduces the published A15 wall-power rows", "[platform][sim]") {
  for (auto [mhz, watts] : {std::pair<int64_t, double>{2000, 12.64}, {1400, 7.91}, {1000, 6.42}, {500, 5.13}}) {
    auto s = SimulatedPlatform::create("odroid-xu3");
    s->knob("cpufreq.policy4.freq").set(mhz * 1000);
    s->add_interference({SimInterference::Target::Cpu, 0, 1e9, 1.0, 0xF0});  // 7-zip on the four A15 cores
    s->advance(1);
    INFO(mhz);
    CHECK(s->sensor("power.total").read() == Approx(watts).epsilon(0.03));
  }
  auto s = SimulatedPlatform::create("odroid-xu3");
  CHECK(s->sensor("power.total").read() == Approx(3.9).epsilon(0.01));
  CHECK(s->find_sensor("power.arm"));
  CHECK(s->find_sensor("power.kfc"));
  CHECK(s->find_knob("gpu.freq") == nullptr);
  CHECK_THROWS_AS(s->simulate_work(10, "gpu"), dynn::Error);
  REQUIRE(s->cpu_clusters().size() == 2);
  CHECK(s->cpu_clusters()[1].capacity == 1024);
  CHECK(s->cpu_clusters()[0].capacity < 1024);
  // A7 cores are slower than A15 cores at the same work.
  s->knob("threads").set(1);
  s->knob("affinity").set(0x01);
  const double little = s->predict_latency_s(100, "cpu");
  s->knob("affinity").set(0x10);
  CHECK(s->predict_latency_s(100, "cpu") < little);
}

TEST_CASE("sub-network latency from the Dynamic-OFA Jetson LUTs", "[platform][sim][shared]") {
  SimulatedPlatform s;
  dynn::load_latency_tables(s, dynn::test::shared_path("data/dynamic_ofa/latency_lut_jetson_xavier_nx_cpu").string(),
                            dynn::test::shared_path("data/dynamic_ofa/latency_lut_jetson_xavier_nx_gpu").string());
  auto big = dynn::SubnetConfig::largest(224), small = dynn::SubnetConfig::smallest(224);
  CHECK(s.reference_latency_ms(big, "cpu") == Approx(3551.45).margin(0.01));
  CHECK(s.reference_latency_ms(small, "cpu") == Approx(842.70).margin(0.01));
  CHECK(s.reference_latency_ms(big, "gpu") == Approx(30.19).margin(0.01));
  pin_all(s, 1420800, 1109250000);
  auto g = s.simulate_inference(big, "gpu");
  CHECK(g.latency_s * 1e3 == Approx(s.reference_latency_ms(big, "gpu")));
  CHECK(g.reference_ms == Approx(30.19).margin(0.01));
  auto c = s.simulate_inference(small, "cpu");
  CHECK(c.latency_s * 1e3 == Approx(842.70).margin(0.01));
  CHECK(c.energy_j > 0);
  CHECK(s.simulate_inference(small, "gpu").latency_s < g.latency_s);
  while (s.now() < 600) s.simulate_inference(small, "gpu");  // ten simulated minutes
  CHECK(s.sensor("energy.total").read() > 600 * 5.0);
}
