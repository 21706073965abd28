// Internal helpers shared by the JSON file formats of profiles and level sets: reading and
// writing whole files, and checked field access whose errors name the format, field and value.
#pragma once

#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

#include "dynn/error.hpp"

namespace dynn::json_file {

// The whole file; Error(NotFound) "<what>: cannot open '<path>'".
std::string read_text(const std::string& path, const char* what);

// Parses the file with parse(text); errors from it get the path prepended (same code).
template <class Parse>
auto load(const std::string& path, const char* what, Parse&& parse) -> decltype(parse(std::string())) {
  const std::string text = read_text(path, what);
  try {
    return parse(text);
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  }
}

// Writes text and a newline to path.tmp, then renames it over path, so a reader never sees a
// half-written file. Error(Io) naming the file.
void write_text(const std::string& path, const std::string& text, const char* what);

// Checked access to the fields of one format ("profile JSON", "levels JSON"): every failure is
// Error(Parse) "<format>: <where>: <what>".
struct Fields {
  const char* format;
  [[noreturn]] void bad(const std::string& where, const std::string& what) const;
  const nlohmann::json& require(const nlohmann::json& obj, const char* key, const std::string& where) const;
  // Every field of obj is one of `known`: a misspelt field is an error, never silently ignored.
  void only(const nlohmann::json& obj, std::initializer_list<const char*> known, const std::string& where) const;
  // A finite number in [lo, hi]: the value itself, or obj[key] (where + "." + key in errors).
  double number(const nlohmann::json& v, const std::string& where, double lo, double hi) const;
  double number(const nlohmann::json& obj, const char* key, const std::string& where, double lo, double hi) const;
};

}  // namespace dynn::json_file
