#include "dynn/error.hpp"

namespace dynn {

const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
#define DYNN_ERROR_CODE_NAME(c_code, name, text) \
  case ErrorCode::name: return text;
    DYNN_STATUS_CODES(DYNN_ERROR_CODE_NAME)
#undef DYNN_ERROR_CODE_NAME
  }
  return "unknown error";
}

}  // namespace dynn
