// Controllers: the policy of the runtime manager. Each step a controller sees an Observation
// (targets, the last measurement, sensor readings, knob values, the current operating point) and
// returns a Decision (the operating point to run next and knob values). Controllers are created by
// name from a registry with JSON parameters; applications register their own.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dynn/profile/operating_point.hpp"

namespace dynn {

// What the application asks for. 0 means "no target" for every field.
struct Targets {
  double latency_ms = 0;  // deadline of one inference
  double accuracy = 0;    // accuracy floor, top-1 as a fraction (0..1)
  double power_w = 0;     // power cap while running
  double energy_mj = 0;   // energy budget of one inference

  bool has_latency() const { return latency_ms > 0; }
  bool has_accuracy() const { return accuracy > 0; }
  bool has_power() const { return power_w > 0; }
  bool has_energy() const { return energy_mj > 0; }
  // Throws InvalidArgument naming the field when a value is negative, NaN or infinite, or the
  // accuracy is above 1.
  void validate() const;
  // {"latency_ms":60,"accuracy":0.76,"power_w":10,"energy_mj":500}; missing keys are 0; unknown
  // keys and non-numbers throw Parse naming them.
  static Targets from_json(const std::string& text);
  std::string to_json() const;
};
bool operator==(const Targets& a, const Targets& b);
inline bool operator!=(const Targets& a, const Targets& b) { return !(a == b); }

// A numeric knob the controller may set, described once at bind time.
struct KnobInfo {
  std::string name;
  std::string unit;
  std::vector<int64_t> values;  // allowed values, ascending; empty -> any value in [min, max]
  int64_t min = 0, max = 0;

  // Lowest allowed value >= v (the kernel's CPUFREQ_RELATION_L), clamped to the range.
  int64_t at_or_above(double v) const;
};

struct SensorInfo {
  std::string name;
  std::string unit;
};

// What stays fixed between steps: the operating points the controller chooses among, the knobs it
// may set and the sensors the observation carries. Given to Controller::bind().
struct ControlContext {
  std::vector<OperatingPoint> points;
  std::vector<KnobInfo> knobs;
  std::vector<SensorInfo> sensors;

  int knob_index(const std::string& name) const;    // -1 when absent
  int sensor_index(const std::string& name) const;  // -1 when absent
};

// One step's view. The manager reuses one Observation object, so the vectors do not reallocate.
struct Observation {
  uint64_t step = 0;     // inferences measured so far
  double time_s = 0;     // platform time (virtual on the simulator)
  Targets targets;
  // The last measured inference (NaN before the first measurement or when not measured).
  double last_latency_ms = std::numeric_limits<double>::quiet_NaN();
  double last_energy_mj = std::numeric_limits<double>::quiet_NaN();
  double last_power_w = std::numeric_limits<double>::quiet_NaN();
  int last_point = -1;     // point that inference ran on
  int current_point = -1;  // point in force now (-1 before the first decision)
  // Aligned with ControlContext::knobs / ::sensors. NaN: sensor unavailable this step.
  std::vector<int64_t> knob_values;
  std::vector<double> sensor_values;
};

struct Decision {
  int point = -1;             // index into ControlContext::points
  // Knob values applied after the point's own hardware setting (they override it). The manager
  // passes the previous decision back in, so a controller that keeps writing the same keys does
  // not allocate.
  HardwareSetting hardware;
  // Set by a controller when no point is predicted to meet the latency target even after its own
  // exploration (pareto, energy): the manager's search may then add smaller sub-networks
  // (AppOptions::search). Controllers that never set it are never given new points that way.
  bool starved = false;
};

class Controller {
 public:
  virtual ~Controller();
  // Registry name ("pareto", ...) or the application's own.
  virtual std::string name() const = 0;
  // Called before the first step and whenever the points, knobs or sensors change. Throws
  // InvalidArgument when the controller cannot work with them (no points, a parameter naming a
  // knob or point that is absent), with a message naming it.
  virtual void bind(const ControlContext& context) = 0;
  // The points grew: `context` holds the old points at their indices and new ones after them (the
  // manager's search), or an old point's latency was re-measured. The default binds again, which
  // forgets what was learned; pareto keeps its corrections and measurements.
  virtual void update_points(const ControlContext& context) { bind(context); }
  // One decision; must be cheap (no allocation in steady state, no I/O).
  virtual void step(const Observation& obs, Decision& out) = 0;
  // Forget what was learned online (correction factors, histories).
  virtual void reset() {}
  // Learned state for telemetry and debugging (JSON object text).
  virtual std::string state_json() const { return "{}"; }
};

// Parameters of a controller: a JSON object read field by field, with range checks and a final
// check that no unknown key was given. Errors name the controller, the key and the value.
class ControllerParams {
 public:
  ControllerParams(std::string controller, nlohmann::json params);
  // Parses parameter text ("" = {}); Parse error naming the controller when it is not JSON.
  static nlohmann::json parse(const std::string& controller, const std::string& json_text);

  const std::string& controller() const { return m_controller; }
  bool has(const std::string& key) const;
  double number(const std::string& key, double def, double lo, double hi);
  int64_t integer(const std::string& key, int64_t def, int64_t lo, int64_t hi);
  bool boolean(const std::string& key, bool def);
  // allowed empty -> any text.
  std::string text(const std::string& key, const std::string& def, const std::vector<std::string>& allowed = {});
  std::vector<std::string> texts(const std::string& key, const std::vector<std::string>& def = {});
  // {"knob": value, ...}
  HardwareSetting setting(const std::string& key);
  // {"name": "text", ...}
  std::map<std::string, std::string> text_map(const std::string& key);
  // A point reference: an id (string) or an index (integer); "" / -1 when absent.
  struct PointRef {
    std::string id;
    int64_t index = -1;
    bool given() const { return !id.empty() || index >= 0; }
  };
  PointRef point(const std::string& key);
  const nlohmann::json& raw() const { return m_params; }
  // Throws InvalidArgument naming every key that was never read, and the known ones.
  void finish() const;
  [[noreturn]] void fail(const std::string& key, const std::string& why) const;
  std::string label(const std::string& key) const;  // "controller '<name>': parameter '<key>'"

 private:
  const nlohmann::json* get(const std::string& key);
  std::string m_controller;
  nlohmann::json m_params;
  std::vector<std::string> m_read;
};

// Resolves a PointRef against a context; throws InvalidArgument naming the controller and ref.
int resolve_point(const ControllerParams::PointRef& ref, const ControlContext& ctx, const std::string& controller);

using ControllerFactory = std::function<std::unique_ptr<Controller>(ControllerParams& params)>;

// Name -> factory. The global registry holds the built-ins; applications add their own.
class ControllerRegistry {
 public:
  ControllerRegistry() = default;  // empty
  static ControllerRegistry& global();  // built-ins registered
  void register_builtins();

  // Throws InvalidArgument when the name is empty or taken (unless replace).
  void add(const std::string& name, const std::string& description, ControllerFactory factory, bool replace = false);
  bool remove(const std::string& name);
  bool contains(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  std::string description(const std::string& name) const;

  // Unknown name: NotFound listing the registered names. Bad params: InvalidArgument/Parse naming
  // the controller and key. params_json "" means {}.
  std::unique_ptr<Controller> create(const std::string& name, const std::string& params_json = "{}") const;
  std::unique_ptr<Controller> create_json(const std::string& name, const nlohmann::json& params) const;

 private:
  struct Entry {
    std::string description;
    ControllerFactory factory;
  };
  mutable std::mutex m_mutex;
  std::vector<std::pair<std::string, Entry>> m_entries;
};

// ControllerRegistry::global().create(name, params_json).
std::unique_ptr<Controller> make_controller(const std::string& name, const std::string& params_json = "{}");

}  // namespace dynn
