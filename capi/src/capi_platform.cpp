// C ABI: platforms (real and simulated), knobs, sensors, simulator controls.
#include <cmath>
#include <filesystem>

#include "capi_internal.hpp"
#include "dynn/platform/knob.hpp"
#include "dynn/platform/restore_guard.hpp"
#include "dynn/platform/sensor.hpp"
#include "dynn/profile/latency_table.hpp"

using namespace dynn::capi;

namespace {

dynn::Knob& knob_at(const dynn_platform* p, size_t index, const char* fn) {
  auto ks = p->platform->knobs();
  if (index >= ks.size()) invalid(fmt::format("{}: knob index {} out of range (the platform has {} knobs)", fn, index, ks.size()));
  return *ks[index];
}

dynn::Sensor& sensor_at(const dynn_platform* p, size_t index, const char* fn) {
  auto ss = p->platform->sensors();
  if (index >= ss.size()) invalid(fmt::format("{}: sensor index {} out of range (the platform has {} sensors)", fn, index, ss.size()));
  return *ss[index];
}

dynn::SimulatedPlatform& sim_of(dynn_platform* p, const char* fn) {
  if (!p->sim)
    throw dynn::Error(dynn::ErrorCode::Unsupported, fmt::format("{}: platform '{}' is not simulated", fn, p->platform->name()));
  return *p->sim;
}

dynn_sim_inference sim_to_c(const dynn::SimInference& r) {
  dynn_sim_inference o;
  std::memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.start_s = r.start_s;
  o.latency_s = r.latency_s;
  o.energy_j = r.energy_j;
  o.avg_power_w = r.avg_power_w;
  o.reference_ms = r.reference_ms;
  o.cpu_mhz = r.cpu_mhz;
  o.gpu_mhz = r.gpu_mhz;
  o.peak_temp_c = r.peak_temp_c;
  o.throttled = r.throttled ? 1 : 0;
  return o;
}

std::string sim_device(const char* device) { return device ? std::string(device) : std::string(); }

}  // namespace

extern "C" {

DYNN_API dynn_status dynn_platform_detect(const char* root, dynn_platform** out) {
  return guard([&] {
    DYNN_CHECK_ARG(out, "dynn_platform_detect: out is NULL");
    dynn::DetectOptions o;
    if (root && *root) o.root = root;
    auto h = std::make_unique<dynn_platform>();
    h->platform = dynn::Platform::detect(o);  // NotFound when root is not a directory
    *out = h.release();
    return DYNN_OK;
  });
}

DYNN_API dynn_sim_params dynn_sim_default_params(void) {
  dynn_sim_params p;
  std::memset(&p, 0, sizeof p);
  p.struct_size = sizeof p;
  p.ambient_c = NAN;
  p.thermal_resistance = NAN;
  p.latency_noise = 0;
  p.seed = 1;
  p.cpu_lut_dir = nullptr;
  p.gpu_lut_dir = nullptr;
  return p;
}

DYNN_API dynn_status dynn_platform_create_simulated(const char* name, const dynn_sim_params* params, dynn_platform** out) {
  return guard([&] {
    DYNN_CHECK_ARG(name, "dynn_platform_create_simulated: name is NULL");
    DYNN_CHECK_ARG(out, "dynn_platform_create_simulated: out is NULL");
    auto p = read_struct(params, dynn_sim_default_params(), "dynn_sim_params");
    dynn::SimOptions o;
    if (!std::isnan(p.ambient_c)) {
      DYNN_CHECK_ARG(std::isfinite(p.ambient_c) && p.ambient_c > -60 && p.ambient_c < 150,
                     fmt::format("dynn_sim_params.ambient_c {} outside (-60, 150)", p.ambient_c));
      o.ambient_c = p.ambient_c;
    }
    if (!std::isnan(p.thermal_resistance)) {
      DYNN_CHECK_ARG(std::isfinite(p.thermal_resistance) && p.thermal_resistance > 0 && p.thermal_resistance < 100,
                     fmt::format("dynn_sim_params.thermal_resistance {} outside (0, 100) K/W", p.thermal_resistance));
      o.thermal_resistance = p.thermal_resistance;
    }
    DYNN_CHECK_ARG(std::isfinite(p.latency_noise) && p.latency_noise >= 0 && p.latency_noise <= 1,
                   fmt::format("dynn_sim_params.latency_noise {} outside [0, 1]", p.latency_noise));
    o.latency_noise = p.latency_noise;
    o.seed = p.seed;
    auto sim = dynn::SimulatedPlatform::create(name, o);
    if (p.cpu_lut_dir || p.gpu_lut_dir) {
      DYNN_CHECK_ARG(p.cpu_lut_dir, "dynn_sim_params: gpu_lut_dir given without cpu_lut_dir");
      dynn::load_latency_tables(*sim, p.cpu_lut_dir, p.gpu_lut_dir ? p.gpu_lut_dir : "");
    }
    auto h = std::make_unique<dynn_platform>();
    h->sim = sim.get();
    h->platform = std::shared_ptr<dynn::Platform>(std::move(sim));
    *out = h.release();
    return DYNN_OK;
  });
}

DYNN_API void dynn_platform_free(dynn_platform* platform) { delete platform; }

DYNN_API int dynn_platform_is_simulated(const dynn_platform* platform) { return platform && platform->sim ? 1 : 0; }

DYNN_API dynn_status dynn_platform_name(const dynn_platform* platform, char* buf, size_t size, size_t* needed) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_name: platform is NULL");
    return write_string(platform->platform->name(), buf, size, needed);
  });
}

DYNN_API dynn_status dynn_platform_now(const dynn_platform* platform, double* out) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_now: platform is NULL");
    DYNN_CHECK_ARG(out, "dynn_platform_now: out is NULL");
    *out = platform->platform->now();
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_platform_idle(dynn_platform* platform, double seconds) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_idle: platform is NULL");
    DYNN_CHECK_ARG(std::isfinite(seconds) && seconds >= 0 && seconds <= 86400,
                   fmt::format("dynn_platform_idle: seconds {} outside [0, 86400]", seconds));
    platform->platform->idle(seconds);
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_platform_report_json(dynn_platform* platform, char* buf, size_t size, size_t* needed) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_report_json: platform is NULL");
    return write_string(platform->platform->report_json(), buf, size, needed);
  });
}

// ---- knobs

DYNN_API dynn_status dynn_platform_num_knobs(const dynn_platform* platform, size_t* out) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_num_knobs: platform is NULL");
    DYNN_CHECK_ARG(out, "dynn_platform_num_knobs: out is NULL");
    *out = platform->platform->knobs().size();
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_platform_find_knob(const dynn_platform* platform, const char* name, size_t* index) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_find_knob: platform is NULL");
    DYNN_CHECK_ARG(name, "dynn_platform_find_knob: name is NULL");
    DYNN_CHECK_ARG(index, "dynn_platform_find_knob: index is NULL");
    auto ks = platform->platform->knobs();
    for (size_t i = 0; i < ks.size(); ++i)
      if (ks[i]->name() == name) {
        *index = i;
        return DYNN_OK;
      }
    return fail(DYNN_ENOTFOUND, fmt::format("platform '{}' has no knob '{}' (knobs: {})", platform->platform->name(), name,
                                            fmt::join(platform->platform->knob_names(), ", ")));
  });
}

DYNN_API dynn_status dynn_platform_knob_info(const dynn_platform* platform, size_t index, dynn_knob_info* out) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_knob_info: platform is NULL");
    DYNN_CHECK_ARG(out, "dynn_platform_knob_info: out is NULL");
    const auto& k = knob_at(platform, index, "dynn_platform_knob_info");
    dynn_knob_info i;
    std::memset(&i, 0, sizeof i);
    i.type = k.numeric() ? DYNN_KNOB_NUMERIC : DYNN_KNOB_TEXT;
    i.readable = k.readable();
    i.writable = k.writable();
    i.changed = k.changed();
    if (auto v = k.min_value()) i.has_min = 1, i.min = *v;
    if (auto v = k.max_value()) i.has_max = 1, i.max = *v;
    i.num_values = k.values().size();
    i.num_text_values = k.text_values().size();
    write_struct(out, i, "dynn_knob_info");
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_platform_knob_string(const dynn_platform* platform, size_t index, int which, char* buf, size_t size,
                                               size_t* needed) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_knob_string: platform is NULL");
    const auto& k = knob_at(platform, index, "dynn_platform_knob_string");
    std::string s;
    switch (which) {
      case DYNN_KNOB_NAME: s = k.name(); break;
      case DYNN_KNOB_UNIT: s = k.unit(); break;
      case DYNN_KNOB_DESCRIPTION: s = k.description(); break;
      case DYNN_KNOB_ALLOWED: s = k.allowed_string(); break;
      case DYNN_KNOB_UNWRITABLE_REASON: s = k.unwritable_reason(); break;
      case DYNN_KNOB_UNAVAILABLE_REASON: s = k.unavailable_reason(); break;
      case DYNN_KNOB_VALUE: s = k.value_string(); break;
      default: return fail(DYNN_EINVAL, fmt::format("dynn_platform_knob_string: which is {}, expected a DYNN_KNOB_* text (0..6)", which));
    }
    return write_string(s, buf, size, needed);
  });
}

DYNN_API dynn_status dynn_platform_knob_values(const dynn_platform* platform, size_t index, int64_t* values, size_t capacity,
                                               size_t* count) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_knob_values: platform is NULL");
    const auto& k = knob_at(platform, index, "dynn_platform_knob_values");
    return write_array(k.values(), values, capacity, count, "dynn_platform_knob_values");
  });
}

DYNN_API dynn_status dynn_platform_knob_text_value(const dynn_platform* platform, size_t index, size_t j, char* buf, size_t size,
                                                   size_t* needed) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_knob_text_value: platform is NULL");
    const auto& k = knob_at(platform, index, "dynn_platform_knob_text_value");
    if (j >= k.text_values().size())
      return fail(DYNN_EINVAL, fmt::format("dynn_platform_knob_text_value: knob '{}' has {} allowed words, no index {}", k.name(),
                                           k.text_values().size(), j));
    return write_string(k.text_values()[j], buf, size, needed);
  });
}

DYNN_API dynn_status dynn_platform_knob_get(const dynn_platform* platform, size_t index, int64_t* out) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_knob_get: platform is NULL");
    DYNN_CHECK_ARG(out, "dynn_platform_knob_get: out is NULL");
    *out = knob_at(platform, index, "dynn_platform_knob_get").get();
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_platform_knob_get_text(const dynn_platform* platform, size_t index, char* buf, size_t size,
                                                 size_t* needed) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_knob_get_text: platform is NULL");
    return write_string(knob_at(platform, index, "dynn_platform_knob_get_text").get_text(), buf, size, needed);
  });
}

DYNN_API dynn_status dynn_platform_knob_set(dynn_platform* platform, size_t index, int64_t value) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_knob_set: platform is NULL");
    knob_at(platform, index, "dynn_platform_knob_set").set(value);
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_platform_knob_set_text(dynn_platform* platform, size_t index, const char* value) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_knob_set_text: platform is NULL");
    DYNN_CHECK_ARG(value, "dynn_platform_knob_set_text: value is NULL");
    knob_at(platform, index, "dynn_platform_knob_set_text").set_text(value);
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_platform_apply(dynn_platform* platform, const char* setting_json) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_apply: platform is NULL");
    DYNN_CHECK_ARG(setting_json, "dynn_platform_apply: setting_json is NULL");
    platform->platform->apply(hardware_from_json(setting_json, "dynn_platform_apply"));
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_platform_restore(dynn_platform* platform) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_restore: platform is NULL");
    platform->platform->restore();
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_restore_on_exit_install(const char* record_path) {
  return guard([&] {
    dynn::RestoreOnExitOptions o;
    if (record_path) o.record_path = record_path;
    dynn::install_restore_on_exit(o);
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_restore_record_apply(const char* path, int force, size_t* written) {
  return guard([&] {
    DYNN_CHECK_ARG(path, "dynn_restore_record_apply: path is NULL");
    const size_t n = dynn::apply_restore_record(path, force != 0);
    if (written) *written = n;
    return DYNN_OK;
  });
}

// ---- sensors

DYNN_API dynn_status dynn_platform_num_sensors(const dynn_platform* platform, size_t* out) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_num_sensors: platform is NULL");
    DYNN_CHECK_ARG(out, "dynn_platform_num_sensors: out is NULL");
    *out = platform->platform->sensors().size();
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_platform_find_sensor(const dynn_platform* platform, const char* name, size_t* index) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_find_sensor: platform is NULL");
    DYNN_CHECK_ARG(name, "dynn_platform_find_sensor: name is NULL");
    DYNN_CHECK_ARG(index, "dynn_platform_find_sensor: index is NULL");
    auto ss = platform->platform->sensors();
    for (size_t i = 0; i < ss.size(); ++i)
      if (ss[i]->name() == name) {
        *index = i;
        return DYNN_OK;
      }
    return fail(DYNN_ENOTFOUND, fmt::format("platform '{}' has no sensor '{}' (sensors: {})", platform->platform->name(), name,
                                            fmt::join(platform->platform->sensor_names(), ", ")));
  });
}

DYNN_API dynn_status dynn_platform_sensor_info(const dynn_platform* platform, size_t index, dynn_sensor_info* out) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_sensor_info: platform is NULL");
    DYNN_CHECK_ARG(out, "dynn_platform_sensor_info: out is NULL");
    const auto& s = sensor_at(platform, index, "dynn_platform_sensor_info");
    dynn_sensor_info i;
    std::memset(&i, 0, sizeof i);
    i.kind = s.kind() == dynn::SensorKind::Counter ? DYNN_SENSOR_COUNTER : DYNN_SENSOR_INSTANT;
    i.available = s.available() ? 1 : 0;
    write_struct(out, i, "dynn_sensor_info");
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_platform_sensor_string(const dynn_platform* platform, size_t index, int which, char* buf, size_t size,
                                                 size_t* needed) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_sensor_string: platform is NULL");
    const auto& s = sensor_at(platform, index, "dynn_platform_sensor_string");
    std::string t;
    switch (which) {
      case DYNN_SENSOR_NAME: t = s.name(); break;
      case DYNN_SENSOR_UNIT: t = s.unit(); break;
      case DYNN_SENSOR_DESCRIPTION: t = s.description(); break;
      case DYNN_SENSOR_UNAVAILABLE_REASON: t = s.unavailable_reason(); break;
      case DYNN_SENSOR_LAST_ERROR: t = s.last_error(); break;
      default: return fail(DYNN_EINVAL, fmt::format("dynn_platform_sensor_string: which is {}, expected a DYNN_SENSOR_* text (0..4)", which));
    }
    return write_string(t, buf, size, needed);
  });
}

DYNN_API dynn_status dynn_platform_sensor_read(dynn_platform* platform, size_t index, double* out) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_sensor_read: platform is NULL");
    DYNN_CHECK_ARG(out, "dynn_platform_sensor_read: out is NULL");
    *out = sensor_at(platform, index, "dynn_platform_sensor_read").read();
    return DYNN_OK;
  });
}

// ---- simulator

DYNN_API dynn_status dynn_platform_sim_load_latency_tables(dynn_platform* platform, const char* cpu_dir, const char* gpu_dir) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_sim_load_latency_tables: platform is NULL");
    DYNN_CHECK_ARG(cpu_dir, "dynn_platform_sim_load_latency_tables: cpu_dir is NULL");
    dynn::load_latency_tables(sim_of(platform, "dynn_platform_sim_load_latency_tables"), cpu_dir, gpu_dir ? gpu_dir : "");
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_platform_sim_run(dynn_platform* platform, const dynn_subnet* cfg, const char* device,
                                           dynn_sim_inference* out) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_sim_run: platform is NULL");
    auto c = to_config(cfg, "dynn_platform_sim_run");
    if (out) check_struct_size(out, "dynn_sim_inference");
    auto r = sim_of(platform, "dynn_platform_sim_run").simulate_inference(c, sim_device(device));
    if (out) write_struct(out, sim_to_c(r), "dynn_sim_inference");
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_platform_sim_run_work(dynn_platform* platform, double reference_ms, const char* device,
                                                dynn_sim_inference* out) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_sim_run_work: platform is NULL");
    DYNN_CHECK_ARG(std::isfinite(reference_ms) && reference_ms >= 0 && reference_ms <= 3.6e6,
                   fmt::format("dynn_platform_sim_run_work: reference_ms {} outside [0, 3.6e6]", reference_ms));
    if (out) check_struct_size(out, "dynn_sim_inference");
    auto r = sim_of(platform, "dynn_platform_sim_run_work").simulate_work(reference_ms, sim_device(device));
    if (out) write_struct(out, sim_to_c(r), "dynn_sim_inference");
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_platform_sim_add_interference(dynn_platform* platform, int target, double start_s, double duration_s,
                                                        double share, uint64_t cpu_mask) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_sim_add_interference: platform is NULL");
    DYNN_CHECK_ARG(target == DYNN_SIM_CPU || target == DYNN_SIM_GPU,
                   fmt::format("dynn_platform_sim_add_interference: target {} is not DYNN_SIM_CPU or DYNN_SIM_GPU", target));
    DYNN_CHECK_ARG(std::isfinite(start_s) && start_s >= 0, fmt::format("dynn_platform_sim_add_interference: start_s {} < 0", start_s));
    DYNN_CHECK_ARG(std::isfinite(duration_s) && duration_s > 0,
                   fmt::format("dynn_platform_sim_add_interference: duration_s {} must be > 0", duration_s));
    DYNN_CHECK_ARG(std::isfinite(share) && share > 0 && share <= 1,
                   fmt::format("dynn_platform_sim_add_interference: share {} outside (0, 1]", share));
    dynn::SimInterference e;
    e.target = target == DYNN_SIM_GPU ? dynn::SimInterference::Target::Gpu : dynn::SimInterference::Target::Cpu;
    e.start_s = start_s;
    e.duration_s = duration_s;
    e.share = share;
    e.cpu_mask = cpu_mask;
    sim_of(platform, "dynn_platform_sim_add_interference").add_interference(e);
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_platform_sim_clear_interference(dynn_platform* platform) {
  return guard([&] {
    DYNN_CHECK_ARG(platform, "dynn_platform_sim_clear_interference: platform is NULL");
    sim_of(platform, "dynn_platform_sim_clear_interference").clear_interference();
    return DYNN_OK;
  });
}

}  // extern "C"
