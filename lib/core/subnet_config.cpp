#include "dynn/subnet_config.hpp"

#include <algorithm>
#include <iterator>
#include <cctype>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/json_strict.hpp"
#include "dynn/error.hpp"
#include "dynn/parse.hpp"

namespace dynn {
namespace {

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

[[noreturn]] void invalid(const std::string& msg) { throw Error(ErrorCode::InvalidArgument, msg); }

void check_list(const char* name, const std::vector<int>& vals, size_t expected, const std::vector<int>& allowed) {
  if (vals.size() != expected)
    invalid(fmt::format("subnet config: '{}' has {} entries, expected {}", name, vals.size(), expected));
  for (size_t i = 0; i < vals.size(); ++i)
    if (!contains(allowed, vals[i]))
      invalid(fmt::format("subnet config: {}[{}] = {} is not one of {}", name, i, vals[i], allowed));
}

std::vector<int> json_int_list(const nlohmann::json& j, const char* name) {
  if (!j.is_array()) invalid(fmt::format("subnet config JSON: '{}' must be an array of integers", name));
  std::vector<int> out;
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    out.push_back(static_cast<int>(json_strict::integer(j[i], fmt::format("subnet config JSON: {}[{}]", name, i), -1000000, 1000000)));
  }
  return out;
}

int json_resolution(const nlohmann::json& j, const char* name) {
  const nlohmann::json* v = &j;
  if (j.is_array()) {
    if (j.size() != 1) invalid(fmt::format("subnet config JSON: '{}' as a list must have exactly one element", name));
    v = &j[0];
  }
  return static_cast<int>(json_strict::integer(*v, fmt::format("subnet config JSON: '{}'", name), 1, 1000000));
}

std::string digits(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (x >= 0 && x <= 9) ? static_cast<char>('0' + x) : '?';
  return s;
}

}  // namespace

SearchSpace SearchSpace::ofa_mbv3() {
  SearchSpace s;
  s.family = "ofa_mbv3";
  s.ks_values = {3, 5, 7};
  s.e_values = {3, 4, 6};
  s.d_values = {2, 3, 4};
  s.num_stages = 5;
  s.blocks_per_stage = 4;
  s.min_resolution = 32;
  s.max_resolution = 1024;
  for (int r = 128; r <= 224; r += 4) s.trained_resolutions.push_back(r);
  return s;
}

SubnetConfig SubnetConfig::uniform(int k, int e, int d, int r, const SearchSpace& space) {
  SubnetConfig c;
  c.ks.assign(static_cast<size_t>(space.num_blocks()), k);
  c.e.assign(static_cast<size_t>(space.num_blocks()), e);
  c.d.assign(static_cast<size_t>(space.num_stages), d);
  c.r = r;
  c.validate(space);
  return c;
}

SubnetConfig SubnetConfig::smallest(int r, const SearchSpace& space) {
  return uniform(space.ks_values.front(), space.e_values.front(), space.d_values.front(), r, space);
}

SubnetConfig SubnetConfig::largest(int r, const SearchSpace& space) {
  return uniform(space.ks_values.back(), space.e_values.back(), space.d_values.back(), r, space);
}

void SubnetConfig::validate(const SearchSpace& space) const {
  check_list("ks", ks, static_cast<size_t>(space.num_blocks()), space.ks_values);
  check_list("e", e, static_cast<size_t>(space.num_blocks()), space.e_values);
  check_list("d", d, static_cast<size_t>(space.num_stages), space.d_values);
  if (r < space.min_resolution || r > space.max_resolution)
    invalid(fmt::format("subnet config: resolution r = {} outside the supported range {}..{}", r,
                        space.min_resolution, space.max_resolution));
}

bool SubnetConfig::block_active(int block, const SearchSpace& space) const {
  if (block < 0 || block >= space.num_blocks()) return false;
  const int stage = block / space.blocks_per_stage;
  if (stage >= static_cast<int>(d.size())) return false;
  return block % space.blocks_per_stage < d[static_cast<size_t>(stage)];
}

int SubnetConfig::total_depth() const {
  int s = 0;
  for (int x : d) s += x;
  return s;
}

SubnetConfig SubnetConfig::canonical(const SearchSpace& space) const {
  SubnetConfig c = *this;
  for (int b = 0; b < static_cast<int>(c.ks.size()); ++b) {
    if (!block_active(b, space)) {
      c.ks[static_cast<size_t>(b)] = space.ks_values.front();
      if (b < static_cast<int>(c.e.size())) c.e[static_cast<size_t>(b)] = space.e_values.front();
    }
  }
  return c;
}

SubnetConfig SubnetConfig::from_json(const std::string& text, const SearchSpace& space) {
  nlohmann::json j;
  try {
    j = json_strict::parse(text, "subnet config JSON");  // also refuses repeated keys ({"r":224,"r":128})
  } catch (const Error& e) {
    invalid(e.what());
  }
  if (!j.is_object()) invalid("subnet config JSON: expected an object like {\"ks\":[...],\"e\":[...],\"d\":[...],\"r\":224}");
  SubnetConfig c;
  bool have_ks = false, have_e = false, have_d = false, have_r = false, have_wid = false;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (key == "ks") { c.ks = json_int_list(it.value(), "ks"); have_ks = true; }
    else if (key == "e") { c.e = json_int_list(it.value(), "e"); have_e = true; }
    else if (key == "d") { c.d = json_int_list(it.value(), "d"); have_d = true; }
    else if (key == "r" || key == "image_size") {
      if (have_r) invalid("subnet config JSON: both 'r' and 'image_size' given");
      c.r = json_resolution(it.value(), key.c_str());
      have_r = true;
    } else if (key == "wid" || key == "w") {
      if (have_wid) invalid("subnet config JSON: both 'wid' and 'w' given");
      have_wid = true;
      if (!it.value().is_null()) invalid("subnet config JSON: elastic width ('wid') is not supported by this supernet; use null");
    } else if (key == "family") {  // the family-tagged form (dynn::Subnet)
      if (!it.value().is_string() || it.value().get<std::string>() != kFamily)
        invalid(fmt::format("subnet config JSON: 'family' is {}, expected \"{}\"", ellipsize(it.value().dump()), kFamily));
    } else {
      invalid(fmt::format("subnet config JSON: unknown key '{}' (expected ks, e, d, r)", ellipsize(key)));
    }
  }
  if (!have_ks) invalid("subnet config JSON: missing 'ks'");
  if (!have_e) invalid("subnet config JSON: missing 'e'");
  if (!have_d) invalid("subnet config JSON: missing 'd'");
  if (!have_r) invalid("subnet config JSON: missing 'r' (or 'image_size')");
  c.validate(space);
  return c;
}

std::string SubnetConfig::to_json() const {
  nlohmann::json j;
  j["ks"] = ks;
  j["e"] = e;
  j["d"] = d;
  j["r"] = r;
  return j.dump();
}

std::string SubnetConfig::to_string() const {
  return fmt::format("ks={} e={} d={} r={}", digits(ks), digits(e), digits(d), r);
}

SubnetConfig SubnetConfig::parse(const std::string& text, const SearchSpace& space) {
  // Either JSON or the compact form.
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') return from_json(text, space);
  SubnetConfig c;
  static const char* const names[4] = {"ks", "e", "d", "r"};
  bool seen[4] = {false, false, false, false};
  std::istringstream in(text);
  std::string tok;
  while (in >> tok) {
    const auto eq = tok.find('=');
    if (eq == std::string::npos) invalid(fmt::format("subnet config string: token '{}' is not key=value", ellipsize(tok)));
    const std::string key = tok.substr(0, eq), val = tok.substr(eq + 1);
    const auto k = static_cast<size_t>(std::find(std::begin(names), std::end(names), key) - std::begin(names));
    if (k == 4) invalid(fmt::format("subnet config string: unknown key '{}'", ellipsize(key)));
    if (seen[k]) invalid(fmt::format("subnet config string: '{}' given twice", key));
    seen[k] = true;
    if (k == 3) {
      c.r = static_cast<int>(parse_int(val, "subnet config string: 'r'", 1, 1000000));
      continue;
    }
    std::vector<int> digits;
    if (val.empty()) invalid(fmt::format("subnet config string: '{}' is empty", key));
    for (size_t i = 0; i < val.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(val[i]))) {
        // Quote the whole character (a UTF-8 sequence), never a lone byte of it.
        size_t end = i + 1;
        while (end < val.size() && (static_cast<unsigned char>(val[end]) & 0xC0) == 0x80) ++end;
        invalid(fmt::format("subnet config string: '{}' has a non-digit '{}' at position {}", key, ellipsize(val.substr(i, end - i), 4), i));
      }
      digits.push_back(val[i] - '0');
    }
    (k == 0 ? c.ks : k == 1 ? c.e : c.d) = std::move(digits);
  }
  for (size_t k = 0; k < 4; ++k)
    if (!seen[k]) invalid(fmt::format("subnet config string: missing '{}'", names[k]));
  c.validate(space);
  return c;
}

size_t SubnetConfig::hash() const {
  const SubnetConfig c = canonical();
  size_t h = 1469598103934665603ull;
  auto mix = [&](int v) { h = (h ^ static_cast<size_t>(v + 0x9e37)) * 1099511628211ull; };
  for (int v : c.ks) mix(v);
  mix(-1);
  for (int v : c.e) mix(v);
  mix(-2);
  for (int v : c.d) mix(v);
  mix(c.r);
  return h;
}

bool operator==(const SubnetConfig& a, const SubnetConfig& b) {
  if (a.r != b.r || a.d != b.d || a.ks.size() != b.ks.size() || a.e.size() != b.e.size()) return false;
  const SubnetConfig ca = a.canonical(), cb = b.canonical();
  return ca.ks == cb.ks && ca.e == cb.e;
}

}  // namespace dynn
