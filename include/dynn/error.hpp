// dynn's error type. Every failure the library reports is a dynn::Error with a code (which the
// C ABI maps one to one onto dynn_status) and a message that names what was wrong.
#pragma once

#include <stdexcept>
#include <string>

namespace dynn {

enum class ErrorCode : int {
  InvalidArgument = -2,  // bad value, shape, name or config from the caller
  NotFound = -3,         // a file, key, knob, sensor or name that does not exist
  BufferTooSmall = -4,   // caller buffer too small (C ABI)
  OutOfMemory = -5,
  Backend = -6,          // LibTorch / oneDNN / CUDA failure
  Unsupported = -7,      // valid request this build or device cannot serve
  Io = -8,               // read/write failure
  Parse = -9,            // malformed or hostile file content
  PermissionDenied = -10,
  Busy = -11,            // resource in use or state forbids the call
  Internal = -1,
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
