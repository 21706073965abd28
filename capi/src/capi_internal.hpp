// Shared plumbing of the C ABI: the exception guard, the thread-local last error, the handle
// structs and the conversions between the C structs and the C++ types.
#pragma once

#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dynn/dynn.h"
#include "dynn/error.hpp"
#include "dynn/ofa_mbv3.hpp"
#include "dynn/platform/platform.hpp"
#include "dynn/platform/simulated.hpp"
#include "dynn/profile/operating_point.hpp"
#include "dynn/profile/profile.hpp"
#include "dynn/runtime/controller.hpp"
#include "dynn/subnet_config.hpp"

// Handles. A supernet, platform and controller may be shared with a manager, hence shared_ptr.
struct dynn_supernet {
  std::shared_ptr<dynn::OfaMbv3Supernet> net;
  // The last few sub-network texts dynn_supernet_set_subnet parsed, so a controller that switches
  // among its levels by JSON pays a string compare, not a parse, per warm switch.
  struct ParsedText {
    std::string text;
    dynn::SubnetConfig cfg;
  };
  std::mutex parsed_mutex;
  std::vector<ParsedText> parsed;  // most recently used first, at most kParsedTexts
  static constexpr size_t kParsedTexts = 16;
  dynn::SubnetConfig parse_cached(const char* text);
};
struct dynn_model {
  std::shared_ptr<dynn::DynamicModel> model;  // shared with a manager
  std::string family;
};
struct dynn_platform {
  std::shared_ptr<dynn::Platform> platform;
  dynn::SimulatedPlatform* sim = nullptr;  // same object when simulated
};
struct dynn_profile {
  dynn::Profile profile;
};
struct dynn_controller {
  std::shared_ptr<dynn::Controller> controller;
};

namespace dynn::capi {

void set_last_error(const std::string& msg);
void clear_last_error();
const char* last_error_cstr();
dynn_status fail(dynn_status code, const std::string& msg);

// Maps the exception in flight to a status plus message, so nothing escapes into C.
dynn_status handle_current_exception() noexcept;

template <class Fn>
dynn_status guard(Fn&& fn) noexcept {
  try {
    clear_last_error();
    return fn();
  } catch (...) {
    return handle_current_exception();
  }
}

#define DYNN_CHECK_ARG(cond, msg) \
  do { if (!(cond)) return ::dynn::capi::fail(DYNN_EINVAL, msg); } while (0)

[[noreturn]] inline void invalid(const std::string& msg) { throw Error(ErrorCode::InvalidArgument, msg); }

// String out through a caller buffer: *needed (optional) gets the size with the NUL; EBUFS when
// buf is NULL or too small (nothing written then).
dynn_status write_string(const std::string& s, char* buf, size_t size, size_t* needed);
// Array out: *count gets the number of items (always); items copied when values != NULL and
// capacity suffices, else EBUFS (values NULL: just the count, DYNN_OK).
template <class T, class U>
dynn_status write_array(const std::vector<U>& v, T* values, size_t capacity, size_t* count, const char* fn) {
  if (!count) return fail(DYNN_EINVAL, fmt::format("{}: count is NULL", fn));
  if (values && capacity < v.size()) {
    *count = v.size();
    return fail(DYNN_EBUFS, fmt::format("{}: capacity {} too small, {} needed", fn, capacity, v.size()));
  }
  if (values)
    for (size_t i = 0; i < v.size(); ++i) values[i] = static_cast<T>(v[i]);
  *count = v.size();
  return DYNN_OK;
}

// struct_size checks: an in-struct or out-struct of the caller's (older or current) header must
// at least hold struct_size and at most be ours.
template <class T>
void check_struct_size(const T* p, const char* type) {
  if (p->struct_size < sizeof(size_t) || p->struct_size > sizeof(T))
    invalid(fmt::format("{}.struct_size is {}, expected {} (set it to sizeof({}))", type, p->struct_size, sizeof(T), type));
}
// In-struct: the caller's fields over the defaults (fields are append-only).
template <class T>
T read_struct(const T* p, const T& defaults, const char* type) {
  T v = defaults;
  if (!p) return v;
  check_struct_size(p, type);
  std::memcpy(static_cast<void*>(&v), p, p->struct_size);
  v.struct_size = sizeof(T);
  return v;
}
// Out-struct: the fields that fit in the caller's struct_size; struct_size stays the caller's.
template <class T>
void write_struct(T* out, T full, const char* type) {
  check_struct_size(out, type);
  size_t n = out->struct_size;
  full.struct_size = n;
  std::memcpy(static_cast<void*>(out), &full, n);
}

// Sub-network conversions (validated against the OFA MobileNetV3 space).
SubnetConfig to_config(const dynn_subnet* c, const char* fn);
dynn_subnet from_config(const SubnetConfig& c);
// An OFA MobileNetV3 sub-network in full; another family's with only r set (ks/e/d zero).
dynn_subnet from_subnet(const Subnet& s);

// Operating points.
dynn_operating_point point_to_c(const OperatingPoint& p);
OperatingPoint point_from_c(const dynn_operating_point& p);
std::string point_string(const OperatingPoint& p, int which, const char* fn);
std::string hardware_to_json(const HardwareSetting& hw);
HardwareSetting hardware_from_json(const std::string& text, const char* what);

// "a, b,c" -> {"a","b","c"} (empty entries dropped).
std::vector<std::string> split_list(const char* text);

}  // namespace dynn::capi
