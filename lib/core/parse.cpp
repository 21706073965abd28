#include "dynn/parse.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "dynn/error.hpp"

namespace dynn {
namespace {
[[noreturn]] void bad(std::string_view text, std::string_view what, const std::string& why) {
  throw Error(ErrorCode::InvalidArgument, fmt::format("{}: '{}' {}", what, ellipsize(text), why));
}
}  // namespace

int64_t parse_int(std::string_view text, std::string_view what, int64_t lo, int64_t hi) {
  // strtoll accepts leading blanks and a '+': refuse both, so the text is exactly a decimal integer.
  const std::string s(text);
  if (s.empty()) bad(text, what, "is empty, expected an integer");
  const size_t digits = s[0] == '-' ? 1 : 0;
  if (s.size() == digits || s.find_first_not_of("0123456789", digits) != std::string::npos)
    bad(text, what, fmt::format("is not an integer in [{}, {}]", lo, hi));
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno == ERANGE || v < lo || v > hi) bad(text, what, fmt::format("is outside [{}, {}]", lo, hi));
  return static_cast<int64_t>(v);
}

double parse_double(std::string_view text, std::string_view what, double lo, double hi) {
  const std::string s(text);
  // Plain decimal or exponent notation only: no blanks, hex floats, "nan" or "inf".
  if (s.empty() || s.find_first_not_of("0123456789.eE+-") != std::string::npos)
    bad(text, what, fmt::format("is not a number in [{}, {}]", lo, hi));
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) bad(text, what, fmt::format("is not a number in [{}, {}]", lo, hi));
  if (!std::isfinite(v) || (errno == ERANGE && std::fabs(v) > 1)) bad(text, what, "is out of the range of a double");
  if (!(v >= lo && v <= hi)) bad(text, what, fmt::format("is outside [{}, {}]", lo, hi));
  return v;
}

std::string ellipsize(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  size_t cut = max_bytes;
  // Back up over UTF-8 continuation bytes (10xxxxxx) so the cut lands on a character start.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "...";
}

}  // namespace dynn
