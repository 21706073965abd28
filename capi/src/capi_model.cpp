// dynn_model: the family-agnostic model handle over dynn::DynamicModel and the model registry.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "capi_internal.hpp"
#include "core/json_strict.hpp"
#include "dynn/model_registry.hpp"
#include "dynn/parse.hpp"


using namespace dynn::capi;

namespace {

dynn::SupernetOptions options_from_json(const char* text, std::string* family) {
  dynn::SupernetOptions o;
  if (!text) return o;
  const nlohmann::json j = dynn::json_strict::parse(text, "dynn_model_load options_json");
  if (!j.is_object()) invalid("dynn_model_load: options_json must be an object like {\"engine\":\"fast\"}");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const auto& v = it.value();
    auto str = [&] {
      if (!v.is_string()) invalid(fmt::format("dynn_model_load: options '{}' must be a string", k));
      return v.get<std::string>();
    };
    if (k == "device") o.device = str();
    else if (k == "engine") o.engine = str();
    else if (k == "family") *family = str();
    else if (k == "num_threads") {
      o.num_threads = static_cast<int>(dynn::json_strict::integer(v, "dynn_model_load: options 'num_threads'", 0, dynn::kMaxThreads));
    } else if (k == "cache_bytes") {
      o.cache_bytes = static_cast<size_t>(dynn::json_strict::integer(v, "dynn_model_load: options 'cache_bytes'", 1, INT64_MAX));
    } else if (k == "spin_workers") {
      if (!v.is_boolean()) invalid("dynn_model_load: options 'spin_workers' must be true or false");
      o.spin_workers = v.get<bool>();
    } else {
      invalid(fmt::format("dynn_model_load: unknown option '{}' (expected device, engine, family, num_threads, cache_bytes, spin_workers)",
                          dynn::ellipsize(k)));
    }
  }
  return o;
}

}  // namespace

extern "C" {

DYNN_API dynn_status dynn_model_load(const char* path, const char* options_json, dynn_model** out) {
  return guard([&] {
    DYNN_CHECK_ARG(out, "dynn_model_load: out is NULL");
    *out = nullptr;
    DYNN_CHECK_ARG(path, "dynn_model_load: path is NULL");
    std::string family;
    const dynn::SupernetOptions o = options_from_json(options_json, &family);
    auto h = std::make_unique<dynn_model>();
    h->model = dynn::load_model(path, o, family);
    h->family = h->model->family();
    *out = h.release();
    return DYNN_OK;
  });
}

DYNN_API void dynn_model_free(dynn_model* model) { delete model; }

DYNN_API const char* dynn_model_family(const dynn_model* model) { return model ? model->family.c_str() : nullptr; }

DYNN_API int dynn_model_num_classes(const dynn_model* model) { return model ? model->model->num_classes() : 0; }

DYNN_API dynn_status dynn_model_set_subnet(dynn_model* model, const char* subnet_json) {
  return guard([&] {
    DYNN_CHECK_ARG(model, "dynn_model_set_subnet: model is NULL");
    DYNN_CHECK_ARG(subnet_json, "dynn_model_set_subnet: subnet_json is NULL");
    model->model->set_subnet(std::string(subnet_json));
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_model_prepare(dynn_model* model, const char* const* subnet_jsons, size_t count) {
  return guard([&] {
    DYNN_CHECK_ARG(model, "dynn_model_prepare: model is NULL");
    DYNN_CHECK_ARG(subnet_jsons || count == 0, "dynn_model_prepare: subnet_jsons is NULL");
    DYNN_CHECK_ARG(count <= 4096, "dynn_model_prepare: more than 4096 sub-networks");
    std::vector<dynn::Subnet> subnets;
    for (size_t i = 0; i < count; ++i) {
      if (!subnet_jsons[i]) return fail(DYNN_EINVAL, fmt::format("dynn_model_prepare: subnet_jsons[{}] is NULL", i));
      subnets.push_back(model->model->parse_subnet(subnet_jsons[i]));
    }
    model->model->prepare(subnets);
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_model_current_subnet(const dynn_model* model, char* buf, size_t size, size_t* needed) {
  return guard([&] {
    DYNN_CHECK_ARG(model, "dynn_model_current_subnet: model is NULL");
    return write_string(model->model->current_subnet().to_json(), buf, size, needed);
  });
}

DYNN_API dynn_status dynn_model_infer(dynn_model* model, const float* input, int64_t n, int64_t c, int64_t h, int64_t w,
                                      float* logits, size_t capacity, size_t* written) {
  return guard([&] {
    DYNN_CHECK_ARG(model, "dynn_model_infer: model is NULL");
    DYNN_CHECK_ARG(input, "dynn_model_infer: input is NULL");
    DYNN_CHECK_ARG(logits, "dynn_model_infer: logits is NULL");
    model->model->infer(input, n, c, h, w, logits, capacity);
    if (written) *written = static_cast<size_t>(n) * static_cast<size_t>(model->model->num_classes());
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_model_subnet_info(const dynn_model* model, const char* subnet_json, double* macs, double* params) {
  return guard([&] {
    DYNN_CHECK_ARG(model, "dynn_model_subnet_info: model is NULL");
    const dynn::SubnetInfo i = subnet_json ? model->model->subnet_info(subnet_json)
                                           : model->model->subnet_info(model->model->current_subnet());
    if (macs) *macs = i.macs;
    if (params) *params = i.parameters;
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_model_subnet_resolution(const dynn_model* model, const char* subnet_json, int* resolution) {
  return guard([&] {
    DYNN_CHECK_ARG(model, "dynn_model_subnet_resolution: model is NULL");
    DYNN_CHECK_ARG(resolution, "dynn_model_subnet_resolution: resolution is NULL");
    *resolution = subnet_json ? model->model->subnet_info(subnet_json).resolution : model->model->current_subnet().resolution();
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_model_set_threads(dynn_model* model, int n) {
  return guard([&] {
    DYNN_CHECK_ARG(model, "dynn_model_set_threads: model is NULL");
    model->model->set_num_threads(n);
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_model_get_threads(const dynn_model* model, int* out) {
  return guard([&] {
    DYNN_CHECK_ARG(model, "dynn_model_get_threads: model is NULL");
    DYNN_CHECK_ARG(out, "dynn_model_get_threads: out is NULL");
    *out = model->model->num_threads();
    return DYNN_OK;
  });
}

}  // extern "C"
