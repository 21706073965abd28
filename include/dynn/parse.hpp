// Checked number parsing for command-line options and configuration text: the whole text must be
// the number (no trailing garbage, no NaN or inf) and inside [lo, hi]; otherwise
// Error(InvalidArgument) naming `what` (an option such as "--population" or a field) and the text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dynn {

int64_t parse_int(std::string_view text, std::string_view what, int64_t lo, int64_t hi);
double parse_double(std::string_view text, std::string_view what, double lo, double hi);

// At most max_bytes of s for quoting user input in an error message, cut at a UTF-8 character
// boundary (never inside a multi-byte character), "..." appended when cut. Bytes that are not
// part of a well-formed UTF-8 character are written as \xNN, so the result is always valid UTF-8.
std::string ellipsize(std::string_view s, size_t max_bytes = 60);

}  // namespace dynn
