#include <c10/util/Exception.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "capi_internal.hpp"
#include "core/json_strict.hpp"
#include "dynn/log.hpp"
#include "dynn/threads.hpp"
#include "dynn/ofa_mbv3_arch.hpp"
#include "dynn/version.hpp"

namespace dynn::capi {
namespace {
thread_local std::string t_last_error;
}

void set_last_error(const std::string& msg) { t_last_error = msg; }
void clear_last_error() { t_last_error.clear(); }
const char* last_error_cstr() { return t_last_error.c_str(); }

dynn_status fail(dynn_status code, const std::string& msg) {
  t_last_error = msg;
  return code;
}

dynn_status handle_current_exception() noexcept {
  try {
    throw;
  } catch (const dynn::Error& e) {
    t_last_error = e.what();
    return static_cast<dynn_status>(e.code());
  } catch (const c10::Error& e) {
    t_last_error = std::string("LibTorch: ") + e.what_without_backtrace();
    return DYNN_EBACKEND;
  } catch (const std::bad_alloc&) {
    t_last_error = "out of memory";
    return DYNN_ENOMEM;
  } catch (const std::exception& e) {
    t_last_error = e.what();
    return DYNN_ERROR;
  } catch (...) {
    t_last_error = "unknown exception";
    return DYNN_ERROR;
  }
}

dynn_status write_string(const std::string& s, char* buf, size_t size, size_t* needed) {
  if (needed) *needed = s.size() + 1;
  if (!buf || size < s.size() + 1)
    return fail(DYNN_EBUFS, fmt::format("buffer of {} bytes too small, {} needed", buf ? size : 0, s.size() + 1));
  std::memcpy(buf, s.c_str(), s.size() + 1);
  return DYNN_OK;
}

SubnetConfig to_config(const dynn_subnet* c, const char* fn) {
  if (!c) invalid(fmt::format("{}: sub-network is NULL", fn));
  SubnetConfig s;
  s.ks.assign(c->ks, c->ks + DYNN_OFA_NUM_BLOCKS);
  s.e.assign(c->e, c->e + DYNN_OFA_NUM_BLOCKS);
  s.d.assign(c->d, c->d + DYNN_OFA_NUM_STAGES);
  s.r = c->r;
  try {
    s.validate();
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{}: {}", fn, e.what()));
  }
  return s;
}

dynn_subnet from_config(const SubnetConfig& c) {
  if (c.ks.size() != DYNN_OFA_NUM_BLOCKS || c.e.size() != DYNN_OFA_NUM_BLOCKS || c.d.size() != DYNN_OFA_NUM_STAGES)
    throw Error(ErrorCode::Unsupported, fmt::format("sub-network with {} blocks and {} stages does not fit dynn_subnet (20 and 5)",
                                                    c.ks.size(), c.d.size()));
  dynn_subnet out;
  std::memset(&out, 0, sizeof out);
  for (size_t i = 0; i < DYNN_OFA_NUM_BLOCKS; ++i) out.ks[i] = c.ks[i], out.e[i] = c.e[i];
  for (size_t i = 0; i < DYNN_OFA_NUM_STAGES; ++i) out.d[i] = c.d[i];
  out.r = c.r;
  return out;
}

dynn_subnet from_subnet(const Subnet& s) {
  if (const SubnetConfig* c = s.get<SubnetConfig>()) return from_config(*c);
  dynn_subnet out;  // another family: only the resolution fits the struct (the JSON is DYNN_POINT_SUBNET)
  std::memset(&out, 0, sizeof out);
  out.r = s.resolution();
  return out;
}

dynn_operating_point point_to_c(const OperatingPoint& p) {
  dynn_operating_point o;
  std::memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.subnet = from_subnet(p.subnet);
  o.latency_ms = p.latency_ms;
  o.latency_p90_ms = p.latency_p90_ms;
  o.power_w = p.power_w ? *p.power_w : NAN;
  o.energy_mj = p.energy_mj ? *p.energy_mj : NAN;
  o.accuracy = p.accuracy;
  o.macs = p.macs;
  o.level = p.level;
  o.accuracy_source = static_cast<int32_t>(p.accuracy_source);
  return o;
}

OperatingPoint point_from_c(const dynn_operating_point& c) {
  OperatingPoint p;
  p.subnet = to_config(&c.subnet, "dynn_operating_point.subnet");
  p.latency_ms = c.latency_ms;
  p.latency_p90_ms = c.latency_p90_ms;
  if (!std::isnan(c.power_w)) p.power_w = c.power_w;  // NaN: not measured
  if (!std::isnan(c.energy_mj)) p.energy_mj = c.energy_mj;
  p.accuracy = c.accuracy;
  p.macs = c.macs;
  p.level = c.level;
  if (c.accuracy_source < DYNN_ACCURACY_UNKNOWN || c.accuracy_source > DYNN_ACCURACY_PUBLISHED)
    invalid(fmt::format("dynn_operating_point.accuracy_source is {}, must be a DYNN_ACCURACY_* value (0..3)", c.accuracy_source));
  p.accuracy_source = static_cast<AccuracySource>(c.accuracy_source);
  return p;  // the caller sets id and device, then validate()s

}

std::string hardware_to_json(const HardwareSetting& hw) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& kv : hw) j[kv.first] = kv.second;
  return j.dump();
}

HardwareSetting hardware_from_json(const std::string& text, const char* what) {
  return json_strict::integer_map(json_strict::parse(text, what), what);
}

std::string point_string(const OperatingPoint& p, int which, const char* fn) {
  switch (which) {
    case DYNN_POINT_ID: return p.id;
    case DYNN_POINT_DEVICE: return p.device;
    case DYNN_POINT_HARDWARE: return hardware_to_json(p.hardware);
    case DYNN_POINT_SUBNET: return p.subnet.to_json();
    case DYNN_POINT_FAMILY: return p.subnet.family();
    default:
      invalid(fmt::format("{}: which is {}, expected DYNN_POINT_ID, _DEVICE, _HARDWARE, _SUBNET or _FAMILY (0..4)", fn, which));
  }
}

std::vector<std::string> split_list(const char* text) {
  std::vector<std::string> out;
  if (!text) return out;
  std::string cur;
  auto flush = [&] {
    size_t b = cur.find_first_not_of(" \t\n"), e = cur.find_last_not_of(" \t\n");
    if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
    cur.clear();
  };
  for (const char* c = text; *c; ++c) {
    if (*c == ',') flush();
    else cur += *c;
  }
  flush();
  return out;
}

}  // namespace dynn::capi

using namespace dynn::capi;

namespace {
// The C sink: the function pointer and user data live together so a swap is atomic under the
// logger's mutex.
struct CSink {
  dynn_log_fn fn;
  void* user_data;
};
}  // namespace

extern "C" {

DYNN_API const char* dynn_version(void) { return dynn::version_string(); }
DYNN_API int dynn_version_number(void) { return DYNN_VERSION_NUMBER; }

DYNN_API const char* dynn_status_string(dynn_status status) {
  if (status == DYNN_OK) return "ok";
  switch (status) {
#define DYNN_STATUS_NAME(c_code, name, text) \
  case c_code: return text;
    DYNN_STATUS_CODES(DYNN_STATUS_NAME)
#undef DYNN_STATUS_NAME
    default: return "unknown status";
  }
}

DYNN_API const char* dynn_last_error(void) { return last_error_cstr(); }

DYNN_API dynn_status dynn_set_num_threads(int n) {
  return guard([&] {
    dynn::set_num_threads(n);  // checks the range (1..1024)
    return DYNN_OK;
  });
}

DYNN_API void dynn_log_set(dynn_log_fn fn, void* user_data) {
  try {
    if (!fn) {
      dynn::set_log_sink(nullptr);
      return;
    }
    CSink sink{fn, user_data};
    dynn::set_log_sink([sink](dynn::LogLevel level, const std::string& msg) { sink.fn(static_cast<int>(level), msg.c_str(), sink.user_data); });
  } catch (...) {
    // std::function allocation failed: keep the previous sink.
  }
}

DYNN_API dynn_status dynn_log_set_level(int level) {
  return guard([&] {
    DYNN_CHECK_ARG(level >= DYNN_LOG_DEBUG && level <= DYNN_LOG_OFF,
                   fmt::format("dynn_log_set_level: level {} is not DYNN_LOG_DEBUG..DYNN_LOG_OFF (0..4)", level));
    dynn::set_log_level(static_cast<dynn::LogLevel>(level));
    return DYNN_OK;
  });
}

// ---- sub-networks

DYNN_API dynn_status dynn_subnet_parse(const char* text, dynn_subnet* out) {
  return guard([&] {
    DYNN_CHECK_ARG(text, "dynn_subnet_parse: text is NULL");
    DYNN_CHECK_ARG(out, "dynn_subnet_parse: out is NULL");
    *out = from_config(dynn::SubnetConfig::parse(text));
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_subnet_uniform(int ks, int e, int d, int r, dynn_subnet* out) {
  return guard([&] {
    DYNN_CHECK_ARG(out, "dynn_subnet_uniform: out is NULL");
    auto c = dynn::SubnetConfig::uniform(ks, e, d, r);
    c.validate();
    *out = from_config(c);
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_subnet_validate(const dynn_subnet* cfg) {
  return guard([&] {
    to_config(cfg, "dynn_subnet_validate");
    return DYNN_OK;
  });
}

DYNN_API dynn_status dynn_subnet_to_json(const dynn_subnet* cfg, char* buf, size_t size, size_t* needed) {
  return guard([&] { return write_string(to_config(cfg, "dynn_subnet_to_json").to_json(), buf, size, needed); });
}

DYNN_API dynn_status dynn_subnet_macs(const dynn_subnet* cfg, double width_mult, int64_t* out) {
  return guard([&] {
    DYNN_CHECK_ARG(out, "dynn_subnet_macs: out is NULL");
    DYNN_CHECK_ARG(std::isfinite(width_mult) && width_mult > 0 && width_mult <= 8,
                   fmt::format("dynn_subnet_macs: width_mult {} outside (0, 8]", width_mult));
    *out = dynn::ofa_mbv3::count_macs(to_config(cfg, "dynn_subnet_macs"), width_mult);
    return DYNN_OK;
  });
}

}  // extern "C"
