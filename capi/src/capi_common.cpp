#include <c10/util/Exception.h>

#include "capi_internal.hpp"
#include "dynn/version.hpp"
#include "dynn/threads.hpp"

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

}  // namespace dynn::capi

using namespace dynn::capi;

extern "C" {

DYNN_API const char* dynn_version(void) { return dynn::version_string(); }
DYNN_API int dynn_version_number(void) { return DYNN_VERSION_NUMBER; }

DYNN_API const char* dynn_status_string(dynn_status status) {
  switch (status) {
    case DYNN_OK: return "ok";
    case DYNN_ERROR: return "internal error";
    case DYNN_EINVAL: return "invalid argument";
    case DYNN_ENOTFOUND: return "not found";
    case DYNN_EBUFS: return "buffer too small";
    case DYNN_ENOMEM: return "out of memory";
    case DYNN_EBACKEND: return "backend error";
    case DYNN_EUNSUPPORTED: return "unsupported";
    case DYNN_EIO: return "I/O error";
    case DYNN_EPARSE: return "parse error";
    case DYNN_EPERM: return "permission denied";
    case DYNN_EBUSY: return "busy";
    default: return "unknown status";
  }
}

DYNN_API const char* dynn_last_error(void) { return last_error_cstr(); }

DYNN_API dynn_status dynn_set_num_threads(int n) {
  return guard([&] {
    DYNN_CHECK_ARG(n >= 1 && n <= 1024, "dynn_set_num_threads: n must be in 1..1024");
    dynn::set_num_threads(n);
    return DYNN_OK;
  });
}

}  // extern "C"
