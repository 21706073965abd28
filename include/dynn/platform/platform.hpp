// Platform: the knobs and sensors of one machine, behind one interface for real Linux devices
// (Platform::detect) and for the simulator (SimulatedPlatform), so a controller cannot tell them
// apart.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "dynn/platform/knob.hpp"
#include "dynn/platform/nvml.hpp"
#include "dynn/platform/sensor.hpp"

namespace dynn {

// Time in seconds: a steady wall clock for real platforms, virtual time for the simulator.
class Clock {
 public:
  virtual ~Clock();
  virtual double now() const = 0;
  virtual void sleep(double seconds) = 0;
};
class WallClock : public Clock {
 public:
  double now() const override;  // steady clock, seconds
  void sleep(double seconds) override;
};
class VirtualClock : public Clock {
 public:
  double now() const override { return m_t; }
  void sleep(double seconds) override;  // advances; throws InvalidArgument on negative/non-finite
 private:
  double m_t = 0;
};

// CPUs sharing a cluster (topology/cluster_id, cpu_capacity), and the cpufreq policy over them.
struct CpuCluster {
  int id = 0;
  std::vector<int> cpus;
  int capacity = 1024;          // cpu_capacity (0..1024), 1024 when the kernel does not say
  std::string policy;           // "policy0" or "" when there is no cpufreq
  int64_t min_khz = 0, max_khz = 0;
  uint64_t mask() const;        // affinity mask bits of cpus (CPUs >= 64 ignored)
};

struct DetectOptions {
  std::string root = "/";                 // sysfs/procfs are read under root (tests: fake trees)
  // NVML: tried by default only when root is "/". nvml_api injects a table (tests).
  bool use_nvml = true;
  std::shared_ptr<const NvmlApi> nvml_api;
  bool allow_nvml_writes = false;         // NVML setters touch a shared GPU: off unless asked
  double counter_stale_after_s = 10;      // energy counters that stop moving -> stale error
  std::shared_ptr<Clock> clock;           // time source for sensors (default: WallClock)
};

class Platform {
 public:
  explicit Platform(std::string name, std::shared_ptr<Clock> clock = nullptr);
  // Restores every knob the library changed (errors go to stderr: a destructor cannot throw).
  virtual ~Platform();
  Platform(const Platform&) = delete;
  Platform& operator=(const Platform&) = delete;

  // Builds the platform of the running machine from `options.root`. Never fails for absent
  // hardware: what is missing is listed in notes().
  static std::unique_ptr<Platform> detect(const DetectOptions& options = {});

  const std::string& name() const { return m_name; }

  // Lookup. Unknown names throw NotFound listing the names that exist.
  Knob& knob(const std::string& name);
  const Knob& knob(const std::string& name) const;
  Knob* find_knob(const std::string& name) noexcept;
  Sensor& sensor(const std::string& name);
  Sensor* find_sensor(const std::string& name) noexcept;
  // The energy counter to measure with: "energy.total" when it is available, else the first
  // available counter named "energy.*"; nullptr when the platform has none.
  Sensor* find_energy_counter() noexcept;
  std::vector<Knob*> knobs() const;      // in insertion order
  std::vector<Sensor*> sensors() const;
  std::vector<std::string> knob_names() const;
  std::vector<std::string> sensor_names() const;

  // Bind the getter/setter of a callback knob ("threads", "device"); InvalidArgument if the knob
  // is not a callback knob.
  void bind_knob(const std::string& name, std::function<int64_t()> getter, std::function<void(int64_t)> setter);

  // Apply a hardware setting: every name and value is checked first (nothing is written when one
  // is bad), then the knobs are set in order. Throws on the first write that fails.
  void apply(const HardwareSetting& setting);
  // Current values of the readable numeric knobs.
  HardwareSetting current_setting() const;

  // Put back every value the library changed, newest change first, whoever changed it (claims
  // included: a runtime manager notices and applies its values again at its next step). Tries
  // them all, then throws Io listing the ones that failed.
  void restore();

  // Sharing one platform. A claimant (each RuntimeManager is one) writes knobs through
  // set_knob(), which records that it relies on the value; release() gives back what it changed:
  //  - a knob that nobody else claims, and that the application did not change directly, goes
  //    back to the value saved at its first change (saved once, whoever changed it first), newest
  //    change first;
  //  - a knob another claimant still claims keeps that claimant's value: if the leaving claimant
  //    had overwritten it, the newest value of the others is written again.
  // Direct changes (Knob::set, apply()) belong to the application: restore() and ~Platform put
  // them back, release() leaves them alone. restore == false hands the claimant's changes to the
  // platform instead (kept until restore()). release() tries every knob, then throws Io listing
  // the ones that failed (they stay owed to restore()). Thread-safe, like set_knob().
  ClaimantId add_claimant(std::string name);
  void set_knob(ClaimantId who, Knob& knob, int64_t value);
  void release(ClaimantId who, bool restore = true);
  // Names of the claimants that hold a change of this knob ("application" for direct changes).
  std::vector<std::string> holders(const Knob& knob) const;

  double now() const { return m_clock->now(); }
  Clock& clock() const { return *m_clock; }
  // Let `seconds` pass without inference (real: sleep; simulator: advance virtual time).
  virtual void idle(double seconds);

  const std::vector<CpuCluster>& cpu_clusters() const { return m_clusters; }
  // What detection found absent or broken, one line each.
  const std::vector<std::string>& notes() const { return m_notes; }

  // Building (detect, simulator, tests). Duplicate names throw InvalidArgument.
  Knob& add_knob(std::unique_ptr<Knob> knob);
  Sensor& add_sensor(std::unique_ptr<Sensor> sensor);
  void add_note(std::string note) { m_notes.push_back(std::move(note)); }
  void set_cpu_clusters(std::vector<CpuCluster> c) { m_clusters = std::move(c); }

  // Human-readable table of knobs (value, allowed, writability) and sensors (one reading each).
  std::string report();
  // The same as JSON text.
  std::string report_json();

 private:
  friend class Knob;
  void note_change(Knob* k);
  void note_restored(Knob* k);
  bool touches(const Knob* k, ClaimantId who) const;

  std::string m_name;
  std::shared_ptr<Clock> m_clock;
  std::vector<std::unique_ptr<Knob>> m_knobs;
  std::vector<std::unique_ptr<Sensor>> m_sensors;
  std::map<std::string, size_t> m_knob_index, m_sensor_index;
  std::vector<Knob*> m_changes;  // first-change order
  // Claims: who holds a change of each changed knob (0 = the application), and the value each
  // claimant last wrote to the knob it set (with the knob's write_count() right after).
  struct Claim {
    Knob* knob;
    ClaimantId who;
    int64_t value;
    uint64_t seq, writes;
  };
  std::map<const Knob*, std::set<ClaimantId>> m_holders;
  std::vector<Claim> m_claims;
  std::map<ClaimantId, std::string> m_claimants;
  ClaimantId m_next_claimant = 1;
  uint64_t m_claim_seq = 0;
  mutable std::recursive_mutex m_mutex;  // knob bookkeeping; knobs may be set from several threads
  std::vector<CpuCluster> m_clusters;
  std::vector<std::string> m_notes;
};

}  // namespace dynn
