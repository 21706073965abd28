#include <cstring>

#include <fmt/format.h>

#include "capi_internal.hpp"
#include "dynn/ofa_mbv3.hpp"

struct dynn_supernet {
  std::unique_ptr<dynn::OfaMbv3Supernet> net;
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
    if (p->num_threads < 0 || p->num_threads > 1024)
      throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("num_threads {} outside 0..1024", p->num_threads));
    o.num_threads = p->num_threads;
  }
  if (has(offsetof(dynn_supernet_params, cache_bytes), sizeof(p->cache_bytes)) && p->cache_bytes) o.cache_bytes = p->cache_bytes;
  if (has(offsetof(dynn_supernet_params, engine), sizeof(p->engine)) && p->engine) o.engine = p->engine;
  return o;
}

dynn_status write_string(const std::string& s, char* buf, size_t size, size_t* needed) {
  if (needed) *needed = s.size() + 1;
  if (!buf || size < s.size() + 1)
    return fail(DYNN_EBUFS, fmt::format("buffer of {} bytes too small, {} needed", buf ? size : 0, s.size() + 1));
  std::memcpy(buf, s.c_str(), s.size() + 1);
  return DYNN_OK;
}

}  // namespace

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
    net->net->set_subnet(dynn::SubnetConfig::parse(arch_json, net->net->search_space()));
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

}  // extern "C"
