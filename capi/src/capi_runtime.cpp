// C ABI: controllers (built-in and C callbacks) and the runtime manager.
#include <cmath>
#include <map>

#include "capi_internal.hpp"
#include "dynn/log.hpp"
#include "dynn/runtime/runtime_manager.hpp"
#include "dynn/runtime/simulated_model.hpp"
#include "dynn/runtime/telemetry.hpp"

using namespace dynn::capi;

namespace {

dynn::Error status_error(dynn_status s, const std::string& msg) {
  dynn::ErrorCode code = dynn::ErrorCode::Internal;
  if (s <= DYNN_ERROR && s >= DYNN_EBUSY) code = static_cast<dynn::ErrorCode>(s);
  return dynn::Error(code, msg);
}

// A controller whose bind/step/reset are C callbacks. Buffers for the C views are sized at bind,
// so a step allocates nothing unless the callback sets a knob it never set before.
class CallbackController final : public dynn::Controller {
 public:
  CallbackController(const dynn_controller_callbacks& cb, std::string name) : m_cb(cb), m_name(std::move(name)) {}
  ~CallbackController() override {
    if (m_cb.destroy) m_cb.destroy(m_cb.user_data);
  }

  std::string name() const override { return m_name; }

  void bind(const dynn::ControlContext& ctx) override {
    m_points.clear();
    m_ids.clear();
    m_knob_names.clear();
    m_sensor_names.clear();
    for (const auto& p : ctx.points) {
      m_points.push_back(point_to_c(p));
      m_ids.push_back(p.id.c_str());
    }
    for (const auto& k : ctx.knobs) m_knob_names.push_back(k.name.c_str());
    for (const auto& s : ctx.sensors) m_sensor_names.push_back(s.name.c_str());
    m_ctx_knobs = &ctx.knobs;
    m_num_points = ctx.points.size();
    m_values.assign(ctx.knobs.size(), 0);
    m_set.assign(ctx.knobs.size(), 0);
    if (m_cb.bind) {
      dynn_control_context c;
      std::memset(&c, 0, sizeof c);
      c.struct_size = sizeof c;
      c.num_points = m_points.size();
      c.points = m_points.data();
      c.point_ids = m_ids.data();
      c.num_knobs = m_knob_names.size();
      c.knob_names = m_knob_names.data();
      c.num_sensors = m_sensor_names.size();
      c.sensor_names = m_sensor_names.data();
      dynn_status s = m_cb.bind(m_cb.user_data, &c);
      if (s != DYNN_OK)
        throw status_error(s, fmt::format("controller '{}': bind callback returned {} ({})", m_name, s, dynn_status_string(s)));
    }
  }

  void step(const dynn::Observation& obs, dynn::Decision& out) override {
    if (!m_ctx_knobs) throw dynn::Error(dynn::ErrorCode::Busy, fmt::format("controller '{}': step before bind", m_name));
    dynn_observation o;
    std::memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.step = obs.step;
    o.time_s = obs.time_s;
    o.target_latency_ms = obs.targets.latency_ms;
    o.target_accuracy = obs.targets.accuracy;
    o.target_power_w = obs.targets.power_w;
    o.target_energy_mj = obs.targets.energy_mj;
    o.last_latency_ms = obs.last_latency_ms;
    o.last_energy_mj = obs.last_energy_mj;
    o.last_power_w = obs.last_power_w;
    o.last_point = obs.last_point;
    o.current_point = obs.current_point;
    o.num_knobs = obs.knob_values.size();
    o.knob_values = obs.knob_values.data();
    o.num_sensors = obs.sensor_values.size();
    o.sensor_values = obs.sensor_values.data();
    std::fill(m_values.begin(), m_values.end(), 0);
    std::fill(m_set.begin(), m_set.end(), 0);
    dynn_decision d;
    std::memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.point = out.point;
    d.num_knobs = m_values.size();
    d.knob_values = m_values.data();
    d.knob_set = m_set.data();
    dynn_status s = m_cb.decide(m_cb.user_data, &o, &d);
    if (s != DYNN_OK)
      throw status_error(s, fmt::format("controller '{}': decide callback returned {} ({})", m_name, s, dynn_status_string(s)));
    if (d.point < 0 || static_cast<size_t>(d.point) >= m_num_points)
      throw dynn::Error(dynn::ErrorCode::InvalidArgument,
                        fmt::format("controller '{}': decide chose point {} (there are {})", m_name, d.point, m_num_points));
    out.point = d.point;
    // Knobs set this step go in; ones set before but not now come out.
    for (auto it = out.hardware.begin(); it != out.hardware.end();) {
      bool keep = false;
      for (size_t i = 0; i < m_set.size(); ++i)
        if (m_set[i] && (*m_ctx_knobs)[i].name == it->first) keep = true;
      it = keep ? std::next(it) : out.hardware.erase(it);
    }
    for (size_t i = 0; i < m_set.size(); ++i)
      if (m_set[i]) out.hardware[(*m_ctx_knobs)[i].name] = m_values[i];
  }

  void reset() override {
    if (m_cb.reset) m_cb.reset(m_cb.user_data);
  }

 private:
  dynn_controller_callbacks m_cb;
  std::string m_name;
  std::vector<dynn_operating_point> m_points;
  std::vector<const char*> m_ids, m_knob_names, m_sensor_names;
  const std::vector<dynn::KnobInfo>* m_ctx_knobs = nullptr;  // the manager's context outlives the binding
  size_t m_num_points = 0;
  std::vector<int64_t> m_values;
  std::vector<unsigned char> m_set;
};

// What a manager holds: its own reference to the caller's controller.
class SharedController final : public dynn::Controller {
 public:
  explicit SharedController(std::shared_ptr<dynn::Controller> c) : m_c(std::move(c)) {}
  std::string name() const override { return m_c->name(); }
  void bind(const dynn::ControlContext& ctx) override { m_c->bind(ctx); }
  void step(const dynn::Observation& obs, dynn::Decision& out) override { m_c->step(obs, out); }
  void reset() override { m_c->reset(); }
  std::string state_json() const override { return m_c->state_json(); }

 private:
  std::shared_ptr<dynn::Controller> m_c;
};

dynn_targets targets_to_c(const dynn::Targets& t) {
  dynn_targets o;
  std::memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.latency_ms = t.latency_ms;
  o.accuracy = t.accuracy;
  o.power_w = t.power_w;
  o.energy_mj = t.energy_mj;
  return o;
}

dynn::Targets targets_from_c(const dynn_targets& t) {
  dynn::Targets o;
  o.latency_ms = t.latency_ms;
  o.accuracy = t.accuracy;
  o.power_w = t.power_w;
  o.energy_mj = t.energy_mj;
  o.validate();
  return o;
}

dynn_step_result step_to_c(const dynn::StepResult& r) {
  dynn_step_result o;
  std::memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.latency_ms = r.latency_ms;
  o.energy_mj = r.energy_mj;
  o.point = r.point;
  o.met = r.met ? 1 : 0;
  return o;
}

void check_unshared(const dynn_controller* c, const char* fn) {
  // The handle holds one reference; a manager using the controller holds another.
  if (c->controller.use_count() > 1)
    throw dynn::Error(dynn::ErrorCode::Busy, fmt::format("{}: controller '{}' already serves a manager (one manager per controller)", fn,
                                                         c->controller->name()));
}

}  // namespace

struct dynn_manager {
  std::shared_ptr<dynn::Platform> platform;
  std::shared_ptr<dynn::DynamicModel> model;
  bool simulated = false;                     // the model is timed by the simulator (virtual time)
  std::unique_ptr<dynn::RuntimeManager> mgr;  // last: goes first (restores knobs while the rest lives)
};

extern "C" {

// ---- controllers

DYNN_API dynn_status dynn_controller_create(const char* name, const char* params_json, dynn_controller** out) {
  return guard([&] {
    DYNN_CHECK_ARG(name, "dynn_controller_create: name is NULL");
    DYNN_CHECK_ARG(out, "dynn_controller_create: out is NULL");
    auto h = std::make_unique<dynn_controller>();
    h->controller = dynn::make_controller(name, params_json && *params_json ? params_json : "{}");
    *out = h.release();
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_controller_list(char* buf, size_t size, size_t* needed) {
  return guard([&] {
    std::string s;
    for (const auto& n : dynn::ControllerRegistry::global().names()) s += n + "\n";
    return write_string(s, buf, size, needed);
  });
}

DYNN_API dynn_status dynn_controller_create_custom(const dynn_controller_callbacks* callbacks, const char* name,
                                                   dynn_controller** out) {
  return guard([&] {
    DYNN_CHECK_ARG(callbacks, "dynn_controller_create_custom: callbacks is NULL");
    DYNN_CHECK_ARG(out, "dynn_controller_create_custom: out is NULL");
    dynn_controller_callbacks defaults;
    std::memset(&defaults, 0, sizeof defaults);
    defaults.struct_size = sizeof defaults;
    auto cb = read_struct(callbacks, defaults, "dynn_controller_callbacks");
    DYNN_CHECK_ARG(cb.decide, "dynn_controller_create_custom: callbacks->decide is NULL (it is required)");
    std::string n = name ? name : "custom";
    DYNN_CHECK_ARG(!n.empty(), "dynn_controller_create_custom: name is empty");
    auto h = std::make_unique<dynn_controller>();
    h->controller = std::make_shared<CallbackController>(cb, n);
    *out = h.release();
    return DYNN_OK;
  });
}

DYNN_API void dynn_controller_free(dynn_controller* controller) { delete controller; }

DYNN_API dynn_status dynn_controller_name(const dynn_controller* controller, char* buf, size_t size, size_t* needed) {
  return guard([&] {
    DYNN_CHECK_ARG(controller, "dynn_controller_name: controller is NULL");
    return write_string(controller->controller->name(), buf, size, needed);
  });
}

DYNN_API dynn_status dynn_controller_state_json(const dynn_controller* controller, char* buf, size_t size, size_t* needed) {
  return guard([&] {
    DYNN_CHECK_ARG(controller, "dynn_controller_state_json: controller is NULL");
    return write_string(controller->controller->state_json(), buf, size, needed);
  });
}

DYNN_API dynn_status dynn_controller_reset(dynn_controller* controller) {
  return guard([&] {
    DYNN_CHECK_ARG(controller, "dynn_controller_reset: controller is NULL");
    controller->controller->reset();
    return DYNN_OK;
  });
}

// ---- manager

DYNN_API dynn_targets dynn_targets_default(void) { return targets_to_c(dynn::Targets{}); }

DYNN_API dynn_manager_params dynn_manager_default_params(void) {
  dynn_manager_params p;
  std::memset(&p, 0, sizeof p);
  p.struct_size = sizeof p;
  p.app_name = nullptr;
  p.targets = dynn_targets_default();
  p.knobs = nullptr;
  p.sensors = nullptr;
  p.prepare_all = 1;
  p.telemetry = 1;
  p.restore_on_free = 1;
  p.simulate = 1;
  p.energy_sensor = nullptr;
  p.power_sensor = nullptr;
  return p;
}

}  // extern "C"

namespace {

// dynn_manager_create and dynn_manager_create_model: `inner` is the model (any family) or null.
dynn_status create_manager(const char* fn, dynn_platform* platform, const dynn_profile* profile, dynn_controller* controller,
                           std::shared_ptr<dynn::DynamicModel> inner, const dynn_manager_params* params, dynn_manager** out) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, fmt::format("{}: platform is NULL", fn));
    DYNN_CHECK_ARG(profile, fmt::format("{}: profile is NULL", fn));
    DYNN_CHECK_ARG(controller, fmt::format("{}: controller is NULL", fn));
    DYNN_CHECK_ARG(out, fmt::format("{}: out is NULL", fn));
    auto p = read_struct(params, dynn_manager_default_params(), "dynn_manager_params");
    DYNN_CHECK_ARG(!profile->profile.points.empty(), fmt::format("{}: the profile has no operating points", fn));
    check_unshared(controller, fn);
    auto h = std::make_unique<dynn_manager>();
    h->platform = platform->platform;
    dynn::AppOptions a;
    a.name = p.app_name ? p.app_name : "app";
    a.points = profile->profile.points;
    a.targets = targets_from_c(p.targets);
    a.knobs = split_list(p.knobs);
    a.sensors = split_list(p.sensors);
    a.prepare_all = p.prepare_all != 0;
    for (size_t i = 0; inner && i < a.points.size(); ++i)  // before the simulated model is built on them
      if (a.points[i].subnet.family() != inner->family())
        return fail(DYNN_EINVAL, fmt::format("{}: point '{}' (index {}) holds {} sub-network, the model is {}", fn, a.points[i].id, i,
                                             a.points[i].subnet.empty() ? std::string("no") : "an " + a.points[i].subnet.family(),
                                             inner->family()));
    if (platform->sim && p.simulate) {
      // The model (when given) computes the logits; the simulator times the inference from the
      // points' recorded latencies (those that set no hardware), else its latency tables or MACs.
      dynn::SimulatedModel::Options so;
      so.recorded = a.points;
      so.device = a.points.front().device;
      so.family = a.points.front().subnet.family();
      h->model = std::make_shared<dynn::SimulatedModel>(*platform->sim, inner, std::move(so));
      h->simulated = true;
    } else {
      h->model = inner;  // NULL: advisory
    }
    a.model = h->model;
    a.controller = std::make_unique<SharedController>(controller->controller);
    dynn::ManagerOptions mo;
    if (p.energy_sensor) mo.energy_sensor = p.energy_sensor;
    if (p.power_sensor) mo.power_sensor = p.power_sensor;
    mo.telemetry = p.telemetry != 0;
    mo.restore_on_destroy = p.restore_on_free != 0;
    std::string mode = !h->model ? "advisory" : (platform->sim && p.simulate ? (inner ? "supernet + simulator" : "simulator") : "supernet");
    std::string summary = fmt::format("manager '{}' on platform '{}': {} points, controller '{}', {}", a.name, platform->platform->name(),
                                      a.points.size(), controller->controller->name(), mode);
    h->mgr = std::make_unique<dynn::RuntimeManager>(h->platform, std::move(a), mo);
    dynn::log_info(summary);
    *out = h.release();
    return DYNN_OK;
  });
}

}  // namespace

extern "C" {

DYNN_API dynn_status dynn_manager_create(dynn_platform* platform, const dynn_profile* profile, dynn_controller* controller,
                                         dynn_supernet* model, const dynn_manager_params* params, dynn_manager** out) {
  return create_manager("dynn_manager_create", platform, profile, controller, model ? model->net : nullptr, params, out);
}

DYNN_API dynn_status dynn_manager_create_model(dynn_platform* platform, const dynn_profile* profile, dynn_controller* controller,
                                               dynn_model* model, const dynn_manager_params* params, dynn_manager** out) {
  return create_manager("dynn_manager_create_model", platform, profile, controller, model ? model->model : nullptr, params, out);
}

DYNN_API void dynn_manager_free(dynn_manager* manager) { delete manager; }

DYNN_API dynn_status dynn_manager_plan(dynn_manager* manager, int32_t* point, dynn_subnet* subnet) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_plan: manager is NULL");
    const auto& p = manager->mgr->plan();
    dynn_subnet s = from_subnet(p.subnet);
    if (point) *point = manager->mgr->decision().point;
    if (subnet) *subnet = s;
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_manager_infer(dynn_manager* manager, const float* input, int64_t n, int64_t c, int64_t h, int64_t w,
                                        float* logits, size_t capacity, dynn_step_result* out) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_infer: manager is NULL");
    DYNN_CHECK_ARG(input, "dynn_manager_infer: input is NULL");
    DYNN_CHECK_ARG(logits, "dynn_manager_infer: logits is NULL");
    if (out) check_struct_size(out, "dynn_step_result");
    auto r = manager->mgr->infer(input, n, c, h, w, logits, capacity);
    if (out) write_struct(out, step_to_c(r), "dynn_step_result");
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_manager_decide(dynn_manager* manager, int32_t* point) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_decide: manager is NULL");
    DYNN_CHECK_ARG(point, "dynn_manager_decide: point is NULL");
    *point = manager->mgr->decide().point;
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_manager_report(dynn_manager* manager, double latency_ms, double energy_mj, dynn_step_result* out) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_report: manager is NULL");
    if (out) check_struct_size(out, "dynn_step_result");
    auto r = manager->mgr->report(latency_ms, energy_mj);
    if (out) write_struct(out, step_to_c(r), "dynn_step_result");
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_manager_set_targets(dynn_manager* manager, const dynn_targets* targets) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_set_targets: manager is NULL");
    DYNN_CHECK_ARG(targets, "dynn_manager_set_targets: targets is NULL");
    auto t = read_struct(targets, dynn_targets_default(), "dynn_targets");
    manager->mgr->set_targets(targets_from_c(t));
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_manager_get_targets(const dynn_manager* manager, dynn_targets* out) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_get_targets: manager is NULL");
    DYNN_CHECK_ARG(out, "dynn_manager_get_targets: out is NULL");
    write_struct(out, targets_to_c(manager->mgr->targets()), "dynn_targets");
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_manager_set_controller(dynn_manager* manager, dynn_controller* controller) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_set_controller: manager is NULL");
    DYNN_CHECK_ARG(controller, "dynn_manager_set_controller: controller is NULL");
    check_unshared(controller, "dynn_manager_set_controller");
    manager->mgr->set_controller(std::make_unique<SharedController>(controller->controller));
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_manager_set_search(dynn_manager* manager, int32_t enabled, int32_t max_subnets) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_set_search: manager is NULL");
    DYNN_CHECK_ARG(max_subnets >= 1, fmt::format("dynn_manager_set_search: max_subnets {} must be >= 1", max_subnets));
    dynn::SubnetSearchOptions o;
    o.enabled = enabled != 0;
    o.max_subnets = max_subnets;
    // In simulate mode the search runs within the step, so a run in virtual time is repeatable.
    o.background = !manager->simulated;
    manager->mgr->set_search(std::move(o));
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_manager_search_status(const dynn_manager* manager, dynn_search_status* out) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_search_status: manager is NULL");
    DYNN_CHECK_ARG(out, "dynn_manager_search_status: out is NULL");
    const dynn::SearchStatus st = manager->mgr->search_status();
    dynn_search_status c;
    std::memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.searches = st.searches;
    c.subnets_added = st.subnets_added;
    c.points_added = st.points_added;
    c.points_profiled = st.points_profiled;
    c.running = st.running ? 1 : 0;
    c.exhausted = st.exhausted ? 1 : 0;
    write_struct(out, c, "dynn_search_status");
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_manager_num_points(const dynn_manager* manager, size_t* out) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_num_points: manager is NULL");
    DYNN_CHECK_ARG(out, "dynn_manager_num_points: out is NULL");
    *out = manager->mgr->context().points.size();
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_manager_get_point(const dynn_manager* manager, size_t index, dynn_operating_point* out) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_get_point: manager is NULL");
    DYNN_CHECK_ARG(out, "dynn_manager_get_point: out is NULL");
    DYNN_CHECK_ARG(index < manager->mgr->context().points.size(),
                   fmt::format("dynn_manager_get_point: index {} out of range ({} points)", index, manager->mgr->context().points.size()));
    write_struct(out, point_to_c(manager->mgr->context().points[index]), "dynn_operating_point");
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_manager_point_string(const dynn_manager* manager, size_t index, int which, char* buf, size_t size,
                                               size_t* needed) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_point_string: manager is NULL");
    const auto& pts = manager->mgr->context().points;
    DYNN_CHECK_ARG(index < pts.size(), fmt::format("dynn_manager_point_string: index {} out of range ({} points)", index, pts.size()));
    return write_string(point_string(pts[index], which, "dynn_manager_point_string"), buf, size, needed);
  });
}

DYNN_API dynn_status dynn_manager_telemetry_size(const dynn_manager* manager, size_t* out) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_telemetry_size: manager is NULL");
    DYNN_CHECK_ARG(out, "dynn_manager_telemetry_size: out is NULL");
    *out = static_cast<const dynn::RuntimeManager&>(*manager->mgr).telemetry().size();
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_manager_telemetry_summary(const dynn_manager* manager, dynn_telemetry_summary* out) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_telemetry_summary: manager is NULL");
    DYNN_CHECK_ARG(out, "dynn_manager_telemetry_summary: out is NULL");
    auto s = static_cast<const dynn::RuntimeManager&>(*manager->mgr).telemetry().summary();
    dynn_telemetry_summary o;
    std::memset(&o, 0, sizeof o);
    o.count = s.count;
    o.misses = s.misses;
    o.switches = s.switches;
    o.within_target = s.within_target;
    o.mean_accuracy = s.mean_accuracy;
    o.mean_latency_ms = s.mean_latency_ms;
    o.p50_latency_ms = s.p50_latency_ms;
    o.p99_latency_ms = s.p99_latency_ms;
    o.max_latency_ms = s.max_latency_ms;
    o.mean_energy_mj = s.mean_energy_mj;
    o.mean_power_w = s.mean_power_w;
    write_struct(out, o, "dynn_telemetry_summary");
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_manager_telemetry_summary_string(const dynn_manager* manager, char* buf, size_t size, size_t* needed) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_telemetry_summary_string: manager is NULL");
    return write_string(static_cast<const dynn::RuntimeManager&>(*manager->mgr).telemetry().summary().to_string(), buf, size, needed);
  });
}

DYNN_API dynn_status dynn_manager_telemetry_write(const dynn_manager* manager, const char* path, int format) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_telemetry_write: manager is NULL");
    DYNN_CHECK_ARG(path, "dynn_manager_telemetry_write: path is NULL");
    const auto& t = static_cast<const dynn::RuntimeManager&>(*manager->mgr).telemetry();
    switch (format) {
      case DYNN_TELEMETRY_CSV: t.write_csv(path); break;
      case DYNN_TELEMETRY_JSON: t.write_json(path); break;
      case DYNN_TELEMETRY_SVG: t.write_svg(path); break;
      default:
        return fail(DYNN_EINVAL, fmt::format("dynn_manager_telemetry_write: format {} is not DYNN_TELEMETRY_CSV, _JSON or _SVG (0..2)", format));
    }
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_manager_telemetry_clear(dynn_manager* manager) {
  return guard([&] {
    DYNN_CHECK_ARG(manager, "dynn_manager_telemetry_clear: manager is NULL");
    manager->mgr->telemetry().clear();
    return DYNN_OK;
  });
}

}  // extern "C"
