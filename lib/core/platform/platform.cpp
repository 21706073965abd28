#include "dynn/platform/platform.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dynn/error.hpp"
#include "dynn/log.hpp"

namespace dynn {

Clock::~Clock() = default;

double WallClock::now() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void WallClock::sleep(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds))
    throw Error(ErrorCode::InvalidArgument, fmt::format("sleep: seconds must be finite and >= 0, got {}", seconds));
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

void VirtualClock::sleep(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds))
    throw Error(ErrorCode::InvalidArgument, fmt::format("advance: seconds must be finite and >= 0, got {}", seconds));
  m_t += seconds;
}

uint64_t CpuCluster::mask() const {
  uint64_t m = 0;
  for (int c : cpus)
    if (c >= 0 && c < 64) m |= uint64_t{1} << c;
  return m;
}

Platform::Platform(std::string name, std::shared_ptr<Clock> clock)
    : m_name(std::move(name)), m_clock(clock ? std::move(clock) : std::make_shared<WallClock>()) {}

Platform::~Platform() {
  try {
    restore();
  } catch (const std::exception& e) {
    log(LogLevel::Error, "platform '" + m_name + "': restoring hardware settings failed: " + e.what());
  }
}

namespace {
template <class Map>
std::string names_of(const Map& index) {
  std::vector<std::string> n;
  for (auto& kv : index) n.push_back(kv.first);
  return n.empty() ? std::string("(none)") : fmt::format("{}", fmt::join(n, ", "));
}
}  // namespace

Knob* Platform::find_knob(const std::string& name) noexcept {
  auto it = m_knob_index.find(name);
  return it == m_knob_index.end() ? nullptr : m_knobs[it->second].get();
}

Knob& Platform::knob(const std::string& name) {
  if (auto* k = find_knob(name)) return *k;
  throw Error(ErrorCode::NotFound, fmt::format("platform '{}' has no knob '{}'; knobs: {}", m_name, name, names_of(m_knob_index)));
}

const Knob& Platform::knob(const std::string& name) const { return const_cast<Platform*>(this)->knob(name); }

Sensor* Platform::find_sensor(const std::string& name) noexcept {
  auto it = m_sensor_index.find(name);
  return it == m_sensor_index.end() ? nullptr : m_sensors[it->second].get();
}

Sensor* Platform::find_energy_counter() noexcept {
  if (Sensor* s = find_sensor("energy.total"); s && s->available() && s->kind() == SensorKind::Counter) return s;
  for (const auto& s : m_sensors)
    if (s->name().rfind("energy.", 0) == 0 && s->kind() == SensorKind::Counter && s->available()) return s.get();
  return nullptr;
}

Sensor& Platform::sensor(const std::string& name) {
  if (auto* s = find_sensor(name)) return *s;
  throw Error(ErrorCode::NotFound,
              fmt::format("platform '{}' has no sensor '{}'; sensors: {}", m_name, name, names_of(m_sensor_index)));
}

std::vector<Knob*> Platform::knobs() const {
  std::vector<Knob*> out;
  for (auto& k : m_knobs) out.push_back(k.get());
  return out;
}
std::vector<Sensor*> Platform::sensors() const {
  std::vector<Sensor*> out;
  for (auto& s : m_sensors) out.push_back(s.get());
  return out;
}
std::vector<std::string> Platform::knob_names() const {
  std::vector<std::string> out;
  for (auto& k : m_knobs) out.push_back(k->name());
  return out;
}
std::vector<std::string> Platform::sensor_names() const {
  std::vector<std::string> out;
  for (auto& s : m_sensors) out.push_back(s->name());
  return out;
}

Knob& Platform::add_knob(std::unique_ptr<Knob> knob) {
  if (!knob) throw Error(ErrorCode::InvalidArgument, "add_knob: null knob");
  if (m_knob_index.count(knob->name()))
    throw Error(ErrorCode::InvalidArgument, fmt::format("platform '{}' already has a knob '{}'", m_name, knob->name()));
  knob->m_owner = this;
  m_knob_index[knob->name()] = m_knobs.size();
  m_knobs.push_back(std::move(knob));
  return *m_knobs.back();
}

Sensor& Platform::add_sensor(std::unique_ptr<Sensor> sensor) {
  if (!sensor) throw Error(ErrorCode::InvalidArgument, "add_sensor: null sensor");
  if (m_sensor_index.count(sensor->name()))
    throw Error(ErrorCode::InvalidArgument, fmt::format("platform '{}' already has a sensor '{}'", m_name, sensor->name()));
  auto clock = m_clock;
  sensor->m_clock = [clock] { return clock->now(); };
  m_sensor_index[sensor->name()] = m_sensors.size();
  m_sensors.push_back(std::move(sensor));
  return *m_sensors.back();
}

void Platform::bind_knob(const std::string& name, std::function<int64_t()> getter, std::function<void(int64_t)> setter) {
  auto* cb = dynamic_cast<CallbackKnob*>(&knob(name));
  if (!cb) throw Error(ErrorCode::InvalidArgument, fmt::format("knob '{}' is not a callback knob; only those can be bound", name));
  cb->bind(std::move(getter), std::move(setter));
}

namespace {
// Who is writing knobs on this thread: set_knob() sets it around the write, so the parts a
// composite knob writes through are held by the same claimant. 0 = the application.
thread_local ClaimantId t_claimant = 0;
struct AsClaimant {
  ClaimantId prev;
  explicit AsClaimant(ClaimantId who) : prev(t_claimant) { t_claimant = who; }
  ~AsClaimant() { t_claimant = prev; }
  AsClaimant(const AsClaimant&) = delete;
  AsClaimant& operator=(const AsClaimant&) = delete;
};
}  // namespace

void Platform::note_change(Knob* k) {
  std::lock_guard<std::recursive_mutex> lock(m_mutex);
  if (std::find(m_changes.begin(), m_changes.end(), k) == m_changes.end()) m_changes.push_back(k);
  m_holders[k].insert(t_claimant);
}

void Platform::note_restored(Knob* k) {
  std::lock_guard<std::recursive_mutex> lock(m_mutex);
  m_changes.erase(std::remove(m_changes.begin(), m_changes.end(), k), m_changes.end());
  m_holders.erase(k);
}

ClaimantId Platform::add_claimant(std::string name) {
  std::lock_guard<std::recursive_mutex> lock(m_mutex);
  ClaimantId id = m_next_claimant++;
  m_claimants[id] = name.empty() ? fmt::format("claimant {}", id) : std::move(name);
  return id;
}

void Platform::set_knob(ClaimantId who, Knob& k, int64_t value) {
  std::lock_guard<std::recursive_mutex> lock(m_mutex);
  if (k.m_owner != this)
    throw Error(ErrorCode::InvalidArgument, fmt::format("platform '{}': set_knob: knob '{}' belongs to another platform", m_name, k.name()));
  if (who != 0 && !m_claimants.count(who))
    throw Error(ErrorCode::InvalidArgument, fmt::format("platform '{}': set_knob: unknown claimant {}", m_name, who));
  {
    AsClaimant as(who);
    k.set(value);
  }
  if (who == 0) return;
  const uint64_t writes = k.write_count();
  for (auto& c : m_claims)
    if (c.knob == &k && c.who == who) {
      c.value = value, c.seq = ++m_claim_seq, c.writes = writes;
      return;
    }
  m_claims.push_back({&k, who, value, ++m_claim_seq, writes});
}

bool Platform::touches(const Knob* k, ClaimantId who) const {
  for (const auto& c : m_claims)
    if (c.knob == k && c.who == who) return true;
  if (auto h = m_holders.find(k); h != m_holders.end() && h->second.count(who)) return true;
  for (const Knob* p : k->m_parts)
    if (touches(p, who)) return true;
  return false;
}

void Platform::release(ClaimantId who, bool restore) {
  std::lock_guard<std::recursive_mutex> lock(m_mutex);
  auto named = m_claimants.find(who);
  const std::string name = named != m_claimants.end() ? named->second : fmt::format("claimant {}", who);
  std::vector<std::string> failures;
  // The newest value each other claimant relies on, on the knobs this one touched (before its
  // holds go): written again below where something wrote over it.
  std::vector<Claim> again;
  if (restore) {
    for (const auto& c : m_claims) {
      if (c.who == who || !touches(c.knob, who)) continue;
      auto same = std::find_if(again.begin(), again.end(), [&](const Claim& o) { return o.knob == c.knob; });
      if (same == again.end()) again.push_back(c);
      else if (c.seq > same->seq) *same = c;
    }
  }
  // Knobs nobody holds any more go back to their originals, newest change first. First, so the
  // values written again below meet the original neighbours (never min > max on the way).
  const std::vector<Knob*> changes = m_changes;  // restore() edits m_changes
  for (auto it = changes.rbegin(); it != changes.rend(); ++it) {
    Knob* k = *it;
    auto h = m_holders.find(k);
    if (h == m_holders.end() || !h->second.erase(who) || !h->second.empty()) continue;
    if (!restore) {
      h->second.insert(0);  // the application's now: restore() / ~Platform put it back
      continue;
    }
    try {
      k->restore();
    } catch (const std::exception& e) {
      failures.push_back(e.what());
      m_holders[k].insert(0);  // still owed: restore() retries
    }
  }
  std::sort(again.begin(), again.end(), [](const Claim& a, const Claim& b) { return a.seq < b.seq; });
  for (const auto& c : again) {
    if (c.knob->write_count() == c.writes) continue;  // still in force
    try {
      AsClaimant as(c.who);
      c.knob->set(c.value);
      for (auto& real : m_claims)
        if (real.knob == c.knob && real.who == c.who) real.writes = c.knob->write_count();
    } catch (const std::exception& e) {
      failures.push_back(fmt::format("writing {}'s value {} again: {}", m_claimants[c.who], c.value, e.what()));
    }
  }
  m_claims.erase(std::remove_if(m_claims.begin(), m_claims.end(), [&](const Claim& c) { return c.who == who; }), m_claims.end());
  m_claimants.erase(who);
  if (!failures.empty())
    throw Error(ErrorCode::Io, fmt::format("platform '{}': releasing {}: {} knob(s) could not be put back: {}", m_name, name,
                                           failures.size(), fmt::join(failures, "; ")));
}

std::vector<std::string> Platform::holders(const Knob& k) const {
  std::lock_guard<std::recursive_mutex> lock(m_mutex);
  std::vector<std::string> out;
  auto h = m_holders.find(&k);
  if (h == m_holders.end()) return out;
  for (ClaimantId id : h->second) {
    auto n = m_claimants.find(id);
    out.push_back(id == 0 ? std::string("application") : n != m_claimants.end() ? n->second : fmt::format("claimant {}", id));
  }
  return out;
}

void Platform::apply(const HardwareSetting& setting) {
  for (auto& [name, value] : setting) {
    Knob& k = knob(name);
    k.check(value);
    if (auto why = k.unwritable_reason(); !why.empty())
      throw Error(ErrorCode::PermissionDenied, fmt::format("apply: knob '{}' cannot be written: {}", name, why));
  }
  for (auto& [name, value] : setting) {
    Knob& k = knob(name);
    // Skip writes that change nothing (sysfs writes are slow and may need privileges).
    bool same = false;
    try {
      same = k.get() == value;
    } catch (const Error&) {
    }
    if (!same) k.set(value);
  }
}

HardwareSetting Platform::current_setting() const {
  HardwareSetting out;
  for (auto& k : m_knobs) {
    if (!k->numeric() || !k->readable()) continue;
    try {
      out[k->name()] = k->get();
    } catch (const Error&) {
    }
  }
  return out;
}

void Platform::restore() {
  std::lock_guard<std::recursive_mutex> lock(m_mutex);
  std::vector<std::string> failures;
  // Newest first, so dependent settings (setspeed after governor, min after max) unwind cleanly.
  const std::vector<Knob*> changes = m_changes;  // each successful restore drops its knob from m_changes
  for (auto it = changes.rbegin(); it != changes.rend(); ++it) {
    try {
      (*it)->restore();
    } catch (const std::exception& e) {
      failures.push_back(e.what());
    }
  }
  std::vector<Knob*> left;
  for (auto* k : m_changes)
    if (k->changed()) left.push_back(k);
  m_changes = left;
  if (!failures.empty())
    throw Error(ErrorCode::Io, fmt::format("platform '{}': {} knob(s) could not be restored: {}", m_name, failures.size(),
                                           fmt::join(failures, "; ")));
}

void Platform::idle(double seconds) { m_clock->sleep(seconds); }

std::string Platform::report() {
  std::string out = fmt::format("platform: {}\n\nknobs ({}):\n", m_name, m_knobs.size());
  out += fmt::format("  {:<32} {:>14} {:<9} {:<9} {}\n", "name", "value", "unit", "access", "allowed / reason");
  for (auto& k : m_knobs) {
    std::string value = k->readable() ? k->value_string() : "-";
    std::string access = !k->readable() ? "absent" : k->writable() ? "rw" : "ro";
    std::string why = k->writable() ? k->allowed_string() : k->unwritable_reason();
    if (why.size() > 110) why = why.substr(0, 107) + "...";
    out += fmt::format("  {:<32} {:>14} {:<9} {:<9} {}\n", k->name(), value, k->unit(), access, why);
  }
  out += fmt::format("\nsensors ({}):\n", m_sensors.size());
  out += fmt::format("  {:<32} {:>14} {:<6} {:<8} {}\n", "name", "reading", "unit", "kind", "note");
  for (auto& s : m_sensors) {
    std::string value = "-", note = s->description();
    if (auto v = s->try_read()) value = fmt::format("{:.4g}", *v);
    else note = s->last_error().empty() ? s->unavailable_reason() : s->last_error();
    if (note.size() > 110) note = note.substr(0, 107) + "...";
    out += fmt::format("  {:<32} {:>14} {:<6} {:<8} {}\n", s->name(), value, s->unit(), sensor_kind_name(s->kind()), note);
  }
  if (!m_clusters.empty()) {
    out += "\ncpu clusters:\n";
    for (auto& c : m_clusters)
      out += fmt::format("  cluster {}: cpus {} capacity {} {}\n", c.id, fmt::join(c.cpus, ","), c.capacity,
                         c.policy.empty() ? std::string("(no cpufreq policy)")
                                          : fmt::format("{} {}-{} kHz", c.policy, c.min_khz, c.max_khz));
  }
  if (!m_notes.empty()) {
    out += "\nabsent or broken:\n";
    for (auto& n : m_notes) out += "  - " + n + "\n";
  }
  return out;
}

std::string Platform::report_json() {
  nlohmann::json j;
  j["platform"] = m_name;
  j["knobs"] = nlohmann::json::array();
  for (auto& k : m_knobs) {
    nlohmann::json e;
    e["name"] = k->name();
    e["unit"] = k->unit();
    e["type"] = k->numeric() ? "numeric" : "text";
    e["description"] = k->description();
    e["readable"] = k->readable();
    e["writable"] = k->writable();
    if (!k->writable()) e["reason"] = k->unwritable_reason();
    if (k->readable()) {
      try {
        if (k->numeric()) e["value"] = k->get();
        else e["value"] = k->get_text();
      } catch (const std::exception& ex) {
        e["error"] = ex.what();
      }
    }
    if (k->numeric()) {
      if (!k->values().empty()) e["values"] = k->values();
      else {
        if (k->min_value()) e["min"] = *k->min_value();
        if (k->max_value()) e["max"] = *k->max_value();
      }
    } else {
      e["values"] = k->text_values();
    }
    j["knobs"].push_back(e);
  }
  j["sensors"] = nlohmann::json::array();
  for (auto& s : m_sensors) {
    nlohmann::json e;
    e["name"] = s->name();
    e["unit"] = s->unit();
    e["kind"] = sensor_kind_name(s->kind());
    e["description"] = s->description();
    if (auto v = s->try_read()) e["value"] = *v;
    else e["error"] = s->last_error().empty() ? s->unavailable_reason() : s->last_error();
    e["available"] = s->available();
    j["sensors"].push_back(e);
  }
  j["cpu_clusters"] = nlohmann::json::array();
  for (auto& c : m_clusters)
    j["cpu_clusters"].push_back({{"id", c.id}, {"cpus", c.cpus}, {"capacity", c.capacity}, {"policy", c.policy},
                                 {"min_khz", c.min_khz}, {"max_khz", c.max_khz}});
  j["notes"] = m_notes;
  return j.dump(2);
}

}  // namespace dynn
