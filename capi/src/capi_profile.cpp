// C ABI: profiles (operating points, Pareto fronts), latency tables, the accuracy predictor.
#include <cmath>

#include "capi_internal.hpp"
#include "dynn/profile/accuracy_predictor.hpp"
#include "dynn/profile/latency_table.hpp"
#include "dynn/profile/levels.hpp"
#include "dynn/profile/pareto.hpp"

struct dynn_latency_table {
  dynn::LatencyTable table;
};
struct dynn_accuracy_predictor {
  dynn::AccuracyPredictor predictor;
};

using namespace dynn::capi;

namespace {
const dynn::OperatingPoint& point_at(const dynn_profile* p, size_t index, const char* fn) {
  if (index >= p->profile.points.size())
    invalid(fmt::format("{}: point index {} out of range (the profile has {} points)", fn, index, p->profile.points.size()));
  return p->profile.points[index];
}
}  // namespace

extern "C" {

DYNN_API dynn_status dynn_profile_create(dynn_profile** out) {
  return guard([&] {
    DYNN_CHECK_ARG(out, "dynn_profile_create: out is NULL");
    *out = new dynn_profile();
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_profile_load(const char* path, dynn_profile** out) {
  return guard([&] {
    DYNN_CHECK_ARG(path, "dynn_profile_load: path is NULL");
    DYNN_CHECK_ARG(out, "dynn_profile_load: out is NULL");
    auto h = std::make_unique<dynn_profile>();
    h->profile = dynn::Profile::load(path);
    *out = h.release();
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_profile_from_json(const char* json, dynn_profile** out) {
  return guard([&] {
    DYNN_CHECK_ARG(json, "dynn_profile_from_json: json is NULL");
    DYNN_CHECK_ARG(out, "dynn_profile_from_json: out is NULL");
    auto h = std::make_unique<dynn_profile>();
    h->profile = dynn::Profile::from_json(json);
    *out = h.release();
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_profile_load_levels(const char* path, const char* device, dynn_profile** out) {
  return guard([&] {
    DYNN_CHECK_ARG(path, "dynn_profile_load_levels: path is NULL");
    DYNN_CHECK_ARG(out, "dynn_profile_load_levels: out is NULL");
    auto levels = dynn::LevelSet::load(path);
    auto h = std::make_unique<dynn_profile>();
    h->profile.supernet = levels.supernet;
    h->profile.device_name = device ? device : "gpu";
    h->profile.notes = "levels from " + std::string(path) + (levels.source.empty() ? "" : " (" + levels.source + ")");
    for (auto& p : levels.to_operating_points(device ? device : "gpu")) h->profile.add(std::move(p));
    *out = h.release();
    return DYNN_OK;
  });
}

DYNN_API void dynn_profile_free(dynn_profile* profile) { delete profile; }

DYNN_API dynn_status dynn_profile_save(const dynn_profile* profile, const char* path) {
  return guard([&] {
    DYNN_CHECK_ARG(profile, "dynn_profile_save: profile is NULL");
    DYNN_CHECK_ARG(path, "dynn_profile_save: path is NULL");
    profile->profile.save(path);
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_profile_to_json(const dynn_profile* profile, char* buf, size_t size, size_t* needed) {
  return guard([&] {
    DYNN_CHECK_ARG(profile, "dynn_profile_to_json: profile is NULL");
    return write_string(profile->profile.to_json(), buf, size, needed);
  });
}

DYNN_API dynn_status dynn_profile_num_points(const dynn_profile* profile, size_t* out) {
  return guard([&] {
    DYNN_CHECK_ARG(profile, "dynn_profile_num_points: profile is NULL");
    DYNN_CHECK_ARG(out, "dynn_profile_num_points: out is NULL");
    *out = profile->profile.points.size();
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_profile_get_point(const dynn_profile* profile, size_t index, dynn_operating_point* out) {
  return guard([&] {
    DYNN_CHECK_ARG(profile, "dynn_profile_get_point: profile is NULL");
    DYNN_CHECK_ARG(out, "dynn_profile_get_point: out is NULL");
    write_struct(out, point_to_c(point_at(profile, index, "dynn_profile_get_point")), "dynn_operating_point");
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_profile_point_string(const dynn_profile* profile, size_t index, int which, char* buf, size_t size,
                                               size_t* needed) {
  return guard([&] {
    DYNN_CHECK_ARG(profile, "dynn_profile_point_string: profile is NULL");
    const auto& p = point_at(profile, index, "dynn_profile_point_string");
    return write_string(point_string(p, which, "dynn_profile_point_string"), buf, size, needed);
  });
}

DYNN_API dynn_status dynn_profile_find_point(const dynn_profile* profile, const char* id, size_t* index) {
  return guard([&] {
    DYNN_CHECK_ARG(profile, "dynn_profile_find_point: profile is NULL");
    DYNN_CHECK_ARG(id, "dynn_profile_find_point: id is NULL");
    DYNN_CHECK_ARG(index, "dynn_profile_find_point: index is NULL");
    const auto& pts = profile->profile.points;
    for (size_t i = 0; i < pts.size(); ++i)
      if (pts[i].id == id) {
        *index = i;
        return DYNN_OK;
      }
    return fail(DYNN_ENOTFOUND, fmt::format("dynn_profile_find_point: no point '{}' among {} points", id, pts.size()));
  });
}

DYNN_API dynn_status dynn_profile_add_point(dynn_profile* profile, const dynn_operating_point* point, const char* id,
                                            const char* device, const char* hardware_json) {
  return guard([&] {
    DYNN_CHECK_ARG(profile, "dynn_profile_add_point: profile is NULL");
    DYNN_CHECK_ARG(point, "dynn_profile_add_point: point is NULL");
    DYNN_CHECK_ARG(id && *id, "dynn_profile_add_point: id is NULL or empty");
    // The whole struct is needed: a point has no defaults for its measured fields.
    DYNN_CHECK_ARG(point->struct_size == sizeof(dynn_operating_point),
                   fmt::format("dynn_profile_add_point: point->struct_size is {}, expected {}", point->struct_size,
                               sizeof(dynn_operating_point)));
    auto p = point_from_c(*point);
    p.id = id;
    p.device = device ? device : "cpu";
    DYNN_CHECK_ARG(!p.device.empty(), "dynn_profile_add_point: device is empty");
    if (hardware_json) p.hardware = hardware_from_json(hardware_json, "dynn_profile_add_point: hardware_json");
    profile->profile.add(std::move(p));
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_profile_pareto_front(const dynn_profile* profile, const char* objectives, size_t* indices,
                                               size_t capacity, size_t* count) {
  return guard([&] {
    DYNN_CHECK_ARG(profile, "dynn_profile_pareto_front: profile is NULL");
    DYNN_CHECK_ARG(objectives, "dynn_profile_pareto_front: objectives is NULL");
    std::vector<dynn::Objective> obj;
    for (const auto& n : split_list(objectives)) obj.push_back(dynn::Objective::by_name(n));
    DYNN_CHECK_ARG(!obj.empty(), "dynn_profile_pareto_front: objectives is empty (e.g. \"latency,accuracy\")");
    auto idx = dynn::pareto_front_indices(profile->profile.points, obj);
    return write_array(idx, indices, capacity, count, "dynn_profile_pareto_front");
  });
}

// ---- latency tables

DYNN_API dynn_status dynn_latency_table_load(const char* dir, double width_mult, dynn_latency_table** out) {
  return guard([&] {
    DYNN_CHECK_ARG(dir, "dynn_latency_table_load: dir is NULL");
    DYNN_CHECK_ARG(out, "dynn_latency_table_load: out is NULL");
    DYNN_CHECK_ARG(std::isfinite(width_mult) && width_mult > 0 && width_mult <= 8,
                   fmt::format("dynn_latency_table_load: width_mult {} outside (0, 8]", width_mult));
    auto h = std::unique_ptr<dynn_latency_table>(new dynn_latency_table{dynn::LatencyTable::load_dir(dir, width_mult)});
    *out = h.release();
    return DYNN_OK;
  });
}

DYNN_API void dynn_latency_table_free(dynn_latency_table* table) { delete table; }

DYNN_API dynn_status dynn_latency_table_predict(const dynn_latency_table* table, const dynn_subnet* cfg, double* ms) {
  return guard([&] {
    DYNN_CHECK_ARG(table, "dynn_latency_table_predict: table is NULL");
    DYNN_CHECK_ARG(ms, "dynn_latency_table_predict: ms is NULL");
    *ms = table->table.predict_ms(to_config(cfg, "dynn_latency_table_predict"));
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_latency_table_resolutions(const dynn_latency_table* table, int32_t* values, size_t capacity,
                                                    size_t* count) {
  return guard([&] {
    DYNN_CHECK_ARG(table, "dynn_latency_table_resolutions: table is NULL");
    return write_array(table->table.resolutions(), values, capacity, count, "dynn_latency_table_resolutions");
  });
}

// ---- accuracy predictor

DYNN_API dynn_status dynn_accuracy_predictor_load(const char* path, dynn_accuracy_predictor** out) {
  return guard([&] {
    DYNN_CHECK_ARG(path, "dynn_accuracy_predictor_load: path is NULL");
    DYNN_CHECK_ARG(out, "dynn_accuracy_predictor_load: out is NULL");
    auto h = std::unique_ptr<dynn_accuracy_predictor>(new dynn_accuracy_predictor{dynn::AccuracyPredictor::load(path)});
    *out = h.release();
    return DYNN_OK;
  });
}

DYNN_API void dynn_accuracy_predictor_free(dynn_accuracy_predictor* predictor) { delete predictor; }

DYNN_API dynn_status dynn_accuracy_predictor_predict(const dynn_accuracy_predictor* predictor, const dynn_subnet* cfg, double* out) {
  return guard([&] {
    DYNN_CHECK_ARG(predictor, "dynn_accuracy_predictor_predict: predictor is NULL");
    DYNN_CHECK_ARG(out, "dynn_accuracy_predictor_predict: out is NULL");
    *out = predictor->predictor.predict(to_config(cfg, "dynn_accuracy_predictor_predict"));
    return DYNN_OK;
  });
}

}  // extern "C"
