#include "dynn/platform/knob.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "core/platform/restore_table.hpp"
#include "dynn/error.hpp"
#include "dynn/platform/platform.hpp"

namespace dynn {

bool is_frequency_unit(const std::string& unit) { return unit == "Hz" || unit == "kHz" || unit == "MHz"; }

double frequency_mhz(int64_t value, const std::string& unit) {
  const double v = static_cast<double>(value);
  if (unit == "Hz") return v / 1e6;
  if (unit == "kHz") return v / 1e3;
  if (unit == "MHz") return v;
  return std::numeric_limits<double>::quiet_NaN();
}

bool is_pinned_frequency_knob(const std::string& name, const std::string& unit) {
  static const std::string suffix = ".freq";
  return is_frequency_unit(unit) && name.size() > suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Knob::Knob(KnobSpec spec) : m_spec(std::move(spec)) {
  if (m_spec.name.empty()) throw Error(ErrorCode::InvalidArgument, "knob name must not be empty");
  std::sort(m_spec.values.begin(), m_spec.values.end());
  m_spec.values.erase(std::unique(m_spec.values.begin(), m_spec.values.end()), m_spec.values.end());
}

Knob::~Knob() { forget_original(); }

std::optional<int64_t> Knob::min_value() const {
  if (!m_spec.values.empty()) return m_spec.values.front();
  return m_spec.min;
}
std::optional<int64_t> Knob::max_value() const {
  if (!m_spec.values.empty()) return m_spec.values.back();
  return m_spec.max;
}

std::string Knob::allowed_string() const {
  if (m_spec.type == KnobType::Text)
    return m_spec.text_values.empty() ? "any text" : fmt::format("{}", fmt::join(m_spec.text_values, ", "));
  if (!m_spec.values.empty()) return fmt::format("{}", fmt::join(m_spec.values, ", "));
  if (m_spec.min || m_spec.max)
    return fmt::format("{}..{}", m_spec.min ? std::to_string(*m_spec.min) : "", m_spec.max ? std::to_string(*m_spec.max) : "");
  return "any integer";
}

std::string Knob::unwritable_reason() const {
  if (!m_unavailable.empty()) return m_unavailable;
  if (!m_unwritable.empty()) return m_unwritable;
  return write_blocker();
}

int64_t Knob::get() const {
  if (m_spec.type != KnobType::Numeric)
    throw Error(ErrorCode::Unsupported, fmt::format("knob '{}' is a text knob; use get_text()", name()));
  if (!readable()) throw Error(ErrorCode::Unsupported, fmt::format("knob '{}' is unavailable: {}", name(), m_unavailable));
  return read_numeric();
}

std::string Knob::get_text() const {
  if (!readable()) throw Error(ErrorCode::Unsupported, fmt::format("knob '{}' is unavailable: {}", name(), m_unavailable));
  if (m_spec.type == KnobType::Numeric) return std::to_string(read_numeric());
  return read_text();
}

std::string Knob::value_string() const {
  if (!readable()) return "<unavailable: " + m_unavailable + ">";
  try {
    return get_text();
  } catch (const std::exception& e) {
    return std::string("<error: ") + e.what() + ">";
  }
}

void Knob::check(int64_t value) const {
  if (m_spec.type != KnobType::Numeric)
    throw Error(ErrorCode::InvalidArgument, fmt::format("knob '{}' is a text knob (allowed: {}); got the number {}",
                                                        name(), allowed_string(), value));
  if (!m_spec.values.empty()) {
    if (!std::binary_search(m_spec.values.begin(), m_spec.values.end(), value))
      throw Error(ErrorCode::InvalidArgument, fmt::format("knob '{}': value {} {} is not allowed; allowed values: {}",
                                                          name(), value, unit(), allowed_string()));
  } else if ((m_spec.min && value < *m_spec.min) || (m_spec.max && value > *m_spec.max)) {
    throw Error(ErrorCode::InvalidArgument, fmt::format("knob '{}': value {} {} is outside the allowed range {}",
                                                        name(), value, unit(), allowed_string()));
  }
  validate_extra(value);
}

void Knob::check_text(const std::string& value) const {
  if (m_spec.type != KnobType::Text) {
    // Numeric knobs accept their number written as text.
    size_t pos = 0;
    long long v = 0;
    try {
      v = std::stoll(value, &pos);
    } catch (const std::exception&) {
      pos = 0;
    }
    if (pos == 0 || pos != value.size())
      throw Error(ErrorCode::InvalidArgument, fmt::format("knob '{}' is numeric ({}); '{}' is not an integer", name(), unit(), value));
    check(v);
    return;
  }
  if (!m_spec.text_values.empty() &&
      std::find(m_spec.text_values.begin(), m_spec.text_values.end(), value) == m_spec.text_values.end())
    throw Error(ErrorCode::InvalidArgument, fmt::format("knob '{}': value '{}' is not allowed; allowed values: {}",
                                                        name(), value, allowed_string()));
}

namespace {
ErrorCode unwritable_code(const std::string& reason) {
  if (reason.rfind("permission denied", 0) == 0 || reason.rfind("read-only", 0) == 0) return ErrorCode::PermissionDenied;
  if (reason.rfind("missing", 0) == 0) return ErrorCode::NotFound;
  return ErrorCode::Unsupported;
}
}  // namespace

void Knob::check_not_exiting() const {
  if (restore_table::exiting())
    throw Error(ErrorCode::Busy, fmt::format("knob '{}' not written: the process is exiting and its hardware settings are being put back", name()));
}

void Knob::saved_original() {
  if (auto file = restore_file(); !file.empty())
    m_exit_slot = restore_table::add(name(), file, m_saved_num ? std::to_string(*m_saved_num) : *m_saved_text);
}

void Knob::forget_original() {
  if (m_exit_slot >= 0) restore_table::remove(m_exit_slot);
  m_exit_slot = -1;
}

void Knob::set(int64_t value) {
  check(value);
  if (auto why = unwritable_reason(); !why.empty())
    throw Error(unwritable_code(why), fmt::format("knob '{}' cannot be written: {}", name(), why));
  check_not_exiting();
  const bool first = saves_original() && !changed();
  if (first) {
    try {
      m_saved_num = read_numeric();  // never write what we could not put back
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("knob '{}': not written, its current value cannot be read to be put back later: {}", name(), e.what()));
    }
    saved_original();
  }
  try {
    write_numeric(value);
  } catch (const Error& e) {
    if (first) m_saved_num.reset(), forget_original();
    mark_unwritable(std::string("write refused at run time: ") + e.what());
    throw Error(e.code(), fmt::format("knob '{}': writing {} failed: {}", name(), value, e.what()));
  }
  ++m_writes;
  if (saves_original()) note_changed();
}

void Knob::set_text(const std::string& value) {
  if (m_spec.type == KnobType::Numeric) {
    check_text(value);
    set(std::stoll(value));
    return;
  }
  check_text(value);
  if (auto why = unwritable_reason(); !why.empty())
    throw Error(unwritable_code(why), fmt::format("knob '{}' cannot be written: {}", name(), why));
  check_not_exiting();
  const bool first = saves_original() && !changed();
  if (first) {
    try {
      m_saved_text = read_text();
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("knob '{}': not written, its current value cannot be read to be put back later: {}", name(), e.what()));
    }
    saved_original();
  }
  try {
    write_text(value);
  } catch (const Error& e) {
    if (first) m_saved_text.reset(), forget_original();
    mark_unwritable(std::string("write refused at run time: ") + e.what());
    throw Error(e.code(), fmt::format("knob '{}': writing '{}' failed: {}", name(), value, e.what()));
  }
  ++m_writes;
  if (saves_original()) note_changed();
}

void Knob::note_changed() {
  if (m_owner) m_owner->note_change(this);
}

void Knob::restore() {
  if (!changed()) return;
  try {
    if (m_saved_num) write_original(*m_saved_num);
    else write_text(*m_saved_text);
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("knob '{}': restoring {} failed: {}", name(),
                                      m_saved_num ? std::to_string(*m_saved_num) : "'" + *m_saved_text + "'", e.what()));
  }
  m_saved_num.reset();
  m_saved_text.reset();
  forget_original();
  ++m_writes;
  if (m_owner) m_owner->note_restored(this);
}

uint64_t Knob::write_count() const {
  uint64_t n = m_writes.load(std::memory_order_relaxed);
  for (const Knob* p : m_parts) n += p->write_count();
  return n;
}

int64_t Knob::read_numeric() const {
  throw Error(ErrorCode::Unsupported, fmt::format("knob '{}' has no numeric value", name()));
}
std::string Knob::read_text() const {
  throw Error(ErrorCode::Unsupported, fmt::format("knob '{}' has no text value", name()));
}
void Knob::write_numeric(int64_t) {
  throw Error(ErrorCode::Unsupported, fmt::format("knob '{}' takes no numeric value", name()));
}
void Knob::write_text(const std::string&) {
  throw Error(ErrorCode::Unsupported, fmt::format("knob '{}' takes no text value", name()));
}

// ---- CallbackKnob ----

CallbackKnob::CallbackKnob(KnobSpec spec, int64_t initial) : Knob(std::move(spec)), m_value(initial) {}

void CallbackKnob::bind(std::function<int64_t()> getter, std::function<void(int64_t)> setter, ClaimantId owner,
                        std::string owner_name) {
  if (!getter || !setter) throw Error(ErrorCode::InvalidArgument, fmt::format("knob '{}': bind needs a getter and a setter", name()));
  if (bound() && m_bound_by != 0 && m_bound_by != owner)
    throw Error(ErrorCode::Busy, fmt::format("knob '{}' is bound to the model of {}; only its binder may rebind it (or unbind it first)",
                                             name(), m_bound_by_name));
  m_getter = std::move(getter);
  m_setter = std::move(setter);
  m_bound_by = owner;
  m_bound_by_name = owner ? std::move(owner_name) : std::string();
}

void CallbackKnob::unbind() {
  // Keep the last value so reports stay truthful after the model goes away.
  if (m_getter) {
    try {
      m_value = m_getter();
    } catch (...) {
    }
  }
  m_getter = nullptr;
  m_setter = nullptr;
  m_bound_by = 0;
  m_bound_by_name.clear();
}

void CallbackKnob::set_allowed(std::vector<int64_t> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  spec().values = std::move(values);
}

int64_t CallbackKnob::read_numeric() const { return m_getter ? m_getter() : m_value; }

void CallbackKnob::write_numeric(int64_t value) {
  if (m_setter) m_setter(value);
  m_value = value;
}

}  // namespace dynn
