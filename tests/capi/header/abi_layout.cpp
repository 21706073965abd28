// ABI lock-in: the layout of every public transparent struct and the value of every public
// constant of dynn.h. A change here breaks C callers built against an older header: it must come
// with a DYNN_VERSION_MAJOR bump (and these numbers updated on purpose). Compiled as part of the
// build (an object library), so a layout change fails the build. LP64 (x86-64, aarch64) numbers.
#include <dynn/dynn.h>

#include <cstddef>

static_assert(DYNN_OK == 0 && DYNN_ERROR == -1 && DYNN_EINVAL == -2 && DYNN_ENOTFOUND == -3 && DYNN_EBUFS == -4 &&
                  DYNN_ENOMEM == -5 && DYNN_EBACKEND == -6 && DYNN_EUNSUPPORTED == -7 && DYNN_EIO == -8 &&
                  DYNN_EPARSE == -9 && DYNN_EPERM == -10 && DYNN_EBUSY == -11,
              "status codes");
static_assert(DYNN_LOG_DEBUG == 0 && DYNN_LOG_INFO == 1 && DYNN_LOG_WARN == 2 && DYNN_LOG_ERROR == 3 && DYNN_LOG_OFF == 4,
              "log levels");
static_assert(DYNN_OFA_NUM_BLOCKS == 20 && DYNN_OFA_NUM_STAGES == 5, "OFA sizes");
static_assert(DYNN_KNOB_NUMERIC == 0 && DYNN_KNOB_TEXT == 1, "knob types");
static_assert(DYNN_KNOB_NAME == 0 && DYNN_KNOB_UNIT == 1 && DYNN_KNOB_DESCRIPTION == 2 && DYNN_KNOB_ALLOWED == 3 &&
                  DYNN_KNOB_UNWRITABLE_REASON == 4 && DYNN_KNOB_UNAVAILABLE_REASON == 5 && DYNN_KNOB_VALUE == 6,
              "knob texts");
static_assert(DYNN_SENSOR_INSTANT == 0 && DYNN_SENSOR_COUNTER == 1, "sensor kinds");
static_assert(DYNN_SENSOR_NAME == 0 && DYNN_SENSOR_UNIT == 1 && DYNN_SENSOR_DESCRIPTION == 2 &&
                  DYNN_SENSOR_UNAVAILABLE_REASON == 3 && DYNN_SENSOR_LAST_ERROR == 4,
              "sensor texts");
static_assert(DYNN_SIM_CPU == 0 && DYNN_SIM_GPU == 1, "interference targets");
static_assert(DYNN_ACCURACY_UNKNOWN == 0 && DYNN_ACCURACY_MEASURED == 1 && DYNN_ACCURACY_PREDICTED == 2 &&
                  DYNN_ACCURACY_PUBLISHED == 3,
              "accuracy sources");
static_assert(DYNN_POINT_ID == 0 && DYNN_POINT_DEVICE == 1 && DYNN_POINT_HARDWARE == 2, "point texts");
static_assert(DYNN_TELEMETRY_CSV == 0 && DYNN_TELEMETRY_JSON == 1 && DYNN_TELEMETRY_SVG == 2, "telemetry formats");

#if defined(__LP64__) || defined(_LP64)
static_assert(sizeof(dynn_supernet_params) == 40, "dynn_supernet_params");
static_assert(offsetof(dynn_supernet_params, device) == 8, "dynn_supernet_params.device");
static_assert(offsetof(dynn_supernet_params, num_threads) == 16, "dynn_supernet_params.num_threads");
static_assert(offsetof(dynn_supernet_params, cache_bytes) == 24, "dynn_supernet_params.cache_bytes");
static_assert(offsetof(dynn_supernet_params, engine) == 32, "dynn_supernet_params.engine");
static_assert(sizeof(dynn_subnet) == 184, "dynn_subnet");
static_assert(offsetof(dynn_subnet, e) == 80, "dynn_subnet.e");
static_assert(offsetof(dynn_subnet, d) == 160, "dynn_subnet.d");
static_assert(offsetof(dynn_subnet, r) == 180, "dynn_subnet.r");
static_assert(sizeof(dynn_supernet_info) == 64, "dynn_supernet_info");
static_assert(offsetof(dynn_supernet_info, width_mult) == 8, "dynn_supernet_info.width_mult");
static_assert(offsetof(dynn_supernet_info, num_classes) == 16, "dynn_supernet_info.num_classes");
static_assert(offsetof(dynn_supernet_info, parameter_count) == 24, "dynn_supernet_info.parameter_count");
static_assert(offsetof(dynn_supernet_info, prepared_count) == 56, "dynn_supernet_info.prepared_count");
static_assert(sizeof(dynn_sim_params) == 56, "dynn_sim_params");
static_assert(offsetof(dynn_sim_params, ambient_c) == 8, "dynn_sim_params.ambient_c");
static_assert(offsetof(dynn_sim_params, thermal_resistance) == 16, "dynn_sim_params.thermal_resistance");
static_assert(offsetof(dynn_sim_params, latency_noise) == 24, "dynn_sim_params.latency_noise");
static_assert(offsetof(dynn_sim_params, seed) == 32, "dynn_sim_params.seed");
static_assert(offsetof(dynn_sim_params, cpu_lut_dir) == 40, "dynn_sim_params.cpu_lut_dir");
static_assert(offsetof(dynn_sim_params, gpu_lut_dir) == 48, "dynn_sim_params.gpu_lut_dir");
static_assert(sizeof(dynn_knob_info) == 64, "dynn_knob_info");
static_assert(offsetof(dynn_knob_info, type) == 8, "dynn_knob_info.type");
static_assert(offsetof(dynn_knob_info, readable) == 12, "dynn_knob_info.readable");
static_assert(offsetof(dynn_knob_info, writable) == 16, "dynn_knob_info.writable");
static_assert(offsetof(dynn_knob_info, changed) == 20, "dynn_knob_info.changed");
static_assert(offsetof(dynn_knob_info, has_min) == 24, "dynn_knob_info.has_min");
static_assert(offsetof(dynn_knob_info, has_max) == 28, "dynn_knob_info.has_max");
static_assert(offsetof(dynn_knob_info, min) == 32, "dynn_knob_info.min");
static_assert(offsetof(dynn_knob_info, max) == 40, "dynn_knob_info.max");
static_assert(offsetof(dynn_knob_info, num_values) == 48, "dynn_knob_info.num_values");
static_assert(offsetof(dynn_knob_info, num_text_values) == 56, "dynn_knob_info.num_text_values");
static_assert(sizeof(dynn_sensor_info) == 16, "dynn_sensor_info");
static_assert(offsetof(dynn_sensor_info, kind) == 8, "dynn_sensor_info.kind");
static_assert(offsetof(dynn_sensor_info, available) == 12, "dynn_sensor_info.available");
static_assert(sizeof(dynn_sim_inference) == 80, "dynn_sim_inference");
static_assert(offsetof(dynn_sim_inference, start_s) == 8, "dynn_sim_inference.start_s");
static_assert(offsetof(dynn_sim_inference, latency_s) == 16, "dynn_sim_inference.latency_s");
static_assert(offsetof(dynn_sim_inference, energy_j) == 24, "dynn_sim_inference.energy_j");
static_assert(offsetof(dynn_sim_inference, avg_power_w) == 32, "dynn_sim_inference.avg_power_w");
static_assert(offsetof(dynn_sim_inference, reference_ms) == 40, "dynn_sim_inference.reference_ms");
static_assert(offsetof(dynn_sim_inference, cpu_mhz) == 48, "dynn_sim_inference.cpu_mhz");
static_assert(offsetof(dynn_sim_inference, gpu_mhz) == 56, "dynn_sim_inference.gpu_mhz");
static_assert(offsetof(dynn_sim_inference, peak_temp_c) == 64, "dynn_sim_inference.peak_temp_c");
static_assert(offsetof(dynn_sim_inference, throttled) == 72, "dynn_sim_inference.throttled");
static_assert(sizeof(dynn_operating_point) == 248, "dynn_operating_point");
static_assert(offsetof(dynn_operating_point, subnet) == 8, "dynn_operating_point.subnet");
static_assert(offsetof(dynn_operating_point, latency_ms) == 192, "dynn_operating_point.latency_ms");
static_assert(offsetof(dynn_operating_point, latency_p90_ms) == 200, "dynn_operating_point.latency_p90_ms");
static_assert(offsetof(dynn_operating_point, power_w) == 208, "dynn_operating_point.power_w");
static_assert(offsetof(dynn_operating_point, energy_mj) == 216, "dynn_operating_point.energy_mj");
static_assert(offsetof(dynn_operating_point, accuracy) == 224, "dynn_operating_point.accuracy");
static_assert(offsetof(dynn_operating_point, macs) == 232, "dynn_operating_point.macs");
static_assert(offsetof(dynn_operating_point, level) == 240, "dynn_operating_point.level");
static_assert(offsetof(dynn_operating_point, accuracy_source) == 244, "dynn_operating_point.accuracy_source");
static_assert(sizeof(dynn_control_context) == 64, "dynn_control_context");
static_assert(offsetof(dynn_control_context, num_points) == 8, "dynn_control_context.num_points");
static_assert(offsetof(dynn_control_context, points) == 16, "dynn_control_context.points");
static_assert(offsetof(dynn_control_context, point_ids) == 24, "dynn_control_context.point_ids");
static_assert(offsetof(dynn_control_context, num_knobs) == 32, "dynn_control_context.num_knobs");
static_assert(offsetof(dynn_control_context, knob_names) == 40, "dynn_control_context.knob_names");
static_assert(offsetof(dynn_control_context, num_sensors) == 48, "dynn_control_context.num_sensors");
static_assert(offsetof(dynn_control_context, sensor_names) == 56, "dynn_control_context.sensor_names");
static_assert(sizeof(dynn_observation) == 120, "dynn_observation");
static_assert(offsetof(dynn_observation, step) == 8, "dynn_observation.step");
static_assert(offsetof(dynn_observation, time_s) == 16, "dynn_observation.time_s");
static_assert(offsetof(dynn_observation, target_latency_ms) == 24, "dynn_observation.target_latency_ms");
static_assert(offsetof(dynn_observation, target_accuracy) == 32, "dynn_observation.target_accuracy");
static_assert(offsetof(dynn_observation, target_power_w) == 40, "dynn_observation.target_power_w");
static_assert(offsetof(dynn_observation, target_energy_mj) == 48, "dynn_observation.target_energy_mj");
static_assert(offsetof(dynn_observation, last_latency_ms) == 56, "dynn_observation.last_latency_ms");
static_assert(offsetof(dynn_observation, last_energy_mj) == 64, "dynn_observation.last_energy_mj");
static_assert(offsetof(dynn_observation, last_power_w) == 72, "dynn_observation.last_power_w");
static_assert(offsetof(dynn_observation, last_point) == 80, "dynn_observation.last_point");
static_assert(offsetof(dynn_observation, current_point) == 84, "dynn_observation.current_point");
static_assert(offsetof(dynn_observation, num_knobs) == 88, "dynn_observation.num_knobs");
static_assert(offsetof(dynn_observation, knob_values) == 96, "dynn_observation.knob_values");
static_assert(offsetof(dynn_observation, num_sensors) == 104, "dynn_observation.num_sensors");
static_assert(offsetof(dynn_observation, sensor_values) == 112, "dynn_observation.sensor_values");
static_assert(sizeof(dynn_decision) == 40, "dynn_decision");
static_assert(offsetof(dynn_decision, point) == 8, "dynn_decision.point");
static_assert(offsetof(dynn_decision, num_knobs) == 16, "dynn_decision.num_knobs");
static_assert(offsetof(dynn_decision, knob_values) == 24, "dynn_decision.knob_values");
static_assert(offsetof(dynn_decision, knob_set) == 32, "dynn_decision.knob_set");
static_assert(sizeof(dynn_controller_callbacks) == 48, "dynn_controller_callbacks");
static_assert(offsetof(dynn_controller_callbacks, user_data) == 8, "dynn_controller_callbacks.user_data");
static_assert(offsetof(dynn_controller_callbacks, decide) == 16, "dynn_controller_callbacks.decide");
static_assert(offsetof(dynn_controller_callbacks, reset) == 24, "dynn_controller_callbacks.reset");
static_assert(offsetof(dynn_controller_callbacks, destroy) == 32, "dynn_controller_callbacks.destroy");
static_assert(offsetof(dynn_controller_callbacks, bind) == 40, "dynn_controller_callbacks.bind");
static_assert(sizeof(dynn_targets) == 40, "dynn_targets");
static_assert(offsetof(dynn_targets, latency_ms) == 8, "dynn_targets.latency_ms");
static_assert(offsetof(dynn_targets, accuracy) == 16, "dynn_targets.accuracy");
static_assert(offsetof(dynn_targets, power_w) == 24, "dynn_targets.power_w");
static_assert(offsetof(dynn_targets, energy_mj) == 32, "dynn_targets.energy_mj");
static_assert(sizeof(dynn_manager_params) == 104, "dynn_manager_params");
static_assert(offsetof(dynn_manager_params, app_name) == 8, "dynn_manager_params.app_name");
static_assert(offsetof(dynn_manager_params, targets) == 16, "dynn_manager_params.targets");
static_assert(offsetof(dynn_manager_params, knobs) == 56, "dynn_manager_params.knobs");
static_assert(offsetof(dynn_manager_params, sensors) == 64, "dynn_manager_params.sensors");
static_assert(offsetof(dynn_manager_params, prepare_all) == 72, "dynn_manager_params.prepare_all");
static_assert(offsetof(dynn_manager_params, telemetry) == 76, "dynn_manager_params.telemetry");
static_assert(offsetof(dynn_manager_params, restore_on_free) == 80, "dynn_manager_params.restore_on_free");
static_assert(offsetof(dynn_manager_params, simulate) == 84, "dynn_manager_params.simulate");
static_assert(offsetof(dynn_manager_params, energy_sensor) == 88, "dynn_manager_params.energy_sensor");
static_assert(offsetof(dynn_manager_params, power_sensor) == 96, "dynn_manager_params.power_sensor");
static_assert(sizeof(dynn_step_result) == 32, "dynn_step_result");
static_assert(offsetof(dynn_step_result, latency_ms) == 8, "dynn_step_result.latency_ms");
static_assert(offsetof(dynn_step_result, energy_mj) == 16, "dynn_step_result.energy_mj");
static_assert(offsetof(dynn_step_result, point) == 24, "dynn_step_result.point");
static_assert(offsetof(dynn_step_result, met) == 28, "dynn_step_result.met");
static_assert(sizeof(dynn_telemetry_summary) == 96, "dynn_telemetry_summary");
static_assert(offsetof(dynn_telemetry_summary, count) == 8, "dynn_telemetry_summary.count");
static_assert(offsetof(dynn_telemetry_summary, misses) == 16, "dynn_telemetry_summary.misses");
static_assert(offsetof(dynn_telemetry_summary, switches) == 24, "dynn_telemetry_summary.switches");
static_assert(offsetof(dynn_telemetry_summary, within_target) == 32, "dynn_telemetry_summary.within_target");
static_assert(offsetof(dynn_telemetry_summary, mean_accuracy) == 40, "dynn_telemetry_summary.mean_accuracy");
static_assert(offsetof(dynn_telemetry_summary, mean_latency_ms) == 48, "dynn_telemetry_summary.mean_latency_ms");
static_assert(offsetof(dynn_telemetry_summary, p50_latency_ms) == 56, "dynn_telemetry_summary.p50_latency_ms");
static_assert(offsetof(dynn_telemetry_summary, p99_latency_ms) == 64, "dynn_telemetry_summary.p99_latency_ms");
static_assert(offsetof(dynn_telemetry_summary, max_latency_ms) == 72, "dynn_telemetry_summary.max_latency_ms");
static_assert(offsetof(dynn_telemetry_summary, mean_energy_mj) == 80, "dynn_telemetry_summary.mean_energy_mj");
static_assert(offsetof(dynn_telemetry_summary, mean_power_w) == 88, "dynn_telemetry_summary.mean_power_w");
#endif
