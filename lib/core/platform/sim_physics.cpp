// SimulatedPlatform's physics (sim_state.hpp): governor emulation and throttling, power per rail,
// the thermal node and the latency model, stepped in virtual time. docs/simulator.md explains it.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/platform/sim_state.hpp"
#include "dynn/error.hpp"

namespace dynn {

using sim_detail::lerp_v;

double sim_detail::lerp_v(double f, double f0, double f1, double v0, double v1) {
  if (f1 <= f0) return v1;
  return v0 + (v1 - v0) * std::clamp((f - f0) / (f1 - f0), 0.0, 1.0);
}

double SimulatedPlatform::State::interference(SimInterference::Target t, int cpu, double at) const {
  if (t == SimInterference::Target::Cpu && !is_online(cpu)) return 0;
  double s = 0;
  for (auto& e : events) {
    if (e.target != t || at < e.start_s || at >= e.start_s + e.duration_s) continue;
    if (t == SimInterference::Target::Cpu) {
      if (e.cpu_mask && !(e.cpu_mask >> cpu & 1)) continue;
      // The other app's demand moves to the online CPUs of its mask.
      int in_mask = 0, up = 0;
      for (int c = 0; c < ncpu; ++c)
        if (!e.cpu_mask || e.cpu_mask >> c & 1) ++in_mask, up += is_online(c) ? 1 : 0;
      s += e.share * in_mask / std::max(1, up);
    } else {
      s += e.share;
    }
  }
  return std::min(s, 0.95);
}

double SimulatedPlatform::State::next_event(double at) const {
  double n = 1e300;
  for (auto& e : events) {
    if (e.start_s > at) n = std::min(n, e.start_s);
    if (e.start_s + e.duration_s > at) n = std::min(n, e.start_s + e.duration_s);
  }
  return n;
}

int64_t SimulatedPlatform::State::cap_of(const std::vector<int64_t>& opps) const {
  int idx = std::max(0, static_cast<int>(opps.size()) - 1 - throttle);
  return opps[static_cast<size_t>(idx)];
}

int64_t SimulatedPlatform::State::governed(const Policy& p, bool busy) {
  int64_t f;
  if (p.governor == "performance") f = p.max;
  else if (p.governor == "powersave") f = p.min;
  else if (p.governor == "userspace") f = p.setspeed;
  else f = busy ? p.max : p.min;
  return std::clamp(f, std::min(p.min, p.max), p.max);
}

int64_t SimulatedPlatform::State::snap_down(const std::vector<int64_t>& opps, int64_t f) {
  auto it = std::upper_bound(opps.begin(), opps.end(), f);
  return it == opps.begin() ? opps.front() : *std::prev(it);
}

int64_t SimulatedPlatform::State::cluster_khz(size_t c, bool busy) const {
  auto& opps = board.clusters[c].khz;
  return snap_down(opps, std::min(governed(pol[c], busy), cap_of(opps)));
}

int64_t SimulatedPlatform::State::gpu_hz(bool busy) const {
  if (board.gpu_hz.empty()) return 0;
  return snap_down(board.gpu_hz, std::min(governed(gpu, busy), cap_of(board.gpu_hz)));
}

bool SimulatedPlatform::State::cluster_online(size_t c) const {
  for (int x : board.clusters[c].cpus)
    if (is_online(x)) return true;
  return false;
}

size_t SimulatedPlatform::State::cluster_of(int cpu) const {
  for (size_t c = 0; c < board.clusters.size(); ++c)
    for (int x : board.clusters[c].cpus)
      if (x == cpu) return c;
  return 0;
}

double SimulatedPlatform::State::core_w(size_t c, int64_t khz, double activity) const {
  auto& cl = board.clusters[c];
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

double SimulatedPlatform::State::gpu_w(int64_t hz, double activity) const {
  if (board.gpu_hz.empty()) return 0;
  double v = lerp_v(static_cast<double>(hz), static_cast<double>(board.gpu_hz.front()), static_cast<double>(board.gpu_hz.back()),
                    board.gpu_v_min, board.gpu_v_max);
  return board.gpu_c_eff * v * v * hz * 1e-9 * activity;
}

auto SimulatedPlatform::State::load(const Activity& a, double at) const -> Load {
  Load l;
  l.cpu.resize(static_cast<size_t>(ncpu));
  l.cluster_busy.assign(board.clusters.size(), false);
  for (int c = 0; c < ncpu; ++c) {
    if (!is_online(c)) continue;  // offline: no activity, invisible to the governor
    double own = a.cpu.empty() ? 0 : a.cpu[static_cast<size_t>(c)];
    double act = std::min(1.0, std::max(own, board.idle_activity) + interference(SimInterference::Target::Cpu, c, at));
    l.cpu[static_cast<size_t>(c)] = act;
    if (act >= 0.3) l.cluster_busy[cluster_of(c)] = true;  // governors see a loaded CPU
  }
  l.gpu = std::min(1.0, std::max(a.gpu, board.idle_activity) + interference(SimInterference::Target::Gpu, 0, at));
  l.gpu_busy = l.gpu >= 0.3;
  return l;
}

std::map<std::string, double> SimulatedPlatform::State::rails(const Activity& a, double at) const {
  Load l = load(a, at);
  std::map<std::string, double> r;
  for (auto& name : board.rails) r[name] = 0;
  double total = board.base_w;
  for (size_t c = 0; c < board.clusters.size(); ++c) {
    auto& cl = board.clusters[c];
    if (!cluster_online(c)) continue;  // power-gated
    int64_t khz = cluster_khz(c, l.cluster_busy[c]);
    double w = cl.static_w;
    for (int cpu : cl.cpus) w += core_w(c, khz, l.cpu[static_cast<size_t>(cpu)]);
    r[cl.rail] += w;
    total += w;
  }
  if (!board.gpu_hz.empty()) {
    double w = board.gpu_static_w + gpu_w(gpu_hz(l.gpu_busy), l.gpu);
    r[board.gpu_rail] += w;
    total += w;
  }
  double soc = board.soc_idle_w + (a.inferring ? board.soc_active_w : 0);
  if (!board.soc_rail.empty()) r[board.soc_rail] += soc;
  total += soc + (a.inferring ? board.dram_active_w : 0);
  if (!board.total_rail.empty()) r[board.total_rail] = total;
  r[""] = total;  // the whole board
  return r;
}

void SimulatedPlatform::State::step(double dt, const Activity& a) {
  if (dt <= 0) return;
  const double t0 = now();
  const auto r = rails(a, t0);
  const double p = r.at("");
  energy += p * dt;
  for (auto& [name, w] : r) rail_energy[name] += w * dt;
  Load l = load(a, t0);
  for (int c = 0; c < ncpu; ++c) cpu_busy[static_cast<size_t>(c)] += l.cpu[static_cast<size_t>(c)] * dt;
  gpu_busy += l.gpu * dt;
  const double t_inf = board.ambient_c + board.thermal_resistance * p;
  temp = t_inf + (temp - t_inf) * std::exp(-dt / board.thermal_tau_s);
  clock->sleep(dt);
  if (now() >= next_check - 1e-12) {
    if (temp >= board.throttle_c && throttle < board.max_throttle_steps) ++throttle;
    else if (temp < board.release_c && throttle > 0) --throttle;
    if (throttle > 0) ever_throttled = true;
    next_check += board.throttle_period_s;
  }
}

double SimulatedPlatform::State::max_dt() const {
  double t = now();
  return std::max(1e-9, std::min({next_check - t, next_event(t) - t, 0.05}));
}

void SimulatedPlatform::State::idle_for(double seconds) {
  double end = now() + seconds;
  Activity idle;
  while (now() < end - 1e-12) step(std::min(end - now(), max_dt()), idle);
}

std::vector<int> SimulatedPlatform::State::allowed_cpus() const {
  uint64_t mask = static_cast<uint64_t>(affinity->get());
  std::vector<int> v, up;
  for (int c = 0; c < ncpu; ++c) {
    if (!is_online(c)) continue;
    up.push_back(c);
    if (mask >> c & 1) v.push_back(c);
  }
  return v.empty() ? up : v;
}

double SimulatedPlatform::State::cpu_time(double ref_s, double at, Activity* act) const {
  const double alpha = board.cpu_compute_fraction, par = board.cpu_parallel_fraction;
  const int n = static_cast<int>(threads->get());
  auto cpus = allowed_cpus();
  // Busy clusters run at their busy frequency; the threads take the fastest allowed cores.
  std::vector<std::pair<double, int>> speed;
  for (int c : cpus) {
    size_t k = cluster_of(c);
    double f = static_cast<double>(cluster_khz(k, true));
    double s = 1.0 / (alpha * static_cast<double>(board.cpu_ref_khz) / (f * board.clusters[k].perf) + (1 - alpha));
    s *= 1.0 - interference(SimInterference::Target::Cpu, c, at);
    speed.push_back({s, c});
  }
  std::sort(speed.begin(), speed.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  const int k = std::min<int>(n, static_cast<int>(speed.size()));
  double sum = 0;
  for (int i = 0; i < k; ++i) sum += speed[static_cast<size_t>(i)].first;
  const double w1 = ref_s / ((1 - par) + par / board.cpu_ref_threads);  // one reference core
  const double serial = w1 * (1 - par) / speed[0].first, parallel = w1 * par / sum;
  double t = (serial + parallel) * (1 + board.oversubscription_penalty * std::max(0, n - k) / static_cast<double>(k));
  if (act) {
    act->cpu.assign(static_cast<size_t>(ncpu), 0.0);
    const double par_share = parallel / (serial + parallel);
    for (int i = 0; i < k; ++i) act->cpu[static_cast<size_t>(speed[static_cast<size_t>(i)].second)] = i == 0 ? 1.0 : par_share;
    act->inferring = true;
  }
  return t;
}

double SimulatedPlatform::State::gpu_time(double ref_s, double at, Activity* act) const {
  const double alpha = board.gpu_compute_fraction;
  double f = static_cast<double>(gpu_hz(true));
  double t = ref_s * (alpha * static_cast<double>(board.gpu_ref_hz) / f + (1 - alpha));
  t /= 1.0 - interference(SimInterference::Target::Gpu, 0, at);
  if (act) {
    act->cpu.assign(static_cast<size_t>(ncpu), 0.0);
    auto cpus = allowed_cpus();
    act->cpu[static_cast<size_t>(cpus.front())] = board.gpu_host_activity;
    act->gpu = 1.0;
    act->inferring = true;
  }
  return t;
}

std::string SimulatedPlatform::State::resolve(const std::string& device) const {
  std::string d = device;
  if (d.empty()) d = device_knob_value() < 0 ? "cpu" : "gpu";
  if (d == "cuda" || d == "cuda:0") d = "gpu";
  if (d != "cpu" && d != "gpu")
    throw Error(ErrorCode::InvalidArgument, fmt::format("simulated device '{}' unknown; use \"cpu\" or \"gpu\"", device));
  if (d == "gpu" && board.gpu_hz.empty())
    throw Error(ErrorCode::Unsupported, fmt::format("simulated platform '{}' has no GPU", board.name));
  return d;
}

SimInference SimulatedPlatform::State::run(double ref_ms, const std::string& dev) {
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

}  // namespace dynn
