#include "dynn/runtime/controller.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include <fmt/format.h>

#include "core/json_strict.hpp"
#include "dynn/error.hpp"
#include "dynn/parse.hpp"
#include "dynn/runtime/controllers.hpp"

namespace dynn {

Controller::~Controller() = default;

namespace {
const char* kTargetKeys[] = {"latency_ms", "accuracy", "power_w", "energy_mj"};
}

void Targets::validate() const {
  const double v[] = {latency_ms, accuracy, power_w, energy_mj};
  for (int i = 0; i < 4; ++i) {
    if (!std::isfinite(v[i]) || v[i] < 0)
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("target {} = {}: must be a finite number >= 0 (0 = no target)", kTargetKeys[i], v[i]));
  }
  if (accuracy > 1)
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("target accuracy = {}: a fraction in [0, 1] is expected (76% is 0.76)", accuracy));
}

Targets Targets::from_json(const std::string& text) {
  const nlohmann::json j = json_strict::parse(text, "targets");
  if (!j.is_object()) throw Error(ErrorCode::Parse, "targets: a JSON object is expected");
  Targets t;
  double* f[] = {&t.latency_ms, &t.accuracy, &t.power_w, &t.energy_mj};
  for (auto it = j.begin(); it != j.end(); ++it) {
    int k = -1;
    for (int i = 0; i < 4; ++i)
      if (it.key() == kTargetKeys[i]) k = i;
    if (k < 0)
      throw Error(ErrorCode::Parse, fmt::format("targets: unknown key '{}' (known: latency_ms, accuracy, power_w, energy_mj)",
                                                ellipsize(it.key())));
    // Any finite number here; validate() below says which range each target has.
    *f[k] = json_strict::number(*it, fmt::format("targets: {}", it.key()), -DBL_MAX, DBL_MAX, ErrorCode::Parse);
  }
  t.validate();
  return t;
}

std::string Targets::to_json() const {
  nlohmann::json j = {{"latency_ms", latency_ms}, {"accuracy", accuracy}, {"power_w", power_w}, {"energy_mj", energy_mj}};
  return j.dump();
}

bool operator==(const Targets& a, const Targets& b) {
  return a.latency_ms == b.latency_ms && a.accuracy == b.accuracy && a.power_w == b.power_w && a.energy_mj == b.energy_mj;
}

int64_t KnobInfo::at_or_above(double v) const {
  if (values.empty()) {
    double c = std::ceil(v);
    if (c < static_cast<double>(min)) return min;
    if (c > static_cast<double>(max)) return max;
    return static_cast<int64_t>(c);
  }
  for (int64_t x : values)
    if (static_cast<double>(x) >= v) return x;
  return values.back();
}

int ControlContext::knob_index(const std::string& name) const {
  for (size_t i = 0; i < knobs.size(); ++i)
    if (knobs[i].name == name) return static_cast<int>(i);
  return -1;
}

int ControlContext::sensor_index(const std::string& name) const {
  for (size_t i = 0; i < sensors.size(); ++i)
    if (sensors[i].name == name) return static_cast<int>(i);
  return -1;
}

// ---------------------------------------------------------------------------------------------
// ControllerParams

nlohmann::json ControllerParams::parse(const std::string& controller, const std::string& json_text) {
  std::string t = json_text;
  if (t.find_first_not_of(" \t\r\n") == std::string::npos) t = "{}";
  try {
    return json_strict::parse(t, fmt::format("controller '{}': parameters", controller));
  } catch (const Error& e) {
    throw Error(ErrorCode::Parse, e.what());
  }
}

ControllerParams::ControllerParams(std::string controller, nlohmann::json params)
    : m_controller(std::move(controller)), m_params(std::move(params)) {
  if (m_params.is_null()) m_params = nlohmann::json::object();
  if (!m_params.is_object())
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("controller '{}': parameters must be a JSON object, got {}", m_controller, ellipsize(m_params.dump())));
}

std::string ControllerParams::label(const std::string& key) const {
  return fmt::format("controller '{}': parameter '{}'", m_controller, key);
}

void ControllerParams::fail(const std::string& key, const std::string& why) const {
  throw Error(ErrorCode::InvalidArgument, fmt::format("{}: {}", label(key), why));
}

bool ControllerParams::has(const std::string& key) const { return m_params.contains(key); }

const nlohmann::json* ControllerParams::get(const std::string& key) {
  if (std::find(m_read.begin(), m_read.end(), key) == m_read.end()) m_read.push_back(key);
  auto it = m_params.find(key);
  if (it == m_params.end()) return nullptr;
  return &*it;
}

double ControllerParams::number(const std::string& key, double def, double lo, double hi) {
  const auto* v = get(key);
  if (!v) return def;
  return json_strict::number(*v, label(key), lo, hi);
}

int64_t ControllerParams::integer(const std::string& key, int64_t def, int64_t lo, int64_t hi) {
  const auto* v = get(key);
  if (!v) return def;
  return json_strict::integer(*v, label(key), lo, hi);
}

bool ControllerParams::boolean(const std::string& key, bool def) {
  const auto* v = get(key);
  if (!v) return def;
  if (!v->is_boolean()) fail(key, fmt::format("true or false is expected, got {}", ellipsize(v->dump())));
  return v->get<bool>();
}

std::string ControllerParams::text(const std::string& key, const std::string& def, const std::vector<std::string>& allowed) {
  const auto* v = get(key);
  if (!v) return def;
  if (!v->is_string()) fail(key, fmt::format("a string is expected, got {}", ellipsize(v->dump())));
  std::string s = v->get<std::string>();
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), s) == allowed.end())
    fail(key, fmt::format("'{}' is not one of: {}", ellipsize(s), fmt::join(allowed, ", ")));
  return s;
}

std::vector<std::string> ControllerParams::texts(const std::string& key, const std::vector<std::string>& def) {
  const auto* v = get(key);
  if (!v) return def;
  if (!v->is_array()) fail(key, fmt::format("an array of strings is expected, got {}", ellipsize(v->dump())));
  std::vector<std::string> out;
  for (const auto& e : *v) {
    if (!e.is_string()) fail(key, fmt::format("an array of strings is expected, element {} is not", ellipsize(e.dump())));
    out.push_back(e.get<std::string>());
  }
  return out;
}

HardwareSetting ControllerParams::setting(const std::string& key) {
  const auto* v = get(key);
  HardwareSetting hs;
  if (!v) return hs;
  return json_strict::integer_map(*v, label(key));
}

std::map<std::string, std::string> ControllerParams::text_map(const std::string& key) {
  const auto* v = get(key);
  std::map<std::string, std::string> m;
  if (!v) return m;
  if (!v->is_object()) fail(key, fmt::format("an object {{\"name\": \"text\", ...}} is expected, got {}", ellipsize(v->dump())));
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it->is_string()) fail(key, fmt::format("'{}': a string is expected, got {}", ellipsize(it.key()), ellipsize(it->dump())));
    m[it.key()] = it->get<std::string>();
  }
  return m;
}

ControllerParams::PointRef ControllerParams::point(const std::string& key) {
  const auto* v = get(key);
  PointRef r;
  if (!v) return r;
  if (v->is_string()) {
    r.id = v->get<std::string>();
    if (r.id.empty()) fail(key, "an empty point id");
  } else if (v->is_number_integer() || v->is_number_unsigned()) {
    r.index = json_strict::integer(*v, label(key), 0, INT64_MAX);
  } else {
    fail(key, fmt::format("a point id (string) or index (integer >= 0) is expected, got {}", ellipsize(v->dump())));
  }
  return r;
}

void ControllerParams::finish() const {
  std::vector<std::string> unknown;
  for (auto it = m_params.begin(); it != m_params.end(); ++it)
    if (std::find(m_read.begin(), m_read.end(), it.key()) == m_read.end()) unknown.push_back("'" + ellipsize(it.key()) + "'");
  if (!unknown.empty()) {
    std::vector<std::string> known = m_read;
    std::sort(known.begin(), known.end());
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("controller '{}': unknown parameter(s) {} (known: {})", m_controller, fmt::join(unknown, ", "),
                            known.empty() ? std::string("none") : fmt::format("{}", fmt::join(known, ", "))));
  }
}

int resolve_point(const ControllerParams::PointRef& ref, const ControlContext& ctx, const std::string& controller) {
  if (ctx.points.empty())
    throw Error(ErrorCode::InvalidArgument, fmt::format("controller '{}': no operating points to choose from", controller));
  if (!ref.id.empty()) {
    for (size_t i = 0; i < ctx.points.size(); ++i)
      if (ctx.points[i].id == ref.id) return static_cast<int>(i);
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("controller '{}': point '{}' is not among the {} operating points", controller, ellipsize(ref.id), ctx.points.size()));
  }
  if (ref.index >= 0) {
    if (ref.index >= static_cast<int64_t>(ctx.points.size()))
      throw Error(ErrorCode::InvalidArgument, fmt::format("controller '{}': point index {} is out of range (0..{})", controller,
                                                          ref.index, ctx.points.size() - 1));
    return static_cast<int>(ref.index);
  }
  // Default: the most accurate point (the fastest of equals).
  int best = 0;
  for (size_t i = 1; i < ctx.points.size(); ++i) {
    const auto& p = ctx.points[i];
    const auto& b = ctx.points[static_cast<size_t>(best)];
    if (p.accuracy > b.accuracy || (p.accuracy == b.accuracy && p.latency_ms < b.latency_ms)) best = static_cast<int>(i);
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Registry

ControllerRegistry& ControllerRegistry::global() {
  static ControllerRegistry* r = [] {
    auto* reg = new ControllerRegistry();
    reg->register_builtins();
    return reg;
  }();
  return *r;
}

void ControllerRegistry::register_builtins() { register_builtin_controllers(*this); }

void ControllerRegistry::add(const std::string& name, const std::string& description, ControllerFactory factory, bool replace) {
  if (name.empty()) throw Error(ErrorCode::InvalidArgument, "controller registry: empty name");
  if (!factory) throw Error(ErrorCode::InvalidArgument, fmt::format("controller registry: '{}' has no factory", name));
  std::lock_guard<std::mutex> lock(m_mutex);
  for (auto& e : m_entries) {
    if (e.first == name) {
      if (!replace)
        throw Error(ErrorCode::InvalidArgument, fmt::format("controller registry: '{}' is already registered", name));
      e.second = Entry{description, std::move(factory)};
      return;
    }
  }
  m_entries.emplace_back(name, Entry{description, std::move(factory)});
}

bool ControllerRegistry::remove(const std::string& name) {
  std::lock_guard<std::mutex> lock(m_mutex);
  for (auto it = m_entries.begin(); it != m_entries.end(); ++it) {
    if (it->first == name) {
      m_entries.erase(it);
      return true;
    }
  }
  return false;
}

bool ControllerRegistry::contains(const std::string& name) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  for (const auto& e : m_entries)
    if (e.first == name) return true;
  return false;
}

std::vector<std::string> ControllerRegistry::names() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  std::vector<std::string> n;
  for (const auto& e : m_entries) n.push_back(e.first);
  std::sort(n.begin(), n.end());
  return n;
}

std::string ControllerRegistry::description(const std::string& name) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  for (const auto& e : m_entries)
    if (e.first == name) return e.second.description;
  throw Error(ErrorCode::NotFound, fmt::format("controller registry: no controller named '{}'", name));
}

std::unique_ptr<Controller> ControllerRegistry::create(const std::string& name, const std::string& params_json) const {
  return create_json(name, ControllerParams::parse(name, params_json));
}

std::unique_ptr<Controller> ControllerRegistry::create_json(const std::string& name, const nlohmann::json& params) const {
  ControllerFactory f;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    for (const auto& e : m_entries)
      if (e.first == name) f = e.second.factory;
  }
  if (!f) {
    auto n = names();
    throw Error(ErrorCode::NotFound, fmt::format("no controller named '{}' (registered: {})", name,
                                                 n.empty() ? std::string("none") : fmt::format("{}", fmt::join(n, ", "))));
  }
  ControllerParams p(name, params);
  auto c = f(p);
  if (!c) throw Error(ErrorCode::Internal, fmt::format("controller '{}': factory returned nothing", name));
  p.finish();
  return c;
}

std::unique_ptr<Controller> make_controller(const std::string& name, const std::string& params_json) {
  return ControllerRegistry::global().create(name, params_json);
}

}  // namespace dynn
