#include "dynn/version.hpp"

namespace dynn {
const char* version_string() noexcept { return DYNN_VERSION_STRING; }
}  // namespace dynn
