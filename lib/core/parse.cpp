#include "dynn/parse.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
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
  const std::string not_number = fmt::format("is not a number in [{}, {}]", lo, hi);
  // Plain decimal or exponent notation only: no blanks, hex floats, "nan" or "inf".
  if (text.empty() || text.find_first_not_of("0123456789.eE+-") != std::string_view::npos) bad(text, what, not_number);
  // from_chars ignores the locale (strtod reads "0.5" as 0 under a decimal-comma LC_NUMERIC set by
  // the host application); it takes no leading '+', which strtod did, so one is skipped here.
  std::string_view body = text;
  if (body[0] == '+') body.remove_prefix(1);
  if (body.empty() || body[0] == '+' || (body[0] == '-' && body.size() < text.size())) bad(text, what, not_number);
  double v = 0;
  const char* last = body.data() + body.size();
  const auto [end, ec] = std::from_chars(body.data(), last, v, std::chars_format::general);
  if (end != last) bad(text, what, not_number);
  if (ec != std::errc() || !std::isfinite(v)) bad(text, what, "is out of the range of a double");
  if (!(v >= lo && v <= hi)) bad(text, what, fmt::format("is outside [{}, {}]", lo, hi));
  return v;
}

namespace {
// Length of the well-formed UTF-8 character at s[i] (1 for ASCII), 0 if the bytes there are not one.
size_t utf8_char_len(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 && c >= 0xC2 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E && c <= 0xF4 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}
}  // namespace

std::string ellipsize(std::string_view s, size_t max_bytes) {
  // Whole characters only; a byte that is not part of a well-formed character is written as \xNN,
  // so the message stays valid UTF-8 whatever the input was.
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = utf8_char_len(s, i);
    if (i + std::max<size_t>(n, 1) > max_bytes) break;
    if (n == 0) {
      out += fmt::format("\\x{:02X}", static_cast<unsigned char>(s[i]));
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  if (i < s.size()) out += "...";
  return out;
}

}  // namespace dynn
