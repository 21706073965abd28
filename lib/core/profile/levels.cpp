#include "dynn/profile/levels.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dynn/error.hpp"
#include "dynn/ofa_mbv3_arch.hpp"

namespace dynn {

using nlohmann::json;

namespace {

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::Parse, fmt::format("levels JSON: {}: {}", where, what));
}

const json& require(const json& o, const char* key, const std::string& where) {
  auto it = o.find(key);
  if (it == o.end()) bad(where, fmt::format("missing field '{}'", key));
  return *it;
}

double number(const json& o, const char* key, const std::string& where, double lo, double hi) {
  const json& v = require(o, key, where);
  if (!v.is_number()) bad(where + "." + key, fmt::format("expected a number, got {}", v.dump()));
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) bad(where + "." + key, fmt::format("value {} outside [{}, {}]", x, lo, hi));
  return x;
}

}  // namespace

LevelSet LevelSet::from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::Parse, fmt::format("levels JSON: not valid JSON ({})", e.what()));
  }
  if (!j.is_object()) bad("top level", fmt::format("expected an object, got {}", j.type_name()));
  LevelSet s;
  const json& sn = require(j, "supernet", "top level");
  if (!sn.is_string()) bad("supernet", "expected a string");
  s.supernet = sn.get<std::string>();
  ofa_mbv3::width_mult_from_name(s.supernet);  // validates the name
  if (auto it = j.find("source"); it != j.end()) {
    if (!it->is_string()) bad("source", "expected a string");
    s.source = it->get<std::string>();
  }
  const json& lv = require(j, "levels", "top level");
  if (!lv.is_array()) bad("levels", fmt::format("expected an array, got {}", lv.type_name()));
  for (size_t i = 0; i < lv.size(); ++i) {
    const std::string where = fmt::format("levels[{}]", i);
    const json& e = lv[i];
    if (!e.is_object()) bad(where, fmt::format("expected an object, got {}", e.type_name()));
    Level L;
    const json& num = require(e, "level", where);
    if (!num.is_number_integer() || num.get<int64_t>() < 0 || num.get<int64_t>() > 1000)
      bad(where + ".level", fmt::format("expected a level number 0..1000, got {}", num.dump()));
    L.level = static_cast<int>(num.get<int64_t>());
    const json& arch = require(e, "arch", where);
    try {
      L.subnet = SubnetConfig::from_json(arch.dump());
    } catch (const Error& err) {
      bad(where + ".arch", err.what());
    }
    L.top1_percent = number(e, "top1_percent", where, 0, 100);
    L.latency_ms = number(e, "latency_ms", where, 0, 1e9);
    s.levels.push_back(std::move(L));
  }
  return s;
}

LevelSet LevelSet::load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(ErrorCode::NotFound, fmt::format("levels: cannot open '{}'", path));
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    return from_json(ss.str());
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{}: {}", path, e.what()));
  }
}

std::string LevelSet::to_json() const {
  json j = json::object();
  j["supernet"] = supernet;
  j["source"] = source;
  j["levels"] = json::array();
  for (const auto& L : levels) {
    json a = json::parse(L.subnet.to_json());
    j["levels"].push_back(json{{"level", L.level}, {"arch", a}, {"top1_percent", L.top1_percent}, {"latency_ms", L.latency_ms}});
  }
  return j.dump(1);
}

void LevelSet::save(const std::string& path) const {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw Error(ErrorCode::Io, fmt::format("levels: cannot write '{}'", path));
  f << to_json() << '\n';
  if (!f) throw Error(ErrorCode::Io, fmt::format("levels: write to '{}' failed", path));
}

std::vector<OperatingPoint> LevelSet::to_operating_points(const std::string& device) const {
  const ofa_mbv3::Arch arch = ofa_mbv3::Arch::for_supernet(supernet);
  std::vector<OperatingPoint> out;
  for (const auto& L : levels) {
    OperatingPoint p;
    p.id = fmt::format("L{}", L.level);
    p.subnet = L.subnet;
    p.device = device;
    p.latency_ms = p.latency_p90_ms = L.latency_ms;
    p.accuracy = L.top1_percent / 100.0;
    p.accuracy_source = AccuracySource::Published;
    p.macs = static_cast<double>(arch.macs(L.subnet));
    p.level = L.level;
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace dynn
