#include <algorithm>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "capi_internal.hpp"
#include "dynn/ofa_mbv3.hpp"
#include "dynn/threads.hpp"

struct dynn_bn_stats {
  std::map<int, dynn::BnStats> levels;
};

using namespace dynn::capi;

namespace {

dynn::SupernetOptions to_options(const dynn_supernet_params* p) {
  dynn::SupernetOptions o;
  if (!p) return o;
  if (p->struct_size < sizeof(size_t) || p->struct_size > sizeof(dynn_supernet_params))
    throw dynn::Error(dynn::ErrorCode::InvalidArgument,
                      fmt::format("dynn_supernet_params.struct_size is {}, expected {} (use dynn_supernet_default_params())",
                                  p->struct_size, sizeof(dynn_supernet_params)));
  // Read only the fields the caller's struct has.
  auto has = [&](size_t offset, size_t size) { return p->struct_size >= offset + size; };
  if (has(offsetof(dynn_supernet_params, device), sizeof(p->device)) && p->device) o.device = p->device;
  if (has(offsetof(dynn_supernet_params, num_threads), sizeof(p->num_threads))) {
    if (p->num_threads != 0) dynn::check_thread_count(p->num_threads, "dynn_supernet_params.num_threads (0 = leave as is)");
    o.num_threads = p->num_threads;
  }
  if (has(offsetof(dynn_supernet_params, cache_bytes), sizeof(p->cache_bytes)) && p->cache_bytes) o.cache_bytes = p->cache_bytes;
  if (has(offsetof(dynn_supernet_params, engine), sizeof(p->engine)) && p->engine) o.engine = p->engine;
  return o;
}

}  // namespace

dynn::SubnetConfig dynn_supernet::parse_cached(const char* text) {
  const size_t len = std::strlen(text);
  {
    std::lock_guard<std::mutex> lock(parsed_mutex);
    for (size_t i = 0; i < parsed.size(); ++i) {
      if (parsed[i].text.size() != len || std::memcmp(parsed[i].text.data(), text, len) != 0) continue;
      if (i) std::rotate(parsed.begin(), parsed.begin() + static_cast<std::ptrdiff_t>(i), parsed.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      return parsed.front().cfg;
    }
  }
  // Parsed outside the lock: a bad text throws here and is never cached.
  dynn::SubnetConfig cfg = dynn::SubnetConfig::parse(text, net->search_space());
  std::lock_guard<std::mutex> lock(parsed_mutex);
  if (parsed.size() == kParsedTexts) parsed.pop_back();
  parsed.insert(parsed.begin(), ParsedText{std::string(text, len), cfg});
  return cfg;
}

extern "C" {

DYNN_API dynn_supernet_params dynn_supernet_default_params(void) {
  dynn_supernet_params p;
  std::memset(&p, 0, sizeof(p));
  p.struct_size = sizeof(p);
  p.device = "cpu";
  p.num_threads = 0;
  p.cache_bytes = dynn::SupernetOptions{}.cache_bytes;
  p.engine = "fast";
  return p;
}

DYNN_API dynn_status dynn_supernet_load(const char* path, const dynn_supernet_params* params, dynn_supernet** out) {
  return guard([&] {
    DYNN_CHECK_ARG(path, "dynn_supernet_load: path is NULL");
    DYNN_CHECK_ARG(out, "dynn_supernet_load: out is NULL");
    auto h = std::make_unique<dynn_supernet>();
    h->net = dynn::OfaMbv3Supernet::load(path, to_options(params));
    *out = h.release();
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_supernet_create_random(double width_mult, uint64_t seed, const dynn_supernet_params* params,
                                                 dynn_supernet** out) {
  return guard([&] {
    DYNN_CHECK_ARG(out, "dynn_supernet_create_random: out is NULL");
    auto h = std::make_unique<dynn_supernet>();
    h->net = dynn::OfaMbv3Supernet::random(width_mult, seed, to_options(params));
    *out = h.release();
    return DYNN_OK;
  });
}

DYNN_API void dynn_supernet_free(dynn_supernet* net) { delete net; }

DYNN_API dynn_status dynn_supernet_set_subnet(dynn_supernet* net, const char* arch_json) {
  return guard([&] {
    DYNN_CHECK_ARG(net, "dynn_supernet_set_subnet: net is NULL");
    DYNN_CHECK_ARG(arch_json, "dynn_supernet_set_subnet: arch_json is NULL");
    net->net->set_subnet(net->parse_cached(arch_json));
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_supernet_prepare(dynn_supernet* net, const char* const* arch_jsons, size_t count) {
  return guard([&] {
    DYNN_CHECK_ARG(net, "dynn_supernet_prepare: net is NULL");
    DYNN_CHECK_ARG(arch_jsons || count == 0, "dynn_supernet_prepare: arch_jsons is NULL");
    DYNN_CHECK_ARG(count <= 4096, "dynn_supernet_prepare: more than 4096 sub-networks");
    std::vector<dynn::SubnetConfig> cfgs;
    for (size_t i = 0; i < count; ++i) {
      if (!arch_jsons[i]) return fail(DYNN_EINVAL, fmt::format("dynn_supernet_prepare: arch_jsons[{}] is NULL", i));
      cfgs.push_back(dynn::SubnetConfig::parse(arch_jsons[i], net->net->search_space()));
    }
    net->net->prepare(cfgs);
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_supernet_current_subnet(const dynn_supernet* net, char* buf, size_t size, size_t* needed) {
  return guard([&] {
    DYNN_CHECK_ARG(net, "dynn_supernet_current_subnet: net is NULL");
    return write_string(net->net->current_subnet().to_json(), buf, size, needed);
  });
}

DYNN_API int dynn_supernet_num_classes(const dynn_supernet* net) { return net ? net->net->num_classes() : 0; }

DYNN_API dynn_status dynn_supernet_infer(dynn_supernet* net, const float* input, int64_t n, int64_t c, int64_t h,
                                         int64_t w, float* logits, size_t capacity, size_t* written) {
  return guard([&] {
    DYNN_CHECK_ARG(net, "dynn_supernet_infer: net is NULL");
    DYNN_CHECK_ARG(input, "dynn_supernet_infer: input is NULL");
    DYNN_CHECK_ARG(logits, "dynn_supernet_infer: logits is NULL");
    net->net->infer(input, n, c, h, w, logits, capacity);
    if (written) *written = static_cast<size_t>(n) * static_cast<size_t>(net->net->num_classes());
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_supernet_set_subnet_config(dynn_supernet* net, const dynn_subnet* cfg) {
  return guard([&] {
    DYNN_CHECK_ARG(net, "dynn_supernet_set_subnet_config: net is NULL");
    net->net->set_subnet(to_config(cfg, "dynn_supernet_set_subnet_config"));
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_supernet_prepare_configs(dynn_supernet* net, const dynn_subnet* cfgs, size_t count) {
  return guard([&] {
    DYNN_CHECK_ARG(net, "dynn_supernet_prepare_configs: net is NULL");
    DYNN_CHECK_ARG(cfgs || count == 0, "dynn_supernet_prepare_configs: cfgs is NULL");
    DYNN_CHECK_ARG(count <= 4096, "dynn_supernet_prepare_configs: more than 4096 sub-networks");
    std::vector<dynn::SubnetConfig> v;
    for (size_t i = 0; i < count; ++i)
      v.push_back(to_config(&cfgs[i], fmt::format("dynn_supernet_prepare_configs: cfgs[{}]", i).c_str()));
    net->net->prepare(v);
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_supernet_get_subnet(const dynn_supernet* net, dynn_subnet* out) {
  return guard([&] {
    DYNN_CHECK_ARG(net, "dynn_supernet_get_subnet: net is NULL");
    DYNN_CHECK_ARG(out, "dynn_supernet_get_subnet: out is NULL");
    *out = from_config(net->net->current_config());
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_supernet_infer_config(dynn_supernet* net, const dynn_subnet* cfg, const float* input, int64_t n,
                                                int64_t c, int64_t h, int64_t w, float* logits, size_t capacity,
                                                size_t* written) {
  return guard([&] {
    DYNN_CHECK_ARG(net, "dynn_supernet_infer_config: net is NULL");
    DYNN_CHECK_ARG(input, "dynn_supernet_infer_config: input is NULL");
    DYNN_CHECK_ARG(logits, "dynn_supernet_infer_config: logits is NULL");
    net->net->infer_subnet(to_config(cfg, "dynn_supernet_infer_config"), input, n, c, h, w, logits, capacity);
    if (written) *written = static_cast<size_t>(n) * static_cast<size_t>(net->net->num_classes());
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_supernet_set_threads(dynn_supernet* net, int n) {
  return guard([&] {
    DYNN_CHECK_ARG(net, "dynn_supernet_set_threads: net is NULL");
    net->net->set_num_threads(n);  // checks the range
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_supernet_get_threads(const dynn_supernet* net, int* out) {
  return guard([&] {
    DYNN_CHECK_ARG(net, "dynn_supernet_get_threads: net is NULL");
    DYNN_CHECK_ARG(out, "dynn_supernet_get_threads: out is NULL");
    *out = net->net->num_threads();
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_supernet_set_device(dynn_supernet* net, const char* device) {
  return guard([&] {
    DYNN_CHECK_ARG(net, "dynn_supernet_set_device: net is NULL");
    DYNN_CHECK_ARG(device, "dynn_supernet_set_device: device is NULL");
    net->net->set_device(device);
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_supernet_get_device(const dynn_supernet* net, char* buf, size_t size, size_t* needed) {
  return guard([&] {
    DYNN_CHECK_ARG(net, "dynn_supernet_get_device: net is NULL");
    return write_string(net->net->device(), buf, size, needed);
  });
}

DYNN_API dynn_status dynn_supernet_get_info(const dynn_supernet* net, dynn_supernet_info* out) {
  return guard([&] {
    DYNN_CHECK_ARG(net, "dynn_supernet_get_info: net is NULL");
    DYNN_CHECK_ARG(out, "dynn_supernet_get_info: out is NULL");
    dynn_supernet_info i;
    std::memset(&i, 0, sizeof i);
    const auto& a = net->net->arch();
    auto m = net->net->memory();
    i.width_mult = a.width_mult;
    i.num_classes = net->net->num_classes();
    i.parameter_count = a.parameter_count;
    i.supernet_bytes = m.supernet_bytes;
    i.prepared_bytes = m.prepared_bytes + m.shared_bytes;
    i.cache_budget = m.cache_budget;
    i.prepared_count = m.prepared_count;
    write_struct(out, i, "dynn_supernet_info");
    return DYNN_OK;
  });
}

// ---- BN statistics

DYNN_API dynn_status dynn_bn_stats_load(const char* path, dynn_bn_stats** out) {
  return guard([&] {
    DYNN_CHECK_ARG(path, "dynn_bn_stats_load: path is NULL");
    DYNN_CHECK_ARG(out, "dynn_bn_stats_load: out is NULL");
    auto h = std::make_unique<dynn_bn_stats>();
    h->levels = dynn::load_dynamic_ofa_bn_stats(path);
    *out = h.release();
    return DYNN_OK;
  });
}

DYNN_API void dynn_bn_stats_free(dynn_bn_stats* stats) { delete stats; }

DYNN_API dynn_status dynn_bn_stats_levels(const dynn_bn_stats* stats, int32_t* levels, size_t capacity, size_t* count) {
  return guard([&] {
    DYNN_CHECK_ARG(stats, "dynn_bn_stats_levels: stats is NULL");
    std::vector<int> ids;
    for (const auto& kv : stats->levels) ids.push_back(kv.first);
    return write_array(ids, levels, capacity, count, "dynn_bn_stats_levels");
  });
}

DYNN_API dynn_status dynn_supernet_apply_bn_stats(dynn_supernet* net, const dynn_subnet* cfg, const dynn_bn_stats* stats,
                                                  int level) {
  return guard([&] {
    DYNN_CHECK_ARG(net, "dynn_supernet_apply_bn_stats: net is NULL");
    DYNN_CHECK_ARG(stats, "dynn_supernet_apply_bn_stats: stats is NULL");
    auto c = to_config(cfg, "dynn_supernet_apply_bn_stats");
    auto it = stats->levels.find(level);
    if (it == stats->levels.end()) {
      std::vector<int> ids;
      for (const auto& kv : stats->levels) ids.push_back(kv.first);
      return fail(DYNN_ENOTFOUND, fmt::format("dynn_supernet_apply_bn_stats: no level {} in the statistics (levels: {})", level,
                                              fmt::join(ids, ", ")));
    }
    net->net->set_bn_stats(c, it->second);
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_supernet_clear_bn_stats(dynn_supernet* net, const dynn_subnet* cfg) {
  return guard([&] {
    DYNN_CHECK_ARG(net, "dynn_supernet_clear_bn_stats: net is NULL");
    net->net->clear_bn_stats(to_config(cfg, "dynn_supernet_clear_bn_stats"));
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_supernet_has_bn_stats(const dynn_supernet* net, const dynn_subnet* cfg, int* out) {
  return guard([&] {
    DYNN_CHECK_ARG(net, "dynn_supernet_has_bn_stats: net is NULL");
    DYNN_CHECK_ARG(out, "dynn_supernet_has_bn_stats: out is NULL");
    *out = net->net->has_bn_stats(to_config(cfg, "dynn_supernet_has_bn_stats")) ? 1 : 0;
    return DYNN_OK;
  });
}

}  // extern "C"
