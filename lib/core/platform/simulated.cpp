// SimulatedPlatform: board model in virtual time. Every number in the profiles is explained,
// with its source, in docs/simulator.md.
#include "dynn/platform/simulated.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include <fmt/format.h>

#include "dynn/error.hpp"
#include "dynn/profile/latency_table.hpp"

namespace dynn {

namespace {

// A knob whose backend is a pair of functions (the simulator's state).
class LambdaKnob : public Knob {
 public:
  struct Fns {
    std::function<int64_t()> get;
    std::function<void(int64_t)> set;
    std::function<std::string()> get_text;
    std::function<void(const std::string&)> set_text;
    std::function<std::string()> blocker;
    bool saves = true;
  };
  // parts: the knobs a composite writes through (pinned frequency: min and max).
  LambdaKnob(KnobSpec spec, Fns fns, std::vector<Knob*> parts = {}) : Knob(std::move(spec)), m_fns(std::move(fns)) {
    set_parts(std::move(parts));
  }

 protected:
  int64_t read_numeric() const override { return m_fns.get ? m_fns.get() : Knob::read_numeric(); }
  std::string read_text() const override { return m_fns.get_text ? m_fns.get_text() : Knob::read_text(); }
  void write_numeric(int64_t v) override { m_fns.set ? m_fns.set(v) : Knob::write_numeric(v); }
  void write_text(const std::string& v) override { m_fns.set_text ? m_fns.set_text(v) : Knob::write_text(v); }
  std::string write_blocker() const override { return m_fns.blocker ? m_fns.blocker() : std::string(); }
  bool saves_original() const override { return m_fns.saves; }

 private:
  Fns m_fns;
};

std::vector<int64_t> xavier_cpu_khz() {
  return {115200, 192000, 268800, 345600, 422400, 499200, 576000, 652800, 729600, 806400, 883200, 960000, 1036800,
          1113600, 1190400, 1267200, 1344000, 1420800, 1497600, 1574400, 1651200, 1728000, 1804800, 1881600, 1907200};
}
std::vector<int64_t> xavier_gpu_hz() {
  return {114750000, 204000000, 306000000, 408000000, 510000000, 599250000, 701250000, 752250000,
          803250000, 854250000, 905250000, 956250000, 1007250000, 1058250000, 1109250000};
}

double lerp_v(double f, double f0, double f1, double v0, double v1) {
  if (f1 <= f0) return v1;
  return v0 + (v1 - v0) * std::clamp((f - f0) / (f1 - f0), 0.0, 1.0);
}

}  // namespace

// ------------------------------------------------------------------ profiles

SimProfile SimProfile::xavier_nx() {
  SimProfile p;
  p.name = "xavier-nx";
  p.model = "NVIDIA Jetson Xavier NX (simulated)";
  p.cpu_governors = {"interactive", "conservative", "ondemand", "userspace", "powersave", "performance", "schedutil"};
  for (int c = 0; c < 3; ++c) {
    SimCluster cl;
    cl.cpus = {2 * c, 2 * c + 1};
    cl.khz = xavier_cpu_khz();
    cl.v_min = 0.60;
    cl.v_max = 1.10;
    // 6 busy cores at 1907.2 MHz draw 8.1 W of dynamic power (calibrated to the 15/20 W modes).
    cl.c_eff = 8.1 / 6 / (1.10 * 1.10 * 1.9072);
    cl.rail = "VDD_CPU_GPU_CV";
    cl.governor = "schedutil";
    p.clusters.push_back(cl);
  }
  p.gpu_hz = xavier_gpu_hz();
  p.gpu_v_min = 0.60;
  p.gpu_v_max = 1.05;
  p.gpu_c_eff = 4.5 / (1.05 * 1.05 * 1.10925);  // busy GPU at 1109.25 MHz: 4.5 W dynamic
  p.gpu_rail = "VDD_CPU_GPU_CV";
  p.gpu_governor = "nvhost_podgov";
  p.gpu_governors = {"wmark_active", "wmark_simple", "nvhost_podgov", "userspace", "performance", "simple_ondemand"};
  p.idle_activity = 0.03;
  p.gpu_host_activity = 0.3;
  // Idle anchor (tegrastats): VDD_IN 5079 mW, VDD_CPU_GPU_CV 696 mW, VDD_SOC 1104 mW with 4 cores
  // idling at ~1.9 GHz and the GPU idle at 510 MHz. Leakage = 696 mW minus that state's idle dynamic power.
  const double v_cpu = 1.10, f_cpu = 1.9072;
  const double idle_cpu = 4 * p.clusters[0].c_eff * v_cpu * v_cpu * f_cpu * p.idle_activity;
  const double v_gpu = lerp_v(510e6, 114.75e6, 1109.25e6, p.gpu_v_min, p.gpu_v_max);
  const double idle_gpu = p.gpu_c_eff * v_gpu * v_gpu * 0.510 * p.idle_activity;
  const double leak = 0.696 - idle_cpu - idle_gpu;
  for (auto& cl : p.clusters) cl.static_w = leak * 0.6 / 3;  // 60 % CPU, 40 % GPU (assumption)
  p.gpu_static_w = leak * 0.4;
  p.soc_rail = "VDD_SOC";
  p.soc_idle_w = 1.104;
  p.soc_active_w = 0.3;
  p.dram_active_w = 0.5;
  p.base_w = 5.079 - 0.696 - 1.104;
  p.total_rail = "VDD_IN";
  p.rails = {"VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"};
  // The Dynamic-OFA tables were measured in the default mode (MODE_15W_6CORE: CPU 1420.8 MHz,
  // GPU 1109.25 MHz) with PyTorch's default of one thread per online core.
  p.cpu_ref_khz = 1420800;
  p.gpu_ref_hz = 1109250000;
  p.cpu_ref_threads = 6;
  p.cpu_compute_fraction = 0.9;
  p.gpu_compute_fraction = 0.42;  // 1109 -> 803 MHz gives x1.16 (Dynamic-OFA motivation figure)
  p.cpu_parallel_fraction = 0.85;
  p.oversubscription_penalty = 0.1;
  p.ambient_c = 25;
  p.thermal_resistance = 2.5;
  p.thermal_tau_s = 30;
  p.throttle_c = 90;
  p.release_c = 85;
  p.throttle_period_s = 0.5;
  p.max_throttle_steps = 12;
  p.thermal_zones = {"CPU-therm", "GPU-therm"};
  p.board_zone = "Tboard_tegra";
  return p;
}

SimProfile SimProfile::odroid_xu3() {
  SimProfile p;
  p.name = "odroid-xu3";
  p.model = "Hardkernel Odroid XU3 (simulated)";
  p.cpu_governors = {"conservative", "ondemand", "userspace", "powersave", "performance"};
  SimCluster a7, a15;
  a7.cpus = {0, 1, 2, 3};
  for (int64_t f = 200000; f <= 1400000; f += 100000) a7.khz.push_back(f);
  a7.v_min = 0.90;
  a7.v_max = 1.20;
  a7.c_eff = 0.154 / (1.20 * 1.20 * 1.4);  // 0.154 W per busy A7 core at 1.4 GHz (sbc-bench rows, all-cores minus A15-only)
  a7.perf = 0.765;                          // 7-zip MIPS per A7 core per MHz vs A15 at 1400 MHz (same rows)
  a7.static_w = 0.05;
  a7.rail = "kfc";
  a7.governor = "ondemand";
  a15.cpus = {4, 5, 6, 7};
  for (int64_t f = 200000; f <= 2000000; f += 100000) a15.khz.push_back(f);
  a15.v_min = 0.90;
  a15.v_max = 1.3625;
  // Busy A15 core power per OPP from the published A15-only wall power (W - 3.9 W idle) / 4,
  // linear between the published rows, proportional to f below 500 MHz.
  const std::map<int, double> wall = {{500, 5.13}, {800, 5.80}, {1000, 6.42}, {1200, 7.06},
                                      {1400, 7.91}, {1600, 8.88}, {1800, 10.26}, {2000, 12.64}};
  for (int64_t khz : a15.khz) {
    double mhz = khz / 1000.0;
    double w;
    if (mhz <= 500) {
      w = (wall.at(500) - 3.9) / 4 * mhz / 500;
    } else {
      auto hi = wall.lower_bound(static_cast<int>(mhz));
      auto lo = std::prev(hi);
      double a = (hi->second - 3.9) / 4, b = (lo->second - 3.9) / 4;
      w = hi->first == static_cast<int>(mhz) ? a : b + (a - b) * (mhz - lo->first) / (hi->first - lo->first);
    }
    a15.busy_core_w.push_back(w);
  }
  a15.perf = 1.0;
  a15.static_w = 0.15;
  a15.rail = "arm";
  a15.governor = "ondemand";
  p.clusters = {a7, a15};
  p.idle_activity = 0.02;
  p.soc_rail = "mem";
  p.soc_idle_w = 0.10;
  p.soc_active_w = 0;   // the published rows are wall power: memory traffic is inside the busy-core numbers
  p.dram_active_w = 0;
  p.total_rail = "";    // the board has no total-input sensor
  p.rails = {"arm", "kfc", "mem"};
  p.cpu_ref_khz = 2000000;
  p.cpu_ref_threads = 4;
  p.cpu_compute_fraction = 0.70;  // A15 MIPS 1776 @500 MHz -> 5522 @2000 MHz: x3.11 for x4 clock
  p.cpu_parallel_fraction = 0.85;
  p.ambient_c = 25;
  p.thermal_resistance = 4.0;
  p.thermal_tau_s = 20;
  p.throttle_c = 85;
  p.release_c = 80;
  p.max_throttle_steps = 10;
  p.thermal_zones = {"cpu-thermal"};
  // base: board idle of 3.9 W (sbc-bench, HC2) minus the idle rails (set below at construction time).
  p.base_w = 3.9;
  return p;
}

SimProfile SimProfile::by_name(const std::string& name) {
  if (name == "xavier-nx" || name == "xavier_nx" || name == "jetson-xavier-nx") return xavier_nx();
  if (name == "odroid-xu3" || name == "odroid_xu3") return odroid_xu3();
  throw Error(ErrorCode::NotFound, fmt::format("no simulated platform '{}'; available: xavier-nx, odroid-xu3", name));
}

// ------------------------------------------------------------------ state

struct SimulatedPlatform::State {
  SimProfile prof;
  SimOptions opt;
  std::shared_ptr<VirtualClock> clock;
  struct Policy {
    std::string governor;
    int64_t min = 0, max = 0, setspeed = 0;
  };
  std::vector<Policy> pol;
  Policy gpu;
  Knob* threads = nullptr;
  Knob* affinity = nullptr;
  Knob* device = nullptr;
  double temp = 25;
  int throttle = 0;
  bool ever_throttled = false;
  double next_check = 0;
  double energy = 0;
  std::vector<double> cpu_busy;  // activity integrals per CPU (s)
  double gpu_busy = 0;
  std::vector<SimInterference> events;
  std::shared_ptr<const LatencyTable> lut_cpu, lut_gpu;
  std::mt19937_64 rng;
  int ncpu = 0;

  // What runs during one step.
  struct Activity {
    std::vector<double> cpu;  // own activity per CPU (0..1)
    double gpu = 0;
    bool inferring = false;
  };

  double now() const { return clock->now(); }

  double interference(SimInterference::Target t, int cpu, double at) const {
    double s = 0;
    for (auto& e : events) {
      if (e.target != t || at < e.start_s || at >= e.start_s + e.duration_s) continue;
      if (t == SimInterference::Target::Cpu && e.cpu_mask && !(e.cpu_mask >> cpu & 1)) continue;
      s += e.share;
    }
    return std::min(s, 0.95);
  }
  // Next time an interference window opens or closes after `at`.
  double next_event(double at) const {
    double n = 1e300;
    for (auto& e : events) {
      if (e.start_s > at) n = std::min(n, e.start_s);
      if (e.start_s + e.duration_s > at) n = std::min(n, e.start_s + e.duration_s);
    }
    return n;
  }

  int64_t cap_of(const std::vector<int64_t>& opps) const {
    int idx = std::max(0, static_cast<int>(opps.size()) - 1 - throttle);
    return opps[static_cast<size_t>(idx)];
  }
  // Governor emulation: performance -> max, powersave -> min, userspace -> setspeed; load-driven
  // governors (schedutil, ondemand, nvhost_podgov, ...) -> max while busy, min while idle.
  static int64_t governed(const Policy& p, bool busy) {
    int64_t f;
    if (p.governor == "performance") f = p.max;
    else if (p.governor == "powersave") f = p.min;
    else if (p.governor == "userspace") f = p.setspeed;
    else f = busy ? p.max : p.min;
    return std::clamp(f, std::min(p.min, p.max), p.max);
  }
  static int64_t snap_down(const std::vector<int64_t>& opps, int64_t f) {
    auto it = std::upper_bound(opps.begin(), opps.end(), f);
    return it == opps.begin() ? opps.front() : *std::prev(it);
  }
  int64_t cluster_khz(size_t c, bool busy) const {
    auto& opps = prof.clusters[c].khz;
    return snap_down(opps, std::min(governed(pol[c], busy), cap_of(opps)));
  }
  int64_t gpu_hz(bool busy) const {
    if (prof.gpu_hz.empty()) return 0;
    return snap_down(prof.gpu_hz, std::min(governed(gpu, busy), cap_of(prof.gpu_hz)));
  }
  size_t cluster_of(int cpu) const {
    for (size_t c = 0; c < prof.clusters.size(); ++c)
      for (int x : prof.clusters[c].cpus)
        if (x == cpu) return c;
    return 0;
  }
  double core_w(size_t c, int64_t khz, double activity) const {
    auto& cl = prof.clusters[c];
    double busy;
    if (!cl.busy_core_w.empty()) {
      size_t i = static_cast<size_t>(std::lower_bound(cl.khz.begin(), cl.khz.end(), khz) - cl.khz.begin());
      busy = cl.busy_core_w[std::min(i, cl.busy_core_w.size() - 1)];
    } else {
      double v = lerp_v(static_cast<double>(khz), static_cast<double>(cl.khz.front()), static_cast<double>(cl.khz.back()), cl.v_min, cl.v_max);
      busy = cl.c_eff * v * v * khz * 1e-6;
    }
    return busy * activity;
  }
  double gpu_w(int64_t hz, double activity) const {
    if (prof.gpu_hz.empty()) return 0;
    double v = lerp_v(static_cast<double>(hz), static_cast<double>(prof.gpu_hz.front()), static_cast<double>(prof.gpu_hz.back()),
                      prof.gpu_v_min, prof.gpu_v_max);
    return prof.gpu_c_eff * v * v * hz * 1e-9 * activity;
  }

  // Total activity per CPU / GPU (own + interference), and the busy flags the governors see.
  struct Load {
    std::vector<double> cpu;
    double gpu = 0;
    std::vector<bool> cluster_busy;
    bool gpu_busy = false;
  };
  Load load(const Activity& a, double at) const {
    Load l;
    l.cpu.resize(static_cast<size_t>(ncpu));
    l.cluster_busy.assign(prof.clusters.size(), false);
    for (int c = 0; c < ncpu; ++c) {
      double own = a.cpu.empty() ? 0 : a.cpu[static_cast<size_t>(c)];
      double act = std::min(1.0, std::max(own, prof.idle_activity) + interference(SimInterference::Target::Cpu, c, at));
      l.cpu[static_cast<size_t>(c)] = act;
      if (act >= 0.3) l.cluster_busy[cluster_of(c)] = true;  // governors see a loaded CPU
    }
    l.gpu = std::min(1.0, std::max(a.gpu, prof.idle_activity) + interference(SimInterference::Target::Gpu, 0, at));
    l.gpu_busy = l.gpu >= 0.3;
    return l;
  }

  std::map<std::string, double> rails(const Activity& a, double at) const {
    Load l = load(a, at);
    std::map<std::string, double> r;
    for (auto& name : prof.rails) r[name] = 0;
    double total = prof.base_w;
    for (size_t c = 0; c < prof.clusters.size(); ++c) {
      auto& cl = prof.clusters[c];
      int64_t khz = cluster_khz(c, l.cluster_busy[c]);
      double w = cl.static_w;
      for (int cpu : cl.cpus) w += core_w(c, khz, l.cpu[static_cast<size_t>(cpu)]);
      r[cl.rail] += w;
      total += w;
    }
    if (!prof.gpu_hz.empty()) {
      double w = prof.gpu_static_w + gpu_w(gpu_hz(l.gpu_busy), l.gpu);
      r[prof.gpu_rail] += w;
      total += w;
    }
    double soc = prof.soc_idle_w + (a.inferring ? prof.soc_active_w : 0);
    if (!prof.soc_rail.empty()) r[prof.soc_rail] += soc;
    total += soc + (a.inferring ? prof.dram_active_w : 0);
    if (!prof.total_rail.empty()) r[prof.total_rail] = total;
    r[""] = total;  // the whole board
    return r;
  }

  // Advance by dt under activity a (dt must not cross a throttle check or an event boundary).
  void step(double dt, const Activity& a) {
    if (dt <= 0) return;
    const double t0 = now();
    double p = rails(a, t0)[""];
    energy += p * dt;
    Load l = load(a, t0);
    for (int c = 0; c < ncpu; ++c) cpu_busy[static_cast<size_t>(c)] += l.cpu[static_cast<size_t>(c)] * dt;
    gpu_busy += l.gpu * dt;
    const double t_inf = prof.ambient_c + prof.thermal_resistance * p;
    temp = t_inf + (temp - t_inf) * std::exp(-dt / prof.thermal_tau_s);
    clock->sleep(dt);
    if (now() >= next_check - 1e-12) {
      if (temp >= prof.throttle_c && throttle < prof.max_throttle_steps) ++throttle;
      else if (temp < prof.release_c && throttle > 0) --throttle;
      if (throttle > 0) ever_throttled = true;
      next_check += prof.throttle_period_s;
    }
  }
  double max_dt() const {
    double t = now();
    return std::max(1e-9, std::min({next_check - t, next_event(t) - t, 0.05}));
  }

  void idle_for(double seconds) {
    double end = now() + seconds;
    Activity idle;
    while (now() < end - 1e-12) step(std::min(end - now(), max_dt()), idle);
  }

  // ---- latency

  std::vector<int> allowed_cpus() const {
    uint64_t mask = static_cast<uint64_t>(affinity->get());
    std::vector<int> v;
    for (int c = 0; c < ncpu; ++c)
      if (mask >> c & 1) v.push_back(c);
    return v;
  }

  // Time (s) for the whole reference workload under the state at `at`, and the activity it makes.
  double cpu_time(double ref_s, double at, Activity* act) const {
    const double alpha = prof.cpu_compute_fraction, par = prof.cpu_parallel_fraction;
    const int n = static_cast<int>(threads->get());
    auto cpus = allowed_cpus();
    // Busy clusters run at their busy frequency; the threads take the fastest allowed cores.
    std::vector<std::pair<double, int>> speed;
    for (int c : cpus) {
      size_t k = cluster_of(c);
      double f = static_cast<double>(cluster_khz(k, true));
      double s = 1.0 / (alpha * static_cast<double>(prof.cpu_ref_khz) / (f * prof.clusters[k].perf) + (1 - alpha));
      s *= 1.0 - interference(SimInterference::Target::Cpu, c, at);
      speed.push_back({s, c});
    }
    std::sort(speed.begin(), speed.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    const int k = std::min<int>(n, static_cast<int>(speed.size()));
    double sum = 0;
    for (int i = 0; i < k; ++i) sum += speed[static_cast<size_t>(i)].first;
    const double w1 = ref_s / ((1 - par) + par / prof.cpu_ref_threads);  // one reference core
    const double serial = w1 * (1 - par) / speed[0].first, parallel = w1 * par / sum;
    double t = (serial + parallel) * (1 + prof.oversubscription_penalty * std::max(0, n - k) / static_cast<double>(k));
    if (act) {
      act->cpu.assign(static_cast<size_t>(ncpu), 0.0);
      const double par_share = parallel / (serial + parallel);
      for (int i = 0; i < k; ++i) act->cpu[static_cast<size_t>(speed[static_cast<size_t>(i)].second)] = i == 0 ? 1.0 : par_share;
      act->inferring = true;
    }
    return t;
  }
  double gpu_time(double ref_s, double at, Activity* act) const {
    const double alpha = prof.gpu_compute_fraction;
    double f = static_cast<double>(gpu_hz(true));
    double t = ref_s * (alpha * static_cast<double>(prof.gpu_ref_hz) / f + (1 - alpha));
    t /= 1.0 - interference(SimInterference::Target::Gpu, 0, at);
    if (act) {
      act->cpu.assign(static_cast<size_t>(ncpu), 0.0);
      auto cpus = allowed_cpus();
      act->cpu[static_cast<size_t>(cpus.front())] = prof.gpu_host_activity;
      act->gpu = 1.0;
      act->inferring = true;
    }
    return t;
  }

  std::string resolve(const std::string& device) const {
    std::string d = device;
    if (d.empty()) d = device_knob_value() < 0 ? "cpu" : "gpu";
    if (d == "cuda" || d == "cuda:0") d = "gpu";
    if (d != "cpu" && d != "gpu")
      throw Error(ErrorCode::InvalidArgument, fmt::format("simulated device '{}' unknown; use \"cpu\" or \"gpu\"", device));
    if (d == "gpu" && prof.gpu_hz.empty())
      throw Error(ErrorCode::Unsupported, fmt::format("simulated platform '{}' has no GPU", prof.name));
    return d;
  }
  int64_t device_knob_value() const { return device->get(); }

  SimInference run(double ref_ms, const std::string& dev) {
    if (!(ref_ms > 0) || !std::isfinite(ref_ms))
      throw Error(ErrorCode::InvalidArgument, fmt::format("reference latency must be > 0 ms, got {}", ref_ms));
    SimInference r;
    r.device = dev;
    r.start_s = now();
    r.reference_ms = ref_ms;
    double ref_s = ref_ms * 1e-3;
    if (opt.latency_noise > 0) {
      std::normal_distribution<double> n(1.0, opt.latency_noise);
      ref_s *= std::clamp(n(rng), 0.5, 1.5);
    }
    const double e0 = energy;
    r.peak_temp_c = temp;
    bool throttled = throttle > 0;
    double remaining = 1.0;  // fraction of the work left
    int guard = 0;
    while (remaining > 1e-12) {
      if (++guard > 50000000) throw Error(ErrorCode::Internal, "simulation did not converge");
      Activity a;
      double t = dev == "cpu" ? cpu_time(ref_s, now(), &a) : gpu_time(ref_s, now(), &a);
      double rate = 1.0 / t;
      double dt = std::min(remaining / rate, max_dt());
      step(dt, a);
      remaining -= rate * dt;
      r.peak_temp_c = std::max(r.peak_temp_c, temp);
      throttled |= throttle > 0;
    }
    r.latency_s = now() - r.start_s;
    r.energy_j = energy - e0;
    r.avg_power_w = r.energy_j / r.latency_s;
    r.throttled = throttled;
    auto cpus = allowed_cpus();
    r.cpu_mhz = static_cast<double>(cluster_khz(cluster_of(cpus.front()), true)) / 1000.0;
    r.gpu_mhz = static_cast<double>(gpu_hz(true)) / 1e6;
    return r;
  }
};

// ------------------------------------------------------------------ platform

SimulatedPlatform::SimulatedPlatform(const SimProfile& profile, const SimOptions& options)
    : Platform(profile.model, std::make_shared<VirtualClock>()), m_state(std::make_unique<State>()) {
  State& s = *m_state;
  s.prof = profile;
  s.opt = options;
  if (options.ambient_c) s.prof.ambient_c = *options.ambient_c;
  if (options.thermal_resistance) {
    if (!(*options.thermal_resistance > 0)) throw Error(ErrorCode::InvalidArgument, "thermal_resistance must be > 0");
    s.prof.thermal_resistance = *options.thermal_resistance;
  }
  if (options.latency_noise < 0 || options.latency_noise > 0.5)
    throw Error(ErrorCode::InvalidArgument, fmt::format("latency_noise must be in 0..0.5, got {}", options.latency_noise));
  if (s.prof.clusters.empty()) throw Error(ErrorCode::InvalidArgument, fmt::format("profile '{}' has no CPU cluster", s.prof.name));
  s.clock = std::static_pointer_cast<VirtualClock>(std::shared_ptr<Clock>(&clock(), [](Clock*) {}));
  s.rng.seed(options.seed);
  s.temp = s.prof.ambient_c;
  s.next_check = s.prof.throttle_period_s;
  for (auto& cl : s.prof.clusters)
    for (int c : cl.cpus) s.ncpu = std::max(s.ncpu, c + 1);
  s.cpu_busy.assign(static_cast<size_t>(s.ncpu), 0.0);
  State* st = m_state.get();

  // Knobs, named as Platform::detect names them on the real board.
  std::vector<CpuCluster> clusters;
  for (size_t c = 0; c < s.prof.clusters.size(); ++c) {
    auto& cl = s.prof.clusters[c];
    s.pol.push_back({cl.governor, cl.khz.front(), cl.khz.back(), cl.khz.front()});
    const std::string pol = fmt::format("policy{}", cl.cpus.front());
    const std::string pre = "cpufreq." + pol;
    double top = 0;  // cpu_capacity: performance at max frequency, the fastest cluster = 1024
    for (auto& o : s.prof.clusters) top = std::max(top, o.perf * static_cast<double>(o.khz.back()));
    const int capacity = static_cast<int>(std::lround(1024 * cl.perf * static_cast<double>(cl.khz.back()) / top));
    clusters.push_back({static_cast<int>(c), cl.cpus, capacity, pol, cl.khz.front(), cl.khz.back()});
    auto P = [st, c]() -> State::Policy& { return st->pol[c]; };
    add_knob(std::make_unique<LambdaKnob>(KnobSpec{pre + ".governor", "", "simulated cpufreq governor", KnobType::Text, {}, {}, {}, s.prof.cpu_governors},
                                          LambdaKnob::Fns{nullptr, nullptr, [P] { return P().governor; }, [P](const std::string& v) { P().governor = v; }, nullptr, true}));
    Knob& kmin = add_knob(std::make_unique<LambdaKnob>(KnobSpec{pre + ".min_freq", "kHz", "simulated scaling_min_freq", KnobType::Numeric, cl.khz, {}, {}, {}},
                                                       LambdaKnob::Fns{[P] { return P().min; }, [P](int64_t v) { P().min = v; }, nullptr, nullptr, nullptr, true}));
    Knob& kmax = add_knob(std::make_unique<LambdaKnob>(KnobSpec{pre + ".max_freq", "kHz", "simulated scaling_max_freq", KnobType::Numeric, cl.khz, {}, {}, {}},
                                                       LambdaKnob::Fns{[P] { return P().max; }, [P](int64_t v) { P().max = v; }, nullptr, nullptr, nullptr, true}));
    Knob* pmin = &kmin;
    Knob* pmax = &kmax;
    add_knob(std::make_unique<LambdaKnob>(
        KnobSpec{pre + ".freq", "kHz", "pinned frequency: min_freq = max_freq; reads the pinned or current value", KnobType::Numeric, cl.khz, {}, {}, {}},
        LambdaKnob::Fns{[P, st, c] { return P().min == P().max ? P().min : st->cluster_khz(c, false); },
                        [pmin, pmax](int64_t v) {
                          if (v >= pmin->get()) pmax->set(v), pmin->set(v);
                          else pmin->set(v), pmax->set(v);
                        },
                        nullptr, nullptr, nullptr, false},
        std::vector<Knob*>{pmin, pmax}));
    add_knob(std::make_unique<LambdaKnob>(
        KnobSpec{pre + ".setspeed", "kHz", "simulated scaling_setspeed (userspace governor)", KnobType::Numeric, cl.khz, {}, {}, {}},
        LambdaKnob::Fns{[P] { return P().setspeed; }, [P](int64_t v) { P().setspeed = v; }, nullptr, nullptr,
                        [P] { return P().governor == "userspace" ? std::string() : fmt::format("governor is '{}'; scaling_setspeed needs 'userspace'", P().governor); },
                        true}));
  }
  set_cpu_clusters(clusters);
  if (!s.prof.gpu_hz.empty()) {
    s.gpu = {s.prof.gpu_governor, s.prof.gpu_hz.front(), s.prof.gpu_hz.back(), s.prof.gpu_hz.front()};
    auto& hz = s.prof.gpu_hz;
    add_knob(std::make_unique<LambdaKnob>(KnobSpec{"gpu.governor", "", "simulated devfreq governor", KnobType::Text, {}, {}, {}, s.prof.gpu_governors},
                                          LambdaKnob::Fns{nullptr, nullptr, [st] { return st->gpu.governor; }, [st](const std::string& v) { st->gpu.governor = v; }, nullptr, true}));
    Knob& kmin = add_knob(std::make_unique<LambdaKnob>(KnobSpec{"gpu.min_freq", "Hz", "simulated devfreq min_freq", KnobType::Numeric, hz, {}, {}, {}},
                                                       LambdaKnob::Fns{[st] { return st->gpu.min; }, [st](int64_t v) { st->gpu.min = v; }, nullptr, nullptr, nullptr, true}));
    Knob& kmax = add_knob(std::make_unique<LambdaKnob>(KnobSpec{"gpu.max_freq", "Hz", "simulated devfreq max_freq", KnobType::Numeric, hz, {}, {}, {}},
                                                       LambdaKnob::Fns{[st] { return st->gpu.max; }, [st](int64_t v) { st->gpu.max = v; }, nullptr, nullptr, nullptr, true}));
    Knob* pmin = &kmin;
    Knob* pmax = &kmax;
    add_knob(std::make_unique<LambdaKnob>(
        KnobSpec{"gpu.freq", "Hz", "pinned GPU frequency: min_freq = max_freq; reads the pinned or current value", KnobType::Numeric, hz, {}, {}, {}},
        LambdaKnob::Fns{[st] { return st->gpu.min == st->gpu.max ? st->gpu.min : st->gpu_hz(false); },
                        [pmin, pmax](int64_t v) {
                          if (v >= pmin->get()) pmax->set(v), pmin->set(v);
                          else pmin->set(v), pmax->set(v);
                        },
                        nullptr, nullptr, nullptr, false},
        std::vector<Knob*>{pmin, pmax}));
  }
  const uint64_t all = s.ncpu >= 64 ? ~uint64_t{0} : (uint64_t{1} << s.ncpu) - 1;
  s.affinity = &add_knob(std::make_unique<CallbackKnob>(
      KnobSpec{"affinity", "cpumask", "CPUs the inference threads may run on (bit i = CPU i)", KnobType::Numeric, {}, 1, static_cast<int64_t>(all), {}},
      static_cast<int64_t>(all)));
  s.threads = &add_knob(std::make_unique<CallbackKnob>(
      KnobSpec{"threads", "threads", "intra-op threads of the model", KnobType::Numeric, {}, 1, s.ncpu, {}}, s.prof.cpu_ref_threads));
  std::vector<int64_t> devs = {-1};
  if (!s.prof.gpu_hz.empty()) devs.push_back(0);
  s.device = &add_knob(std::make_unique<CallbackKnob>(
      KnobSpec{"device", "device", "where the model runs: -1 = CPU, 0 = the integrated GPU", KnobType::Numeric, devs, {}, {}, {}}, -1));

  // Odroid-like profiles: base_w is the board idle; subtract the idle rails so idle totals it.
  if (s.prof.total_rail.empty()) {
    double idle_rails = 0;
    auto r = s.rails(State::Activity{}, 0);
    for (auto& name : s.prof.rails) idle_rails += r[name];
    s.prof.base_w = std::max(0.0, s.prof.base_w - idle_rails);
  }

  // Sensors, named as on the real board.
  for (auto& rail : s.prof.rails)
    add_sensor(std::make_unique<FunctionSensor>("power." + rail, "W", SensorKind::Instant, "simulated rail " + rail,
                                                [st, rail] { return st->rails(State::Activity{}, st->now())[rail]; }));
  add_sensor(std::make_unique<FunctionSensor>("power.total", "W", SensorKind::Instant, "simulated whole-board power",
                                              [st] { return st->rails(State::Activity{}, st->now())[""]; }));
  add_sensor(std::make_unique<FunctionSensor>("energy.total", "J", SensorKind::Counter, "simulated whole-board energy (exact integral)",
                                              [st] { return st->energy; }));
  for (auto& z : s.prof.thermal_zones)
    add_sensor(std::make_unique<FunctionSensor>("temp." + z, "degC", SensorKind::Instant, "simulated die temperature (one thermal node)",
                                                [st] { return st->temp; }));
  if (!s.prof.board_zone.empty())
    add_sensor(std::make_unique<FunctionSensor>("temp." + s.prof.board_zone, "degC", SensorKind::Instant, "simulated board temperature",
                                                [st] { return st->prof.ambient_c + 0.3 * (st->temp - st->prof.ambient_c); }));
  for (size_t c = 0; c < s.prof.clusters.size(); ++c) {
    std::string pol = fmt::format("policy{}", s.prof.clusters[c].cpus.front());
    add_sensor(std::make_unique<FunctionSensor>("freq." + pol, "MHz", SensorKind::Instant, "simulated current CPU frequency (idle state)",
                                                [st, c] {
                                                  auto l = st->load(State::Activity{}, st->now());
                                                  return st->cluster_khz(c, l.cluster_busy[c]) / 1000.0;
                                                }));
  }
  if (!s.prof.gpu_hz.empty())
    add_sensor(std::make_unique<FunctionSensor>("freq.gpu", "MHz", SensorKind::Instant, "simulated current GPU frequency (idle state)", [st] {
      return st->gpu_hz(st->load(State::Activity{}, st->now()).gpu_busy) / 1e6;
    }));
  // Utilisation: average activity since the previous read of the same sensor.
  auto util = [this, st](const std::string& name, std::function<double()> integral, double scale) {
    auto last = std::make_shared<std::pair<double, double>>(st->now(), integral());
    add_sensor(std::make_unique<FunctionSensor>(name, "%", SensorKind::Instant, "simulated busy share since the previous read", [st, integral, last, scale] {
      double t = st->now(), v = integral();
      double u = t > last->first ? 100.0 * (v - last->second) / (t - last->first) / scale : 0.0;
      *last = {t, v};
      return std::clamp(u, 0.0, 100.0);
    }));
  };
  util("util.cpu", [st] { double s2 = 0; for (double b : st->cpu_busy) s2 += b; return s2; }, s.ncpu);
  for (int c = 0; c < s.ncpu; ++c) util(fmt::format("util.cpu{}", c), [st, c] { return st->cpu_busy[static_cast<size_t>(c)]; }, 1);
  if (!s.prof.gpu_hz.empty()) util("util.gpu", [st] { return st->gpu_busy; }, 1);
}

SimulatedPlatform::~SimulatedPlatform() {
  // Our knobs write into m_state: restore while it is alive (Platform's destructor runs after).
  try {
    restore();
  } catch (...) {
  }
}

std::unique_ptr<SimulatedPlatform> SimulatedPlatform::create(const std::string& profile_name, const SimOptions& options) {
  return std::make_unique<SimulatedPlatform>(SimProfile::by_name(profile_name), options);
}

const SimProfile& SimulatedPlatform::profile() const { return m_state->prof; }

void SimulatedPlatform::load_latency_tables(const std::string& cpu_dir, const std::string& gpu_dir) {
  auto cpu = std::make_shared<LatencyTable>(LatencyTable::load_dir(cpu_dir));
  std::shared_ptr<LatencyTable> gpu;
  if (!gpu_dir.empty()) gpu = std::make_shared<LatencyTable>(LatencyTable::load_dir(gpu_dir));
  set_latency_tables(cpu, gpu);
}

void SimulatedPlatform::set_latency_tables(std::shared_ptr<const LatencyTable> cpu, std::shared_ptr<const LatencyTable> gpu) {
  if (gpu && m_state->prof.gpu_hz.empty())
    throw Error(ErrorCode::InvalidArgument, fmt::format("simulated platform '{}' has no GPU for a GPU latency table", m_state->prof.name));
  m_state->lut_cpu = std::move(cpu);
  m_state->lut_gpu = std::move(gpu);
}

bool SimulatedPlatform::has_latency_table(const std::string& device) const {
  return m_state->resolve(device) == "cpu" ? m_state->lut_cpu != nullptr : m_state->lut_gpu != nullptr;
}

double SimulatedPlatform::reference_latency_ms(const SubnetConfig& subnet, const std::string& device) const {
  std::string d = m_state->resolve(device);
  auto& t = d == "cpu" ? m_state->lut_cpu : m_state->lut_gpu;
  if (!t)
    throw Error(ErrorCode::Unsupported, fmt::format("no {} latency table loaded; call load_latency_tables(cpu_dir, gpu_dir)", d));
  return t->predict_ms(subnet);
}

SimInference SimulatedPlatform::simulate_inference(const SubnetConfig& subnet, const std::string& device) {
  std::string d = m_state->resolve(device);
  return m_state->run(reference_latency_ms(subnet, d), d);
}

SimInference SimulatedPlatform::simulate_work(double reference_ms, const std::string& device) {
  return m_state->run(reference_ms, m_state->resolve(device));
}

double SimulatedPlatform::predict_latency_s(double reference_ms, const std::string& device) const {
  std::string d = m_state->resolve(device);
  return d == "cpu" ? m_state->cpu_time(reference_ms * 1e-3, now(), nullptr) : m_state->gpu_time(reference_ms * 1e-3, now(), nullptr);
}

void SimulatedPlatform::advance(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds))
    throw Error(ErrorCode::InvalidArgument, fmt::format("advance: seconds must be finite and >= 0, got {}", seconds));
  m_state->idle_for(seconds);
}

void SimulatedPlatform::add_interference(const SimInterference& e) {
  if (!(e.share > 0 && e.share <= 1) || !(e.duration_s >= 0) || !std::isfinite(e.start_s) || !std::isfinite(e.duration_s))
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("interference needs 0 < share <= 1, duration >= 0 and finite times (share {}, start {}, duration {})", e.share,
                            e.start_s, e.duration_s));
  if (e.target == SimInterference::Target::Gpu && m_state->prof.gpu_hz.empty())
    throw Error(ErrorCode::Unsupported, fmt::format("simulated platform '{}' has no GPU to interfere with", m_state->prof.name));
  m_state->events.push_back(e);
}

void SimulatedPlatform::clear_interference() { m_state->events.clear(); }
double SimulatedPlatform::temperature_c() const { return m_state->temp; }
int SimulatedPlatform::throttle_steps() const { return m_state->throttle; }
double SimulatedPlatform::energy_j() const { return m_state->energy; }
double SimulatedPlatform::power_w() const { return m_state->rails(State::Activity{}, now())[""]; }

}  // namespace dynn
