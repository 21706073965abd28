#include "dynn/profile/profile.hpp"

#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json_strict.hpp"
#include "dynn/error.hpp"
#include "dynn/parse.hpp"
#include "json_file.hpp"

namespace dynn {

using nlohmann::json;

const char* accuracy_source_name(AccuracySource s) noexcept {
  switch (s) {
    case AccuracySource::Unknown: return "unknown";
    case AccuracySource::Measured: return "measured";
    case AccuracySource::Predicted: return "predicted";
    case AccuracySource::Published: return "published";
  }
  return "unknown";
}

AccuracySource accuracy_source_from_name(const std::string& name) {
  for (auto s : {AccuracySource::Unknown, AccuracySource::Measured, AccuracySource::Predicted, AccuracySource::Published})
    if (name == accuracy_source_name(s)) return s;
  throw Error(ErrorCode::Parse,
              fmt::format("accuracy source '{}' is not one of unknown, measured, predicted, published", ellipsize(name)));
}

const OperatingPoint* Profile::find(const std::string& id) const {
  for (const auto& p : points)
    if (p.id == id) return &p;
  return nullptr;
}

OperatingPoint* Profile::find(const std::string& id) {
  for (auto& p : points)
    if (p.id == id) return &p;
  return nullptr;
}

const OperatingPoint& Profile::at(const std::string& id) const {
  if (const auto* p = find(id)) return *p;
  throw Error(ErrorCode::NotFound, fmt::format("profile '{}': no operating point with id '{}'", device_name, id));
}

const OperatingPoint* Profile::find(const Subnet& subnet, const std::string& device,
                                    const HardwareSetting* hardware) const {
  for (const auto& p : points) {
    if (!device.empty() && p.device != device) continue;
    if (hardware && p.hardware != *hardware) continue;
    if (p.subnet == subnet) return &p;
  }
  return nullptr;
}

std::vector<const OperatingPoint*> Profile::with_device(const std::string& device) const {
  std::vector<const OperatingPoint*> out;
  for (const auto& p : points)
    if (p.device == device) out.push_back(&p);
  return out;
}

void Profile::add(OperatingPoint p) {
  if (p.id.empty()) throw Error(ErrorCode::InvalidArgument, "profile: operating point id must not be empty");
  if (find(p.id)) throw Error(ErrorCode::InvalidArgument, fmt::format("profile: duplicate operating point id '{}'", ellipsize(p.id)));
  p.validate(fmt::format("profile: point '{}'", ellipsize(p.id)));
  points.push_back(std::move(p));
}

void Profile::upsert(OperatingPoint p) {
  if (auto* q = find(p.id)) *q = std::move(p);
  else add(std::move(p));
}

namespace {

json opt_number(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json point_to_json(const OperatingPoint& p) {
  json j = json::object();
  j["id"] = p.id;
  j["subnet"] = json::parse(p.subnet.to_json());
  j["device"] = p.device;
  j["hardware"] = json::object();
  for (const auto& [k, v] : p.hardware) j["hardware"][k] = v;
  j["latency_ms"] = p.latency_ms;
  j["latency_p90_ms"] = p.latency_p90_ms;
  j["power_w"] = opt_number(p.power_w);
  j["energy_mj"] = opt_number(p.energy_mj);
  j["accuracy"] = p.accuracy;
  j["accuracy_source"] = accuracy_source_name(p.accuracy_source);
  j["macs"] = p.macs;
  j["level"] = p.level;
  return j;
}

const json_file::Fields F{"profile JSON"};

std::string get_string(const json& obj, const char* key, const std::string& where) {
  const json& v = F.require(obj, key, where);
  if (!v.is_string()) F.bad(where + "." + key, fmt::format("expected a string, got {}", v.type_name()));
  return v.get<std::string>();
}

std::optional<double> get_opt_number(const json& obj, const char* key, const std::string& where, double lo, double hi) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  return F.number(*it, where + "." + key, lo, hi);
}

OperatingPoint point_from_json(const json& j, size_t index, const std::string& family) {
  const std::string where = fmt::format("points[{}]", index);
  if (!j.is_object()) F.bad(where, fmt::format("expected an object, got {}", j.type_name()));
  F.only(j, {"id", "subnet", "device", "hardware", "latency_ms", "latency_p90_ms", "power_w", "energy_mj", "accuracy",
             "accuracy_source", "macs", "level"},
         where);
  OperatingPoint p;
  p.id = get_string(j, "id", where);
  if (p.id.empty()) F.bad(where + ".id", "must not be empty");
  const std::string wid = fmt::format("{} (id '{}')", where, ellipsize(p.id));
  const json& sub = F.require(j, "subnet", wid);
  try {
    p.subnet = Subnet::parse(family, sub.dump());
  } catch (const Error& e) {
    F.bad(wid + ".subnet", e.what());
  }
  p.device = get_string(j, "device", wid);
  const json& hw = F.require(j, "hardware", wid);
  p.hardware = json_strict::integer_map(hw, "profile JSON: " + wid + ".hardware", ErrorCode::Parse);
  p.latency_ms = F.number(j, "latency_ms", wid, 0, OperatingPoint::kMaxLatencyMs);
  p.latency_p90_ms = F.number(j, "latency_p90_ms", wid, 0, OperatingPoint::kMaxLatencyMs);
  p.power_w = get_opt_number(j, "power_w", wid, 0, OperatingPoint::kMaxPowerW);
  p.energy_mj = get_opt_number(j, "energy_mj", wid, 0, OperatingPoint::kMaxEnergyMj);
  p.accuracy = F.number(j, "accuracy", wid, 0, 1);
  const std::string src = get_string(j, "accuracy_source", wid);
  try {
    p.accuracy_source = accuracy_source_from_name(src);
  } catch (const Error& e) {
    F.bad(wid + ".accuracy_source", e.what());
  }
  p.macs = F.number(j, "macs", wid, 0, OperatingPoint::kMaxMacs);
  if (auto it = j.find("level"); it != j.end()) {
    p.level = static_cast<int>(json_strict::integer(*it, "profile JSON: " + wid + ".level", -1, OperatingPoint::kMaxLevel, ErrorCode::Parse));
  }
  p.validate("profile JSON: " + wid, ErrorCode::Parse);  // the device, and any check added there
  return p;
}

}  // namespace

std::string Profile::to_json(int indent) const {
  json j = json::object();
  j["format"] = "dynn-profile";
  j["version"] = kFormatVersion;
  j["device_name"] = device_name;
  j["supernet"] = supernet;
  const std::string fam = !family.empty() ? family : points.empty() ? std::string() : points.front().subnet.family();
  if (!fam.empty()) j["family"] = fam;
  j["created"] = created;
  j["notes"] = notes;
  j["points"] = json::array();
  for (const auto& p : points) j["points"].push_back(point_to_json(p));
  return j.dump(indent);
}

Profile Profile::from_json(const std::string& text) {
  const json j = json_strict::parse(text, "profile JSON");
  if (!j.is_object()) F.bad("top level", fmt::format("expected an object, got {}", j.type_name()));
  const std::string fmt_name = get_string(j, "format", "top level");
  if (fmt_name != "dynn-profile") F.bad("format", fmt::format("'{}' is not 'dynn-profile'", ellipsize(fmt_name)));
  const json& ver = F.require(j, "version", "top level");
  const int64_t version = json_strict::integer(ver, "profile JSON: version", INT64_MIN, INT64_MAX, ErrorCode::Parse);
  if (version != kFormatVersion)
    throw Error(ErrorCode::Unsupported, fmt::format("profile JSON: version {} is not supported (this build reads version {})",
                                                    version, kFormatVersion));
  F.only(j, {"format", "version", "device_name", "supernet", "family", "created", "notes", "points"}, "top level");
  Profile p;
  p.device_name = get_string(j, "device_name", "top level");
  p.supernet = get_string(j, "supernet", "top level");
  p.family = j.contains("family") ? get_string(j, "family", "top level") : std::string(SubnetConfig::kFamily);
  try {
    (void)subnet_family(p.family);
  } catch (const Error& e) {
    F.bad("family", e.what());
  }
  p.created = get_string(j, "created", "top level");
  if (j.contains("notes")) p.notes = get_string(j, "notes", "top level");
  const json& pts = F.require(j, "points", "top level");
  if (!pts.is_array()) F.bad("points", fmt::format("expected an array, got {}", pts.type_name()));
  p.points.reserve(pts.size());
  for (size_t i = 0; i < pts.size(); ++i) {
    OperatingPoint op = point_from_json(pts[i], i, p.family);
    if (p.find(op.id)) F.bad(fmt::format("points[{}].id", i), fmt::format("duplicate id '{}'", ellipsize(op.id)));
    p.points.push_back(std::move(op));
  }
  return p;
}

void Profile::save(const std::string& path) const {
  Profile copy_if_needed;
  const Profile* self = this;
  if (created.empty()) {
    copy_if_needed = *this;
    copy_if_needed.created = now_iso8601();
    self = &copy_if_needed;
  }
  const std::string text = self->to_json();
  // Points are public: one pushed with a repeated id or a NaN figure (written as null) would make
  // a file that load() refuses. Check with the reader itself before writing.
  try {
    (void)from_json(text);
  } catch (const Error& e) {
    throw Error(ErrorCode::InvalidArgument, fmt::format("profile: not saved to '{}', it would not load back: {}", path, e.what()));
  }
  json_file::write_text(path, text, "profile");
}

Profile Profile::load(const std::string& path) {
  return json_file::load(path, "profile", [](const std::string& text) { return from_json(text); });
}

std::string Profile::now_iso8601() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace dynn
