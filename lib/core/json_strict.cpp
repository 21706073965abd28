#include "core/json_strict.hpp"

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dynn/parse.hpp"

namespace dynn::json_strict {

using nlohmann::json;

namespace {

constexpr size_t kMaxDepth = 64;

// A SAX handler that builds the document (as nlohmann's own DOM parser does) and refuses, at the
// point where it happens and naming the path: a repeated key, nesting deeper than kMaxDepth, and an
// integer literal too large for 64 bits (nlohmann would keep it as a rounded double, so a knob or
// a resolution would show up as 1.8446744073709552e+19 instead of the text written).
class StrictBuilder {
 public:
  explicit StrictBuilder(std::string_view what) : m_what(what) {}

  json& result() { return m_root; }
  const std::string& error() const { return m_error; }

  bool null() { return add(nullptr); }
  bool boolean(bool v) { return add(v); }
  bool number_integer(json::number_integer_t v) { return add(v); }
  bool number_unsigned(json::number_unsigned_t v) { return add(v); }
  bool number_float(json::number_float_t v, const json::string_t& text) {
    // Only digits (and a sign): an integer literal the lexer could not hold in 64 bits.
    if (text.find_first_not_of("-0123456789") == std::string::npos)
      fail(fmt::format("integer {}{} does not fit in 64 bits", ellipsize(text), at()));
    return add(v);
  }
  bool string(json::string_t& v) { return add(std::move(v)); }
  bool binary(json::binary_t& v) { return add(std::move(v)); }

  bool start_object(std::size_t) { return open(json::value_t::object); }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(json::value_t::array); }
  bool end_array() { return close(); }

  bool key(json::string_t& k) {
    Frame& f = m_frames.back();
    if (!f.keys.insert(k).second)
      fail(fmt::format("key '{}' appears twice in {}", ellipsize(k), f.path.empty() ? "the top-level object" : "the object at '" + f.path + "'"));
    f.key = k;
    m_slot = &(*f.value)[k];
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    m_error = ellipsize(e.what(), 200);
    return false;
  }

 private:
  struct Frame {
    json* value;
    std::string path;  // "points[3].hardware": where this container sits, for messages
    std::set<std::string> keys;
    std::string key;  // the key whose value is being read (objects)
  };

  [[noreturn]] void fail(const std::string& why) const { throw Error(ErrorCode::Parse, fmt::format("{}: {}", m_what, why)); }

  // The path of the value being read now ("" at the top).
  std::string child_path() const {
    if (m_frames.empty()) return {};
    const Frame& f = m_frames.back();
    if (f.value->is_array()) return fmt::format("{}[{}]", f.path, f.value->size());
    return f.path.empty() ? ellipsize(f.key) : f.path + "." + ellipsize(f.key);
  }
  std::string at() const {
    const std::string p = child_path();
    return p.empty() ? std::string() : " at '" + p + "'";
  }

  template <class V>
  bool add(V&& v) {
    place(json(std::forward<V>(v)));
    return true;
  }

  json* place(json&& v) {
    if (m_frames.empty()) {
      m_root = std::move(v);
      return &m_root;
    }
    json* parent = m_frames.back().value;
    if (parent->is_array()) {
      parent->get_ref<json::array_t&>().push_back(std::move(v));
      return &parent->get_ref<json::array_t&>().back();
    }
    *m_slot = std::move(v);
    return m_slot;
  }

  bool open(json::value_t type) {
    if (m_frames.size() >= kMaxDepth) fail(fmt::format("nested deeper than {} levels{}", kMaxDepth, at()));
    std::string path = child_path();
    // A child's address is stable while it is open: its parent grows only after it closes.
    json* v = place(json(type));
    m_frames.push_back(Frame{v, std::move(path), {}, {}});
    return true;
  }

  bool close() {
    m_frames.pop_back();
    return true;
  }

  std::string_view m_what;
  json m_root;
  std::vector<Frame> m_frames;
  json* m_slot = nullptr;
  std::string m_error;
};

}  // namespace

json parse(std::string_view text, std::string_view what) {
  StrictBuilder b(what);
  const bool ok = json::sax_parse(text.begin(), text.end(), &b);
  if (!ok) {
    const std::string why = b.error().empty() ? std::string("incomplete document") : b.error();
    throw Error(ErrorCode::Parse, fmt::format("{}: not valid JSON ({})", what, why));
  }
  return std::move(b.result());
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
