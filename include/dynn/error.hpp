// dynn's error type. Every failure the library reports is a dynn::Error with a code (which the
// C ABI maps one to one onto dynn_status) and a message that names what was wrong.
#pragma once

#include <stdexcept>
#include <string>

#include "dynn/status_codes.h"

namespace dynn {

// One enumerator per C status code, same value (the table is dynn/status_codes.h):
// InvalidArgument (bad value, shape, name or config from the caller), NotFound (a file, key, knob,
// sensor or name that does not exist), BufferTooSmall (caller buffer, C ABI), OutOfMemory, Backend
// (LibTorch / oneDNN / CUDA failure), Unsupported (a valid request this build or device cannot
// serve), Io, Parse (malformed or hostile file content), PermissionDenied, Busy (resource in use or
// state forbids the call), Internal.
enum class ErrorCode : int {
#define DYNN_ERROR_CODE_ENUMERATOR(c_code, name, text) name = c_code,
  DYNN_STATUS_CODES(DYNN_ERROR_CODE_ENUMERATOR)
#undef DYNN_ERROR_CODE_ENUMERATOR
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), m_code(code) {}
  ErrorCode code() const noexcept { return m_code; }

 private:
  ErrorCode m_code;
};

// Short name of a code ("invalid argument", ...), static storage.
const char* error_code_name(ErrorCode code) noexcept;

}  // namespace dynn
