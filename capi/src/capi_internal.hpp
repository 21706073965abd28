// Shared plumbing of the C ABI: the exception guard and the thread-local last error.
#pragma once

#include <new>
#include <string>

#include "dynn/dynn.h"
#include "dynn/error.hpp"

namespace dynn::capi {

void set_last_error(const std::string& msg);
void clear_last_error();
const char* last_error_cstr();
dynn_status fail(dynn_status code, const std::string& msg);

// Runs fn (returning dynn_status) and maps every exception to a status plus message, so nothing
// escapes into C.
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

}  // namespace dynn::capi
