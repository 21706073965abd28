// Knobs: the hardware (and runtime) settings a Platform lets dynn read and change.
//
// A knob has a name, a unit, its allowed values (a discrete list or a min/max range for numeric
// knobs, a list of words for text knobs such as a cpufreq governor), its current value, and
// whether it can be read and written (with the reason when not). Every value the library changes
// is saved first and put back by restore(); a Platform restores all its knobs when destroyed.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dynn {

class Platform;

// One rule for "is this knob a frequency?", used by the manager's arbitration between apps, the
// telemetry plots and the governors: a knob is a frequency when its unit is "Hz", "kHz" or "MHz".
bool is_frequency_unit(const std::string& unit);
// A value in a frequency unit in MHz; NaN when the unit is not a frequency.
double frequency_mhz(int64_t value, const std::string& unit);
// The knob that pins a frequency domain (min = max = value) is named "<domain>.freq" by every
// platform backend (cpufreq policies, devfreq, the simulator); governors drive these.
bool is_pinned_frequency_knob(const std::string& name, const std::string& unit);

// A user of a platform that changes knobs and gives them back later (a RuntimeManager is one);
// 0 = the application itself. See Platform::add_claimant().
using ClaimantId = uint64_t;

// Knob name -> value for the numeric knobs of a Platform (frequencies in the knob's unit, thread
// counts, affinity masks, device index). Knobs not listed are left as they are.
using HardwareSetting = std::map<std::string, int64_t>;

enum class KnobType { Numeric, Text };

// What a knob is, independent of its backend.
struct KnobSpec {
  std::string name;         // e.g. "cpufreq.policy0.max_freq"
  std::string unit;         // "kHz", "Hz", "MHz", "mW", "threads", "cpumask", "device", "" for text
  std::string description;  // one line, says which file/call it drives
  KnobType type = KnobType::Numeric;
  std::vector<int64_t> values;            // allowed values, ascending; empty -> use the range (or any value)
  std::optional<int64_t> min, max;        // inclusive range when there is no list
  std::vector<std::string> text_values;   // allowed words of a text knob (empty -> any)
};

class Knob {
 public:
  virtual ~Knob();
  Knob(const Knob&) = delete;
  Knob& operator=(const Knob&) = delete;

  const std::string& name() const { return m_spec.name; }
  const std::string& unit() const { return m_spec.unit; }
  const std::string& description() const { return m_spec.description; }
  KnobType type() const { return m_spec.type; }
  bool numeric() const { return m_spec.type == KnobType::Numeric; }
  const std::vector<int64_t>& values() const { return m_spec.values; }
  std::optional<int64_t> min_value() const;  // list front or range min
  std::optional<int64_t> max_value() const;  // list back or range max
  const std::vector<std::string>& text_values() const { return m_spec.text_values; }
  // Allowed values in words: "115200, 192000, ..." / "1..6" / "performance, userspace".
  std::string allowed_string() const;

  // Readable: the backing file/call exists and answered. Writable: readable, permitted, not
  // forbidden by the current state (e.g. scaling_setspeed needs the userspace governor).
  bool readable() const { return m_unavailable.empty(); }
  bool writable() const { return unwritable_reason().empty(); }
  // "" when readable; else why not ("missing: <path>", "permission denied: <path>", ...).
  const std::string& unavailable_reason() const { return m_unavailable; }
  // "" when writable; else why not ("missing: ...", "permission denied: ...", "governor is
  // 'schedutil'; needs 'userspace'", "write refused at run time: ...", "read-only by default ...").
  std::string unwritable_reason() const;

  // Current value. Throw dynn::Error: Unsupported when the type is wrong or the knob is
  // unavailable (message has the reason), Io/Parse when the backend read fails.
  int64_t get() const;
  std::string get_text() const;
  // The current value as text for reports; never throws ("<unavailable: reason>").
  std::string value_string() const;

  // Validate, save the current value (first change only), write. InvalidArgument names the knob,
  // the value and the allowed values; PermissionDenied/Unsupported when not writable (with the
  // reason). A write the backend refuses throws and marks the knob unwritable; the rest of the
  // platform keeps working.
  void set(int64_t value);
  void set_text(const std::string& value);
  // Throws InvalidArgument like set() would, writes nothing.
  void check(int64_t value) const;
  void check_text(const std::string& value) const;

  // True when the library changed this knob and has not put it back yet.
  bool changed() const { return m_saved_num.has_value() || m_saved_text.has_value(); }
  // Put the saved value back (no-op when unchanged). Throws when the write fails (value kept saved).
  void restore();
  // Counts the successful writes of this knob (set and restore; a composite knob counts those of
  // its parts), so a user that caches "my value is in force" notices a write it did not make.
  uint64_t write_count() const;

 protected:
  explicit Knob(KnobSpec spec);
  KnobSpec& spec() { return m_spec; }

  // Backend. Defaults throw Unsupported (a numeric knob need not implement the text pair).
  virtual int64_t read_numeric() const;
  virtual std::string read_text() const;
  virtual void write_numeric(int64_t value);
  virtual void write_text(const std::string& value);
  // Reason the knob cannot be written right now ("" = may write). Checked on every set().
  virtual std::string write_blocker() const { return {}; }
  // Extra validation beyond the list/range (e.g. an affinity mask must be a subset of the CPUs).
  virtual void validate_extra(int64_t /*value*/) const {}
  // Composite knobs (a pinned frequency written through min/max knobs) save nothing themselves.
  virtual bool saves_original() const { return true; }
  // Puts the saved value back (restore()). Knobs whose change is more than one value (affinity:
  // one mask per thread it pinned) override it.
  virtual void write_original(int64_t saved) { write_numeric(saved); }
  // The file the saved value can be written back to without this object (a sysfs attribute), so
  // install_restore_on_exit() can put it back from a signal handler; "" = none.
  virtual std::string restore_file() const { return {}; }
  // Composite knobs name the knobs they write through: write_count() sums theirs.
  void set_parts(std::vector<Knob*> parts) { m_parts = std::move(parts); }

  void mark_unavailable(const std::string& reason) { m_unavailable = reason; }
  void mark_unwritable(const std::string& reason) { m_unwritable = reason; }
  void note_changed();

 private:
  friend class Platform;
  void saved_original();    // after the first save: offer the saved value to the exit-time restore
  void forget_original();   // the saved value is no longer owed
  void check_not_exiting() const;

  KnobSpec m_spec;
  std::string m_unavailable;  // non-empty: cannot be read (and so not written)
  std::string m_unwritable;   // non-empty: permanently not writable (permission, refused write)
  std::optional<int64_t> m_saved_num;
  std::optional<std::string> m_saved_text;
  Platform* m_owner = nullptr;  // gets told about changes, to restore in reverse order and per claimant
  std::vector<Knob*> m_parts;
  std::atomic<uint64_t> m_writes{0};
  int m_exit_slot = -1;  // entry in the exit-time restore table (restore_guard), -1 = none
};

// A knob whose value lives in the application: the model installs a getter/setter (intra-op
// thread count, device placement). Unbound, it just stores the value; bound, set() calls the
// setter, get() the getter. Unbind before the object behind the callbacks goes away.
// A binding made by a claimant (a runtime manager binding "threads" to its model) belongs to it:
// binding the knob again while that claimant holds it throws Busy naming the holder.
class CallbackKnob : public Knob {
 public:
  CallbackKnob(KnobSpec spec, int64_t initial);
  void bind(std::function<int64_t()> getter, std::function<void(int64_t)> setter, ClaimantId owner = 0,
            std::string owner_name = {});
  void unbind();
  bool bound() const { return static_cast<bool>(m_setter); }
  // Who bound it (0 = the application, or unbound) and its name for messages.
  ClaimantId bound_by() const { return m_bound_by; }
  const std::string& bound_by_name() const { return m_bound_by_name; }
  // Replace the allowed values (e.g. the model declares the CUDA devices it can use).
  void set_allowed(std::vector<int64_t> values);

 protected:
  int64_t read_numeric() const override;
  void write_numeric(int64_t value) override;

 private:
  int64_t m_value;
  std::function<int64_t()> m_getter;
  std::function<void(int64_t)> m_setter;
  ClaimantId m_bound_by = 0;
  std::string m_bound_by_name;
};

}  // namespace dynn
