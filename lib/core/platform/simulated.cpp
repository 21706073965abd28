// SimulatedPlatform's wiring: the knobs and sensors, named as Platform::detect names them on the
// real board, over the state and physics of sim_state.hpp (sim_physics.cpp); the boards are in
// sim_boards.cpp.
#include "dynn/platform/simulated.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

#include <fmt/format.h>

#include "core/platform/sim_state.hpp"
#include "dynn/error.hpp"

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

}  // namespace

SimulatedPlatform::SimulatedPlatform(const SimBoard& board, const SimOptions& options)
    : Platform(board.model, std::make_shared<VirtualClock>()), m_state(std::make_unique<State>()) {
  State& s = *m_state;
  s.board = board;
  s.opt = options;
  if (options.ambient_c) s.board.ambient_c = *options.ambient_c;
  if (options.thermal_resistance) {
    if (!(*options.thermal_resistance > 0)) throw Error(ErrorCode::InvalidArgument, "thermal_resistance must be > 0");
    s.board.thermal_resistance = *options.thermal_resistance;
  }
  if (options.latency_noise < 0 || options.latency_noise > 0.5)
    throw Error(ErrorCode::InvalidArgument, fmt::format("latency_noise must be in 0..0.5, got {}", options.latency_noise));
  if (s.board.clusters.empty()) throw Error(ErrorCode::InvalidArgument, fmt::format("profile '{}' has no CPU cluster", s.board.name));
  s.clock = std::static_pointer_cast<VirtualClock>(std::shared_ptr<Clock>(&clock(), [](Clock*) {}));
  s.rng.seed(options.seed);
  s.temp = s.board.ambient_c;
  s.next_check = s.board.throttle_period_s;
  for (auto& cl : s.board.clusters)
    for (int c : cl.cpus) s.ncpu = std::max(s.ncpu, c + 1);
  s.cpu_busy.assign(static_cast<size_t>(s.ncpu), 0.0);
  s.online.assign(static_cast<size_t>(s.ncpu), 1);
  State* st = m_state.get();

  // Knobs, named as Platform::detect names them on the real board.
  std::vector<CpuCluster> clusters;
  for (size_t c = 0; c < s.board.clusters.size(); ++c) {
    auto& cl = s.board.clusters[c];
    s.pol.push_back({cl.governor, cl.khz.front(), cl.khz.back(), cl.khz.front()});
    const std::string pol = fmt::format("policy{}", cl.cpus.front());
    const std::string pre = "cpufreq." + pol;
    double top = 0;  // cpu_capacity: performance at max frequency, the fastest cluster = 1024
    for (auto& o : s.board.clusters) top = std::max(top, o.perf * static_cast<double>(o.khz.back()));
    const int capacity = static_cast<int>(std::lround(1024 * cl.perf * static_cast<double>(cl.khz.back()) / top));
    clusters.push_back({static_cast<int>(c), cl.cpus, capacity, pol, cl.khz.front(), cl.khz.back()});
    auto P = [st, c]() -> State::Policy& { return st->pol[c]; };
    add_knob(std::make_unique<LambdaKnob>(KnobSpec{pre + ".governor", "", "simulated cpufreq governor", KnobType::Text, {}, {}, {}, s.board.cpu_governors},
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
  if (!s.board.gpu_hz.empty()) {
    s.gpu = {s.board.gpu_governor, s.board.gpu_hz.front(), s.board.gpu_hz.back(), s.board.gpu_hz.front()};
    auto& hz = s.board.gpu_hz;
    add_knob(std::make_unique<LambdaKnob>(KnobSpec{"gpu.governor", "", "simulated devfreq governor", KnobType::Text, {}, {}, {}, s.board.gpu_governors},
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
  // CPU hot-plug, as /sys/devices/system/cpu/cpuN/online (cpu0 has no such file on these boards).
  for (int c = 1; c < s.ncpu; ++c)
    add_knob(std::make_unique<LambdaKnob>(
        KnobSpec{fmt::format("cpu{}.online", c), "", fmt::format("simulated hot-plug of cpu{}: 1 online, 0 offline", c), KnobType::Numeric, {0, 1}, {}, {}, {}},
        LambdaKnob::Fns{[st, c] { return int64_t{st->online[static_cast<size_t>(c)]}; },
                        [st, c](int64_t v) { st->online[static_cast<size_t>(c)] = v ? 1 : 0; }, nullptr, nullptr, nullptr, true}));
  const uint64_t all = s.ncpu >= 64 ? ~uint64_t{0} : (uint64_t{1} << s.ncpu) - 1;
  s.affinity = &add_knob(std::make_unique<CallbackKnob>(
      KnobSpec{"affinity", "cpumask", "CPUs the inference threads may run on (bit i = CPU i)", KnobType::Numeric, {}, 1, static_cast<int64_t>(all), {}},
      static_cast<int64_t>(all)));
  s.threads = &add_knob(std::make_unique<CallbackKnob>(
      KnobSpec{"threads", "threads", "intra-op threads of the model", KnobType::Numeric, {}, 1, s.ncpu, {}}, s.board.cpu_ref_threads));
  std::vector<int64_t> devs = {-1};
  if (!s.board.gpu_hz.empty()) devs.push_back(0);
  s.device = &add_knob(std::make_unique<CallbackKnob>(
      KnobSpec{"device", "device", "where the model runs: -1 = CPU, 0 = the integrated GPU", KnobType::Numeric, devs, {}, {}, {}}, -1));

  // Odroid-like boards: base_w is the board idle; subtract the idle rails so idle totals it.
  if (s.board.total_rail.empty()) {
    double idle_rails = 0;
    auto r = s.rails(State::Activity{}, 0);
    for (auto& name : s.board.rails) idle_rails += r[name];
    s.board.base_w = std::max(0.0, s.board.base_w - idle_rails);
  }

  // Sensors, named as on the real board.
  for (auto& rail : s.board.rails)
    add_sensor(std::make_unique<FunctionSensor>("power." + rail, "W", SensorKind::Instant, "simulated rail " + rail,
                                                [st, rail] { return st->rails(State::Activity{}, st->now())[rail]; }));
  add_sensor(std::make_unique<FunctionSensor>("power.total", "W", SensorKind::Instant, "simulated whole-board power",
                                              [st] { return st->rails(State::Activity{}, st->now())[""]; }));
  add_sensor(std::make_unique<FunctionSensor>("energy.total", "J", SensorKind::Counter, "simulated whole-board energy (exact integral)",
                                              [st] { return st->energy; }));
  for (auto& z : s.board.thermal_zones)
    add_sensor(std::make_unique<FunctionSensor>("temp." + z, "degC", SensorKind::Instant, "simulated die temperature (one thermal node)",
                                                [st] { return st->temp; }));
  if (!s.board.board_zone.empty())
    add_sensor(std::make_unique<FunctionSensor>("temp." + s.board.board_zone, "degC", SensorKind::Instant, "simulated board temperature",
                                                [st] { return st->board.ambient_c + 0.3 * (st->temp - st->board.ambient_c); }));
  for (size_t c = 0; c < s.board.clusters.size(); ++c) {
    std::string pol = fmt::format("policy{}", s.board.clusters[c].cpus.front());
    add_sensor(std::make_unique<FunctionSensor>("freq." + pol, "MHz", SensorKind::Instant, "simulated current CPU frequency (idle state)",
                                                [st, c] {
                                                  auto l = st->load(State::Activity{}, st->now());
                                                  return st->cluster_khz(c, l.cluster_busy[c]) / 1000.0;
                                                }));
  }
  if (!s.board.gpu_hz.empty())
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
  if (!s.board.gpu_hz.empty()) util("util.gpu", [st] { return st->gpu_busy; }, 1);
}

SimulatedPlatform::~SimulatedPlatform() {
  // Our knobs write into m_state: restore while it is alive (Platform's destructor runs after).
  try {
    restore();
  } catch (...) {
  }
}

std::unique_ptr<SimulatedPlatform> SimulatedPlatform::create(const std::string& board_name, const SimOptions& options) {
  return std::make_unique<SimulatedPlatform>(SimBoard::by_name(board_name), options);
}

const SimBoard& SimulatedPlatform::board() const { return m_state->board; }

void SimulatedPlatform::set_latency_tables(std::shared_ptr<const SimLatencyModel> cpu, std::shared_ptr<const SimLatencyModel> gpu) {
  if (gpu && m_state->board.gpu_hz.empty())
    throw Error(ErrorCode::InvalidArgument, fmt::format("simulated platform '{}' has no GPU for a GPU latency table", m_state->board.name));
  m_state->lut_cpu = std::move(cpu);
  m_state->lut_gpu = std::move(gpu);
}

bool SimulatedPlatform::has_latency_table(const std::string& device) const {
  return m_state->resolve(device) == "cpu" ? m_state->lut_cpu != nullptr : m_state->lut_gpu != nullptr;
}

bool SimulatedPlatform::has_latency_table(const std::string& device, const std::string& family) const {
  auto& t = m_state->resolve(device) == "cpu" ? m_state->lut_cpu : m_state->lut_gpu;
  return t && t->covers_family(family);
}

double SimulatedPlatform::reference_latency_ms(const Subnet& subnet, const std::string& device) const {
  std::string d = m_state->resolve(device);
  auto& t = d == "cpu" ? m_state->lut_cpu : m_state->lut_gpu;
  if (!t)
    throw Error(ErrorCode::Unsupported, fmt::format("no {} latency table loaded; call load_latency_tables(cpu_dir, gpu_dir)", d));
  if (!t->covers_family(subnet.family()))
    throw Error(ErrorCode::Unsupported,
                fmt::format("the {} latency table does not cover {} sub-networks; time them from their MACs or a "
                            "recorded reference latency (SimulatedModel::Options)", d, subnet.empty() ? "empty" : subnet.family()));
  return t->predict_ms(subnet);
}

SimInference SimulatedPlatform::simulate_inference(const Subnet& subnet, const std::string& device) {
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
  if (e.target == SimInterference::Target::Gpu && m_state->board.gpu_hz.empty())
    throw Error(ErrorCode::Unsupported, fmt::format("simulated platform '{}' has no GPU to interfere with", m_state->board.name));
  m_state->events.push_back(e);
}

void SimulatedPlatform::clear_interference() { m_state->events.clear(); }
double SimulatedPlatform::temperature_c() const { return m_state->temp; }
int SimulatedPlatform::throttle_steps() const { return m_state->throttle; }
double SimulatedPlatform::energy_j() const { return m_state->energy; }
double SimulatedPlatform::rail_energy_j(const std::string& rail) const {
  auto& rails = m_state->board.rails;
  if (std::find(rails.begin(), rails.end(), rail) == rails.end()) {
    std::string names;
    for (auto& r : rails) names += (names.empty() ? "" : ", ") + r;
    throw Error(ErrorCode::NotFound, fmt::format("simulated platform '{}' has no rail '{}'; rails: {}", m_state->board.name, rail, names));
  }
  auto it = m_state->rail_energy.find(rail);
  return it == m_state->rail_energy.end() ? 0.0 : it->second;
}
double SimulatedPlatform::power_w() const { return m_state->rails(State::Activity{}, now())[""]; }

}  // namespace dynn
