#include "dynn/profile/levels.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dynn/error.hpp"
#include "dynn/ofa_mbv3_arch.hpp"
#include "json_file.hpp"
#include "core/json_strict.hpp"

namespace dynn {

using nlohmann::json;

namespace {
const json_file::Fields F{"levels JSON"};
}  // namespace

LevelSet LevelSet::from_json(const std::string& text) {
  const json j = json_strict::parse(text, "levels JSON");
  if (!j.is_object()) F.bad("top level", fmt::format("expected an object, got {}", j.type_name()));
  F.only(j, {"supernet", "source", "levels"}, "top level");
  LevelSet s;
  const json& sn = F.require(j, "supernet", "top level");
  if (!sn.is_string()) F.bad("supernet", "expected a string");
  s.supernet = sn.get<std::string>();
  try {
    ofa_mbv3::width_mult_from_name(s.supernet);  // validates the name
  } catch (const Error& e) {
    F.bad("supernet", e.what());
  }
  if (auto it = j.find("source"); it != j.end()) {
    if (!it->is_string()) F.bad("source", "expected a string");
    s.source = it->get<std::string>();
  }
  const json& lv = F.require(j, "levels", "top level");
  if (!lv.is_array()) F.bad("levels", fmt::format("expected an array, got {}", lv.type_name()));
  // An empty set leaves a controller nothing to choose from: refused here, not crashed on later.
  if (lv.empty()) F.bad("levels", "the array is empty (a level set needs at least one level)");
  for (size_t i = 0; i < lv.size(); ++i) {
    const std::string where = fmt::format("levels[{}]", i);
    const json& e = lv[i];
    if (!e.is_object()) F.bad(where, fmt::format("expected an object, got {}", e.type_name()));
    F.only(e, {"level", "arch", "top1_percent", "latency_ms"}, where);
    Level L;
    L.level = static_cast<int>(json_strict::integer(F.require(e, "level", where), "levels JSON: " + where + ".level", 0, 1000,
                                                    ErrorCode::Parse));
    for (const auto& other : s.levels)
      if (other.level == L.level) F.bad(where + ".level", fmt::format("level {} appears twice", L.level));
    const json& arch = F.require(e, "arch", where);
    try {
      L.subnet = SubnetConfig::from_json(arch.dump());
    } catch (const Error& err) {
      F.bad(where + ".arch", err.what());
    }
    L.top1_percent = F.number(e, "top1_percent", where, 0, 100);
    L.latency_ms = F.number(e, "latency_ms", where, 0, 1e9);
    s.levels.push_back(std::move(L));
  }
  return s;
}

void LevelSet::validate() const {
  auto bad = [](const std::string& msg) { throw Error(ErrorCode::InvalidArgument, "level set: " + msg); };
  try {
    ofa_mbv3::width_mult_from_name(supernet);
  } catch (const Error& e) {
    bad(e.what());
  }
  if (levels.empty()) bad("no levels (a level set needs at least one level)");
  for (size_t i = 0; i < levels.size(); ++i) {
    const Level& L = levels[i];
    if (L.level < 0 || L.level > 1000) bad(fmt::format("levels[{}].level = {} is outside [0, 1000]", i, L.level));
    for (size_t k = 0; k < i; ++k)
      if (levels[k].level == L.level) bad(fmt::format("levels[{}].level: level {} appears twice", i, L.level));
    try {
      L.subnet.validate();
    } catch (const Error& e) {
      bad(fmt::format("levels[{}].arch: {}", i, e.what()));
    }
    if (!(L.top1_percent >= 0 && L.top1_percent <= 100)) bad(fmt::format("levels[{}].top1_percent = {} is outside [0, 100]", i, L.top1_percent));
    if (!(L.latency_ms >= 0 && L.latency_ms <= 1e9)) bad(fmt::format("levels[{}].latency_ms = {} is outside [0, 1e9]", i, L.latency_ms));
  }
}

LevelSet LevelSet::load(const std::string& path) {
  return json_file::load(path, "levels", [](const std::string& text) { return from_json(text); });
}

std::string LevelSet::to_json() const {
  validate();
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

void LevelSet::save(const std::string& path) const { json_file::write_text(path, to_json(), "levels"); }

std::vector<OperatingPoint> LevelSet::to_operating_points(const std::string& device) const {
  validate();
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
