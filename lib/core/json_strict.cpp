#include "core/json_strict.hpp"

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dynn/parse.hpp"

namespace dynn::json_strict {

using nlohmann::json;

json parse(std::string_view text, std::string_view what) {
  constexpr int kMaxDepth = 64;
  // One key set per open object; a key seen twice in the same object is refused.
  std::vector<std::set<std::string>> keys;
  std::string dup, too_deep;
  auto cb = [&](int depth, json::parse_event_t ev, json& parsed) {
    switch (ev) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second && dup.empty()) dup = parsed.get<std::string>();
        break;
      default:
        break;
    }
    if (depth > kMaxDepth && too_deep.empty()) too_deep = "x";
    return true;
  };
  json j;
  try {
    j = json::parse(text.begin(), text.end(), cb);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::Parse, fmt::format("{}: not valid JSON ({})", what, ellipsize(e.what(), 200)));
  }
  if (!dup.empty()) throw Error(ErrorCode::Parse, fmt::format("{}: key '{}' appears twice in one object", what, ellipsize(dup)));
  if (!too_deep.empty()) throw Error(ErrorCode::Parse, fmt::format("{}: nested deeper than {} levels", what, kMaxDepth));
  return j;
}

int64_t integer(const json& v, std::string_view what, int64_t lo, int64_t hi, ErrorCode code) {
  auto bad = [&](const char* why) {
    throw Error(code, fmt::format("{} {}: {} (expected an integer in [{}, {}])", what, why, ellipsize(v.dump()), lo, hi));
  };
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX) || static_cast<int64_t>(u) > hi || static_cast<int64_t>(u) < lo) bad("is out of range");
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) {
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) bad("is out of range");
    return x;
  }
  if (v.is_number()) bad("is not an integer");
  bad(v.is_string() ? "is a string" : "is not a number");
  return 0;
}

std::map<std::string, int64_t> integer_map(const json& v, std::string_view what, ErrorCode code) {
  if (!v.is_object())
    throw Error(code, fmt::format("{}: expected an object {{\"knob\": integer, ...}}, got {}", what, ellipsize(v.dump())));
  std::map<std::string, int64_t> out;
  for (auto it = v.begin(); it != v.end(); ++it)
    out[it.key()] = integer(it.value(), fmt::format("{}.{}", what, ellipsize(it.key())), INT64_MIN, INT64_MAX, code);
  return out;
}

double number(const json& v, std::string_view what, double lo, double hi, ErrorCode code) {
  if (!v.is_number())
    throw Error(code, fmt::format("{}: expected a number in [{}, {}], got {} {}", what, lo, hi, v.type_name(), ellipsize(v.dump())));
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) throw Error(code, fmt::format("{}: {} is outside [{}, {}]", what, ellipsize(v.dump()), lo, hi));
  return x;
}

}  // namespace dynn::json_strict
