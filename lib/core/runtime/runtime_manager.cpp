#include "dynn/runtime/runtime_manager.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <iostream>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "core/runtime/core_division.hpp"
#include "core/runtime/knob_arbiter.hpp"
#include "core/runtime/model_knobs.hpp"
#include "core/runtime/subnet_search.hpp"
#include "dynn/device.hpp"
#include "dynn/error.hpp"
#include "dynn/log.hpp"

namespace dynn {

namespace {
double steady_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

struct RuntimeManager::App {
  int id = 0;  // index in m_apps
  std::string name;
  std::shared_ptr<DynamicModel> model;
  std::unique_ptr<Controller> controller;
  Targets targets;
  ControlContext ctx;
  std::vector<Knob*> knobs;                       // aligned with ctx.knobs
  std::vector<char> point_on_cpu;                 // aligned with ctx.points
  std::map<std::string, int> knob_index;          // name -> index in ctx.knobs
  std::vector<Sensor*> sensors;                   // aligned with ctx.sensors
  std::vector<std::vector<std::pair<int, int64_t>>> point_hw;  // per point, resolved hardware
  std::vector<int64_t> applied;                   // knob values in force for this app
  std::vector<int64_t> wanted;                    // scratch: values for this step
  std::vector<char> wanted_set;
  Observation obs;
  Decision decision;
  Telemetry telemetry;
  int min_cores = 1;
  bool uses_cpu = false;
  uint64_t mask = 0;        // core division result (0 = none)
  int current_point = -1;   // point the model is switched to
  // advisory state
  bool pending = false;
  bool planned = false;  // plan() decided for the next infer()
  double pending_start = 0, pending_e0 = NAN, pending_t0_us = 0;
  // core-division statistics since the last rebalance
  double slack_sum = 0;
  int slack_n = 0;
  double decide_us = 0;
  std::unique_ptr<runtime_detail::SubnetSearch> search;  // null: no search below the points
};

RuntimeManager::RuntimeManager(std::shared_ptr<Platform> platform, ManagerOptions options)
    : m_platform(std::move(platform)), m_opt(std::move(options)) {
  if (!m_platform) throw Error(ErrorCode::InvalidArgument, "RuntimeManager: platform is null");
  auto pick = [&](const std::string& wanted, const std::string& preferred, const std::string& prefix, bool counter) -> Sensor* {
    if (!wanted.empty()) {
      Sensor& s = m_platform->sensor(wanted);  // NotFound names the sensors
      return &s;
    }
    if (Sensor* s = m_platform->find_sensor(preferred); s && s->available()) return s;
    for (Sensor* s : m_platform->sensors())
      if (s->name().rfind(prefix, 0) == 0 && s->available() && (!counter || s->kind() == SensorKind::Counter)) return s;
    return nullptr;
  };
  m_energy = m_opt.energy_sensor.empty() ? m_platform->find_energy_counter() : &m_platform->sensor(m_opt.energy_sensor);
  m_power = pick(m_opt.power_sensor, "power.total", "power.", false);
  m_temp = pick(m_opt.temperature_sensor, "", "temp.", false);
  m_affinity = m_platform->find_knob("affinity");
  m_threads = m_platform->find_knob("threads");
  static std::atomic<int> managers{0};
  m_label = fmt::format("runtime manager {}", ++managers);
  m_claimant = m_platform->add_claimant(m_label);
  m_arbiter = std::make_unique<runtime_detail::KnobArbiter>(*m_platform, m_claimant);
}

RuntimeManager::RuntimeManager(std::shared_ptr<Platform> platform, AppOptions app, ManagerOptions options)
    : RuntimeManager(std::move(platform), std::move(options)) {
  add_app(std::move(app));
}

RuntimeManager::~RuntimeManager() {
  if (!m_platform) return;
  // The models are still alive here, so bound knobs restore through them.
  try {
    m_platform->release(m_claimant, m_opt.restore_on_destroy);
  } catch (const std::exception& e) {
    log(LogLevel::Error, m_label + ": restoring knobs failed: " + e.what());
  }
  // The binding (and the model behind it) goes with this manager: a change made through it, by
  // anyone, is put back while the model can still be reached.
  for (auto& b : m_bindings)
    if (m_opt.restore_on_destroy)
      for (const auto& e : b->restore()) log(LogLevel::Error, m_label + ": restoring knobs failed: " + e);
  m_bindings.clear();
}

RuntimeManager::App& RuntimeManager::app(int id) {
  if (id < 0 || static_cast<size_t>(id) >= m_apps.size())
    throw Error(ErrorCode::InvalidArgument, fmt::format("RuntimeManager: no app {} ({} apps)", id, m_apps.size()));
  return *m_apps[static_cast<size_t>(id)];
}
const RuntimeManager::App& RuntimeManager::app(int id) const { return const_cast<RuntimeManager*>(this)->app(id); }

int RuntimeManager::add_app(AppOptions o) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (o.points.empty()) throw Error(ErrorCode::InvalidArgument, fmt::format("RuntimeManager: app '{}' has no operating points", o.name));
  if (!o.controller) throw Error(ErrorCode::InvalidArgument, fmt::format("RuntimeManager: app '{}' has no controller", o.name));
  o.targets.validate();
  for (const auto& a : m_apps)
    if (a->name == o.name) throw Error(ErrorCode::InvalidArgument, fmt::format("RuntimeManager: an app named '{}' exists", o.name));
  auto a = std::make_unique<App>();
  a->id = static_cast<int>(m_apps.size());
  a->name = o.name;
  a->model = std::move(o.model);
  // The platform's "threads" and "device" knobs are placeholders until someone binds them: make them
  // drive the first app's model, so a controller's thread count and placement reach it (restored
  // and unbound on exit). Unbound again if the app is refused below: its model may be gone after.
  std::unique_ptr<runtime_detail::ModelKnobBinding> binding;
  if (a->model)
    binding = std::make_unique<runtime_detail::ModelKnobBinding>(*m_platform, *a->model, m_claimant,
                                                                 fmt::format("{} (app '{}')", m_label, a->name));
  a->controller = std::move(o.controller);
  a->targets = o.targets;
  a->min_cores = std::max(1, o.min_cores);
  a->ctx.points = std::move(o.points);
  // Knobs. A callback knob bound by another manager drives that manager's model: never ours.
  auto foreign = [this](const Knob* k) { return foreign_owner(k); };
  std::vector<std::string> knob_names = o.knobs;
  if (knob_names.empty()) {
    for (Knob* k : m_platform->knobs())
      if (k->numeric() && k->writable() && foreign(k).empty()) knob_names.push_back(k->name());
  }
  for (const auto& n : knob_names) {
    Knob* k = m_platform->find_knob(n);
    if (!k) throw Error(ErrorCode::InvalidArgument, fmt::format("RuntimeManager: app '{}': platform has no knob '{}'", a->name, n));
    if (!k->numeric()) throw Error(ErrorCode::InvalidArgument, fmt::format("RuntimeManager: app '{}': knob '{}' is not numeric", a->name, n));
    if (auto other = foreign(k); !other.empty())
      throw Error(ErrorCode::InvalidArgument, fmt::format("RuntimeManager: app '{}': knob '{}' drives the model of {}; a manager drives only "
                                                          "its own model (leave '{}' out of the app's knobs, or free that manager first)",
                                                          a->name, n, other, n));
    KnobInfo info{k->name(), k->unit(), k->values(), k->min_value().value_or(0), k->max_value().value_or(0)};
    a->knob_index[n] = static_cast<int>(a->ctx.knobs.size());
    a->ctx.knobs.push_back(std::move(info));
    a->knobs.push_back(k);
  }
  for (const auto& n : o.sensors) {
    Sensor* s = m_platform->find_sensor(n);
    if (!s) throw Error(ErrorCode::InvalidArgument, fmt::format("RuntimeManager: app '{}': platform has no sensor '{}'", a->name, n));
    a->ctx.sensors.push_back({s->name(), s->unit()});
    a->sensors.push_back(s);
  }
  // Point hardware settings resolved to knob indices; unknown knobs are an error now, not mid-run.
  for (size_t i = 0; i < a->ctx.points.size(); ++i) resolve_point(*a, i);
  make_search(*a, std::move(o.search));
  // Current knob values, read once; afterwards the manager tracks what it applied.
  a->applied.resize(a->knobs.size());
  for (size_t i = 0; i < a->knobs.size(); ++i) {
    try {
      a->applied[i] = a->knobs[i]->get();
    } catch (const Error&) {
      a->applied[i] = 0;
    }
  }
  a->wanted.assign(a->knobs.size(), 0);
  a->wanted_set.assign(a->knobs.size(), 0);
  a->obs.knob_values = a->applied;
  a->obs.sensor_values.assign(a->sensors.size(), NAN);
  a->obs.targets = a->targets;
  std::vector<std::string> ids;
  for (const auto& p : a->ctx.points) ids.push_back(p.id);
  std::vector<std::string> units;
  for (const auto& k : a->ctx.knobs) units.push_back(k.unit);
  a->telemetry = Telemetry(knob_names, ids, units);
  if (m_opt.telemetry_reserve) a->telemetry.reserve(m_opt.telemetry_reserve);
  a->controller->bind(a->ctx);
  if (a->model && o.prepare_all) {
    std::vector<Subnet> subs;
    for (const auto& p : a->ctx.points)
      if (std::find(subs.begin(), subs.end(), p.subnet) == subs.end()) subs.push_back(p.subnet);
    a->model->prepare(subs);
  }
  if (binding) m_bindings.push_back(std::move(binding));  // accepted: the bindings stay
  m_apps.push_back(std::move(a));
  m_last_rebalance = -1e300;  // divide the cores again at the next step
  return static_cast<int>(m_apps.size() - 1);
}

std::string RuntimeManager::foreign_owner(const Knob* k) const {
  auto* cb = dynamic_cast<const CallbackKnob*>(k);
  return cb && cb->bound() && cb->bound_by() != 0 && cb->bound_by() != m_claimant ? cb->bound_by_name() : std::string();
}

void RuntimeManager::resolve_point(App& a, size_t i) {
  const auto& p = a.ctx.points[i];
  p.validate(fmt::format("RuntimeManager: app '{}': point '{}' (index {})", a.name, p.id, i));
  if (a.model && p.subnet.family() != a.model->family())
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("RuntimeManager: app '{}': point '{}' (index {}) holds {} sub-network, the model is {}", a.name, p.id, i,
                            p.subnet.empty() ? std::string("no") : "an " + p.subnet.family(), a.model->family()));
  std::vector<std::pair<int, int64_t>> hw;
  for (const auto& kv : p.hardware) {
    auto it = a.knob_index.find(kv.first);
    if (it == a.knob_index.end()) {
      const Knob* k = m_platform->find_knob(kv.first);
      const std::string other = k ? foreign_owner(k) : std::string();
      throw Error(ErrorCode::InvalidArgument, fmt::format("RuntimeManager: app '{}': point '{}' (index {}) sets knob '{}', which is not "
                                                          "among the app's knobs{}",
                                                          a.name, p.id, i, kv.first,
                                                          other.empty() ? "" : " (it drives the model of " + other + ")"));
    }
    a.knobs[static_cast<size_t>(it->second)]->check(kv.second);
    hw.emplace_back(it->second, kv.second);
  }
  a.point_hw.push_back(std::move(hw));
  a.point_on_cpu.push_back(Device::parse(p.device).is_cpu() ? 1 : 0);
  if (a.point_on_cpu.back()) a.uses_cpu = true;
}

void RuntimeManager::make_search(App& a, SubnetSearchOptions search) {
  a.search.reset();  // waits for a search in progress
  if (!search.enabled) return;
  a.search = std::make_unique<runtime_detail::SubnetSearch>(std::move(search), a.model, a.ctx.points, fmt::format("RuntimeManager: app '{}'", a.name));
  // Room for every point a search may add, so references to points stay valid from now on.
  a.ctx.points.reserve(a.search->max_points());
}

void RuntimeManager::set_search(SubnetSearchOptions search, int id) {
  std::lock_guard<std::mutex> lock(m_mutex);
  make_search(app(id), std::move(search));
}

SearchStatus RuntimeManager::search_status(int id) const {
  const App& a = app(id);
  return a.search ? a.search->status() : SearchStatus{};
}

const std::string& RuntimeManager::app_name(int id) const { return app(id).name; }

void RuntimeManager::set_targets(const Targets& t, int id) {
  t.validate();
  std::lock_guard<std::mutex> lock(m_mutex);
  app(id).targets = t;
}
const Targets& RuntimeManager::targets(int id) const { return app(id).targets; }

std::unique_ptr<Controller> RuntimeManager::set_controller(std::unique_ptr<Controller> c, int id) {
  if (!c) throw Error(ErrorCode::InvalidArgument, "RuntimeManager: set_controller: null controller");
  std::lock_guard<std::mutex> lock(m_mutex);
  App& a = app(id);
  c->bind(a.ctx);
  std::swap(a.controller, c);
  return c;
}
Controller& RuntimeManager::controller(int id) { return *app(id).controller; }
const Decision& RuntimeManager::decision(int id) const { return app(id).decision; }
const ControlContext& RuntimeManager::context(int id) const { return app(id).ctx; }
const Telemetry& RuntimeManager::telemetry(int id) const { return app(id).telemetry; }
Telemetry& RuntimeManager::telemetry(int id) { return app(id).telemetry; }
const Observation& RuntimeManager::observation(int id) const { return app(id).obs; }
uint64_t RuntimeManager::core_mask(int id) const { return app(id).mask; }

const OperatingPoint& RuntimeManager::point(int index, int id) const {
  const App& a = app(id);
  if (index < 0 || static_cast<size_t>(index) >= a.ctx.points.size())
    throw Error(ErrorCode::InvalidArgument, fmt::format("RuntimeManager: app '{}': no point {}", a.name, index));
  return a.ctx.points[static_cast<size_t>(index)];
}

double RuntimeManager::energy_now() {
  std::lock_guard<std::mutex> lock(m_mutex);  // sensors are shared between the apps' threads
  return read_energy_j();
}

double RuntimeManager::read_energy_j() {
  if (!m_energy) return NAN;
  auto v = m_energy->try_read();
  return v ? *v : NAN;
}

// Divide the CPUs of the platform between the apps that run on the CPU; the policy is
// runtime_detail::divide_cores (core_division.hpp), the bookkeeping is here.
void RuntimeManager::rebalance() {
  std::vector<App*> cpu_apps;
  for (auto& a : m_apps)
    if (a->uses_cpu) cpu_apps.push_back(a.get());
  if (cpu_apps.size() < 2 || !m_affinity) return;
  std::vector<int> cpus;
  for (const auto& c : m_platform->cpu_clusters()) cpus.insert(cpus.end(), c.cpus.begin(), c.cpus.end());
  if (cpus.empty()) {
    auto mx = m_affinity->max_value();
    for (int i = 0; i < 64 && mx && (uint64_t{1} << i) <= static_cast<uint64_t>(*mx); ++i)
      if (static_cast<uint64_t>(*mx) & (uint64_t{1} << i)) cpus.push_back(i);
  }
  std::sort(cpus.begin(), cpus.end());
  std::vector<runtime_detail::CoreShare> shares;
  for (App* a : cpu_apps) shares.push_back({a->min_cores, a->mask, a->slack_n, a->slack_sum});
  const std::vector<uint64_t> masks = runtime_detail::divide_cores(cpus, shares);
  if (masks.empty()) return;  // cannot give everyone its minimum: leave affinity alone
  for (size_t i = 0; i < cpu_apps.size(); ++i) {
    cpu_apps[i]->mask = masks[i];
    cpu_apps[i]->slack_sum = 0;
    cpu_apps[i]->slack_n = 0;
  }
}

void RuntimeManager::apply(App& a) {
  const int np = static_cast<int>(a.ctx.points.size());
  if (a.decision.point < 0 || a.decision.point >= np)
    throw Error(ErrorCode::Internal, fmt::format("RuntimeManager: app '{}': controller '{}' chose point {} (there are {})", a.name,
                                                 a.controller->name(), a.decision.point, np));
  std::fill(a.wanted_set.begin(), a.wanted_set.end(), 0);
  for (const auto& kv : a.point_hw[static_cast<size_t>(a.decision.point)]) {
    a.wanted[static_cast<size_t>(kv.first)] = kv.second;
    a.wanted_set[static_cast<size_t>(kv.first)] = 1;
  }
  for (const auto& kv : a.decision.hardware) {
    auto it = a.knob_index.find(kv.first);
    if (it == a.knob_index.end())
      throw Error(ErrorCode::InvalidArgument, fmt::format("RuntimeManager: app '{}': controller '{}' set knob '{}', which is not among "
                                                          "the app's knobs",
                                                          a.name, a.controller->name(), kv.first));
    a.wanted[static_cast<size_t>(it->second)] = kv.second;
    a.wanted_set[static_cast<size_t>(it->second)] = 1;
  }
  // Core division overrides affinity / threads of a CPU app.
  const bool cpu_point = a.point_on_cpu[static_cast<size_t>(a.decision.point)] != 0;
  if (a.mask && cpu_point) {
    for (size_t i = 0; i < a.knobs.size(); ++i) {
      if (a.knobs[i] == m_affinity) a.wanted[i] = static_cast<int64_t>(a.mask), a.wanted_set[i] = 1;
      if (a.knobs[i] == m_threads) {
        int64_t t = runtime_detail::popcount64(a.mask);
        if (!a.wanted_set[i] || a.wanted[i] > t) a.wanted[i] = t;
        a.wanted_set[i] = 1;
      }
    }
  }
  for (size_t i = 0; i < a.knobs.size(); ++i) {
    if (!a.wanted_set[i]) continue;
    const int64_t v = m_arbiter->request(a.id, *a.knobs[i], a.wanted[i]);
    m_arbiter->write(*a.knobs[i], v);
    a.obs.knob_values[i] = v;
    a.applied[i] = v;
  }
}

void RuntimeManager::begin_step(App& a) {
  std::lock_guard<std::mutex> lock(m_mutex);  // platform knobs and the other apps' requests are shared
  double t0 = steady_us();
  if (m_apps.size() > 1 && m_platform->now() - m_last_rebalance >= m_opt.rebalance_period_s) {
    rebalance();
    m_last_rebalance = m_platform->now();
  }
  a.obs.time_s = m_platform->now();
  a.obs.targets = a.targets;
  a.obs.current_point = a.current_point;
  for (size_t i = 0; i < a.sensors.size(); ++i) {
    auto v = a.sensors[i]->try_read();
    a.obs.sensor_values[i] = v ? *v : NAN;
  }
  a.decision.starved = false;
  a.controller->step(a.obs, a.decision);
  apply(a);
  // Points found by the search join from the next step (this one's decision stands).
  if (a.search) {
    const size_t before = a.ctx.points.size();
    if (a.search->after_decision(a.decision, a.obs, a.ctx.points)) {
      std::vector<std::string> ids = a.telemetry.point_ids();
      for (size_t i = before; i < a.ctx.points.size(); ++i) {
        resolve_point(a, i);
        ids.push_back(a.ctx.points[i].id);
      }
      a.telemetry.set_point_ids(std::move(ids));
      a.controller->update_points(a.ctx);
    }
  }
  a.decide_us = steady_us() - t0;
}

StepResult RuntimeManager::end_step(App& a, double start_s, double latency_ms, double energy_mj, double e0_j) {
  std::lock_guard<std::mutex> lock(m_mutex);
  double t0 = steady_us();
  StepResult r;
  r.latency_ms = latency_ms;
  r.point = a.decision.point;
  if (!std::isfinite(energy_mj) && std::isfinite(e0_j)) {
    double e1 = read_energy_j();
    if (std::isfinite(e1) && e1 >= e0_j) energy_mj = (e1 - e0_j) * 1e3;
  }
  r.energy_mj = energy_mj;
  r.met = !a.targets.has_latency() || latency_ms <= a.targets.latency_ms;
  double power = NAN;
  if (std::isfinite(energy_mj) && latency_ms > 0) {
    power = energy_mj / latency_ms;
  } else if (m_power) {
    auto v = m_power->try_read();
    if (v) power = *v;
  }
  a.obs.step += 1;
  a.obs.last_latency_ms = latency_ms;
  a.obs.last_energy_mj = energy_mj;
  a.obs.last_power_w = power;
  a.obs.last_point = a.decision.point;
  if (a.search && a.search->after_measurement(a.decision.point, latency_ms, a.obs.step, a.ctx.points))
    a.controller->update_points(a.ctx);
  if (a.targets.has_latency()) {
    a.slack_sum += latency_ms / a.targets.latency_ms;
    ++a.slack_n;
  }
  if (m_opt.telemetry) {
    const OperatingPoint& p = a.ctx.points[static_cast<size_t>(a.decision.point)];
    TelemetryRow row;
    row.step = a.obs.step - 1;
    row.time_s = start_s;
    row.latency_ms = latency_ms;
    row.target_latency_ms = a.targets.latency_ms;
    row.target_accuracy = a.targets.accuracy;
    row.target_power_w = a.targets.power_w;
    row.point = a.decision.point;
    row.level = p.level;
    row.accuracy = p.accuracy;
    row.power_w = power;
    row.energy_mj = energy_mj;
    if (m_temp) {
      auto v = m_temp->try_read();
      if (v) row.temperature_c = *v;
    }
    row.overhead_us = a.decide_us + (steady_us() - t0);
    a.telemetry.add(row, a.obs.knob_values.data());
  }
  return r;
}

StepResult RuntimeManager::infer(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits, size_t capacity, int id) {
  App& a = app(id);
  if (!a.model) throw Error(ErrorCode::Busy, fmt::format("RuntimeManager: app '{}' has no model (advisory mode: use decide/report)", a.name));
  if (a.pending) throw Error(ErrorCode::Busy, fmt::format("RuntimeManager: app '{}': decide() is waiting for report()", a.name));
  if (!a.planned) begin_step(a);
  a.planned = false;
  const OperatingPoint& p = a.ctx.points[static_cast<size_t>(a.decision.point)];
  if (a.current_point != a.decision.point) {
    if (a.current_point < 0 || a.ctx.points[static_cast<size_t>(a.current_point)].device != p.device) a.model->set_device(p.device);
    if (a.current_point < 0 || a.ctx.points[static_cast<size_t>(a.current_point)].subnet != p.subnet) a.model->set_subnet(p.subnet);
    a.current_point = a.decision.point;
  }
  double e0 = energy_now();
  double t0 = m_platform->now();
  a.model->infer(input, n, c, h, w, logits, capacity);
  double t1 = m_platform->now();
  return end_step(a, t0, (t1 - t0) * 1e3, NAN, e0);
}

const OperatingPoint& RuntimeManager::plan(int id) {
  App& a = app(id);
  if (!a.model) throw Error(ErrorCode::Busy, fmt::format("RuntimeManager: app '{}' has no model (advisory mode: use decide/report)", a.name));
  if (!a.planned) begin_step(a);
  a.planned = true;
  return a.ctx.points[static_cast<size_t>(a.decision.point)];
}

const Decision& RuntimeManager::decide(int id) {
  App& a = app(id);
  if (a.planned) throw Error(ErrorCode::Busy, fmt::format("RuntimeManager: app '{}': plan() is waiting for infer()", a.name));
  if (a.pending) throw Error(ErrorCode::Busy, fmt::format("RuntimeManager: app '{}': decide() called twice without report()", a.name));
  begin_step(a);
  a.current_point = a.decision.point;
  a.pending = true;
  a.pending_e0 = energy_now();
  a.pending_start = m_platform->now();
  return a.decision;
}

StepResult RuntimeManager::report(double latency_ms, double energy_mj, int id) {
  App& a = app(id);
  if (!a.pending) throw Error(ErrorCode::Busy, fmt::format("RuntimeManager: app '{}': report() without decide()", a.name));
  if (!std::isfinite(latency_ms) || latency_ms < 0)
    throw Error(ErrorCode::InvalidArgument, fmt::format("RuntimeManager: app '{}': report latency {} ms is not a finite number >= 0", a.name, latency_ms));
  if (!std::isnan(energy_mj) && (!std::isfinite(energy_mj) || energy_mj < 0))
    throw Error(ErrorCode::InvalidArgument, fmt::format("RuntimeManager: app '{}': report energy {} mJ is not a finite number >= 0", a.name, energy_mj));
  a.pending = false;
  return end_step(a, a.pending_start, latency_ms, energy_mj, a.pending_e0);
}

// ----------------------------------------------------------------------------------- CallbackModel

CallbackModel::CallbackModel(Run run, std::string family, int num_classes)
    : m_run(std::move(run)), m_family(std::move(family)), m_classes(num_classes) {
  if (!m_run) throw Error(ErrorCode::InvalidArgument, "CallbackModel: no run callback");
  if (num_classes < 1) throw Error(ErrorCode::InvalidArgument, fmt::format("CallbackModel: num_classes {} must be >= 1", num_classes));
  m_subnet = subnet_family(m_family).largest(224);  // names the known families
}

void CallbackModel::set_subnet(const Subnet& subnet) {
  check_family(subnet, "CallbackModel::set_subnet");
  m_subnet = subnet;
  ++m_switches;
}

void CallbackModel::prepare(const std::vector<Subnet>& subnets) {
  for (const auto& s : subnets) check_family(s, "CallbackModel::prepare");
}

const std::string& CallbackModel::engine() const {
  static const std::string name = "callback";
  return name;
}

void CallbackModel::set_num_threads(int n) {
  check_thread_count(n, "CallbackModel");
  m_threads = n;
}

void CallbackModel::infer(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits, size_t capacity) {
  (void)input;  // no pixels are read: the callback stands for the network
  if (n < 1 || c != 3 || h < 1 || w < 1)
    throw Error(ErrorCode::InvalidArgument, fmt::format("CallbackModel: input [{}, {}, {}, {}] is not [n>=1, 3, h>=1, w>=1]", n, c, h, w));
  size_t need = static_cast<size_t>(n) * static_cast<size_t>(m_classes);
  if (capacity < need) throw Error(ErrorCode::BufferTooSmall, fmt::format("CallbackModel: logits capacity {} < {}", capacity, need));
  for (int64_t i = 0; i < n; ++i) m_run(m_subnet, m_device, m_threads);
  std::fill(logits, logits + need, 0.0f);
  ++m_inferences;
}

}  // namespace dynn
