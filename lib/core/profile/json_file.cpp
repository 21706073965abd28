#include "json_file.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "dynn/error.hpp"
#include "core/io/file.hpp"
#include "core/json_strict.hpp"
#include "dynn/parse.hpp"

namespace dynn::json_file {

std::string read_text(const std::string& path, const char* what) { return io::read_text_file(path, io::kMaxTextBytes, what); }

void write_text(const std::string& path, const std::string& text, const char* what) {
  io::write_file(path, text + '\n', what);
}

void Fields::bad(const std::string& where, const std::string& what) const {
  throw Error(ErrorCode::Parse, fmt::format("{}: {}: {}", format, where, what));
}

const nlohmann::json& Fields::require(const nlohmann::json& obj, const char* key, const std::string& where) const {
  auto it = obj.find(key);
  if (it == obj.end()) bad(where, fmt::format("missing field '{}'", key));
  return *it;
}

void Fields::only(const nlohmann::json& obj, std::initializer_list<const char*> known, const std::string& where) const {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok) bad(where, fmt::format("unknown field '{}'", ellipsize(it.key())));
  }
}

double Fields::number(const nlohmann::json& v, const std::string& where, double lo, double hi) const {
  // The one checked number reader: the value is quoted as written (18446744073709551615, not 1.8e19).
  return json_strict::number(v, fmt::format("{}: {}", format, where), lo, hi, ErrorCode::Parse);
}

double Fields::number(const nlohmann::json& obj, const char* key, const std::string& where, double lo, double hi) const {
  return number(require(obj, key, where), where + "." + key, lo, hi);
}

}  // namespace dynn::json_file
