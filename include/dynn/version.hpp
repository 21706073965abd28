#pragma once

#define DYNN_VERSION_MAJOR 0
#define DYNN_VERSION_MINOR 1
#define DYNN_VERSION_PATCH 0

namespace dynn {
// "MAJOR.MINOR.PATCH" of the library that was linked (may differ from the header's macros).
const char* version_string() noexcept;
}  // namespace dynn
