#include "dynn/error.hpp"

namespace dynn {

const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidArgument: return "invalid argument";
    case ErrorCode::NotFound: return "not found";
    case ErrorCode::BufferTooSmall: return "buffer too small";
    case ErrorCode::OutOfMemory: return "out of memory";
    case ErrorCode::Backend: return "backend error";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::Io: return "I/O error";
    case ErrorCode::Parse: return "parse error";
    case ErrorCode::PermissionDenied: return "permission denied";
    case ErrorCode::Busy: return "busy";
    case ErrorCode::Internal: return "internal error";
  }
  return "unknown error";
}

}  // namespace dynn
