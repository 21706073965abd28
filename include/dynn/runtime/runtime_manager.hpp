// RuntimeManager: sits in the application's inference loop. Two ways to use it:
//  - it owns the model and runs infer(input): decide, apply knobs, switch sub-network, run,
//    measure (latency from the platform clock: wall or virtual; energy from the energy counter),
//    record telemetry, and feed the measurement back to the controller;
//  - it only advises an application that runs its own model: decide() (knobs are applied, the
//    application switches to decision().point's sub-network), then report(latency, energy).
// Targets can change at any step. Several applications ("apps") can share one platform, each with
// its own model, operating points, controller and targets; the manager divides the CPU cores
// between the apps that run on the CPU (disjoint affinity masks, moved towards the app that
// misses its target) and arbitrates shared frequency knobs (the highest request wins, so no app
// is slowed by another's choice).
// Several managers may share one platform: each is a claimant of it (Platform::set_knob), so
// destroying one puts back only the knobs it changed that no other manager still relies on, and
// writes the others' values again where it had overwritten them; a manager also notices any
// write it did not make (another manager, Platform::restore(), the application) and applies its
// own value again at its next step. The platform's unbound "threads" knob is bound to the model
// of the first app that has one, and that binding belongs to its manager: another manager leaves
// the knob out of its default knobs, and refuses it (InvalidArgument) when asked for it by name.
// Threads: different apps may call infer()/decide()/report() from different threads at the same
// time (the manager serialises its own bookkeeping and knob writes; the inferences run in
// parallel). Add every app before the threads start. One app must not be driven from two threads
// at once, and telemetry(app) must not be
// read while that app is stepping.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "dynn/model.hpp"
#include "dynn/platform/platform.hpp"
#include "dynn/runtime/controller.hpp"
#include "dynn/runtime/telemetry.hpp"

namespace dynn {
namespace runtime_detail {
class KnobArbiter;
class ModelKnobBinding;
}

// The search below the profiled points (owned-model mode; a family with reductions,
// SubnetFamily::smaller). When `patience` (1..1000) steps in which the controller reports
// Decision::starved and the inference missed the target fall within 10 x patience steps (in a
// row, or a smallest point at the edge of the target that misses now and then), the manager
// shrinks the smallest sub-network among the app's points (shrink_subnet over the model's own
// MACs) to safety * target / best latency
// measured in those steps of its MACs (at most max_fraction), prepares it (on a background thread
// unless `background` is false: inference goes on meanwhile) and adds it as new points, one per
// hardware setting and device of the existing points, each timed from the point it derives from by MACs. Once a new point has run
// calibrate_runs times, its latency is set from the fastest of those runs, divided by measured /
// profiled latency (fastest runs again) of a point with a profiled latency that ran at most 20
// steps before them (of the same hardware setting and device, else of the same device), and kept
// between its source's time per MAC and its source's time: online profiling under the conditions
// of its runs (a slowdown divides out). Runs beside a search in progress do not count; without a
// recent reference it waits. The controller learns of each change through
// Controller::update_points. The cost is bounded: at most max_subnets sub-networks in an app's
// life, one search at a time, none once the family's reductions run out.
struct SubnetSearchOptions {
  bool enabled = false;
  int patience = 3;
  int max_subnets = 4;
  double safety = 0.8;
  double max_fraction = 0.8;  // each search removes at least 20 % of the MACs
  int calibrate_runs = 3;
  bool background = true;     // false: within the step that asks (deterministic: tests, the simulator)
  // Accuracy of a sub-network (top-1, 0..1), e.g. an AccuracyPredictor: it guides shrink_subnet
  // and is the new point's accuracy, capped just below its source's (accuracy - 1e-4: a source with
  // parts removed, so controllers keep preferring the profiled points). Without one the new point's
  // accuracy is not known and it gets that cap. Called on the search's thread (make it safe to
  // call beside the application's own use of it; AccuracyPredictor is).
  std::function<double(const Subnet&)> accuracy;
};

// What the search did so far (RuntimeManager::search_status).
struct SearchStatus {
  int searches = 0;          // started
  int subnets_added = 0;     // sub-networks found and prepared
  int points_added = 0;      // operating points added for them
  int points_profiled = 0;   // new points whose latency was set from their own runs
  bool running = false;      // a search is building a sub-network now
  bool exhausted = false;    // no further search: max_subnets reached, nothing smaller, or an error
  std::string last;          // what the last search did, in words ("" before the first)
};

struct AppOptions {
  std::string name = "app";
  std::shared_ptr<DynamicModel> model;     // any family; null: advise-only (decide/report)
  std::vector<OperatingPoint> points;      // what the controller chooses among (required)
  std::unique_ptr<Controller> controller;  // required
  Targets targets;
  // Knobs the controller may set (default: every writable numeric knob of the platform) and the
  // sensors its observations carry (default: none beyond what the manager measures itself, since
  // each reading costs a file read on real hardware).
  std::vector<std::string> knobs;
  std::vector<std::string> sensors;
  bool prepare_all = true;  // model->prepare() every sub-network of the points up front
  int min_cores = 1;        // core division between CPU apps: never fewer
  SubnetSearchOptions search;
};

struct ManagerOptions {
  std::string energy_sensor;       // "" = "energy.total", else the first energy counter
  std::string power_sensor;        // "" = "power.total", else the first "power.*"
  std::string temperature_sensor;  // "" = the first "temp.*"
  bool telemetry = true;
  size_t telemetry_reserve = 0;
  double rebalance_period_s = 1.0;  // how often cores are re-divided between CPU apps
  // Put back the knobs this manager changed when it goes (those no other manager still claims);
  // false: leave them as they are, owed to Platform::restore() / ~Platform.
  bool restore_on_destroy = true;
};

struct StepResult {
  double latency_ms = 0;
  double energy_mj = std::numeric_limits<double>::quiet_NaN();
  int point = -1;
  bool met = true;
};

class RuntimeManager {
 public:
  explicit RuntimeManager(std::shared_ptr<Platform> platform, ManagerOptions options = {});
  // One app in one call.
  RuntimeManager(std::shared_ptr<Platform> platform, AppOptions app, ManagerOptions options = {});
  ~RuntimeManager();
  RuntimeManager(const RuntimeManager&) = delete;
  RuntimeManager& operator=(const RuntimeManager&) = delete;

  // Adds an app; returns its id (0, 1, ...). Throws InvalidArgument naming what is wrong (no
  // points, no controller, an unknown knob/sensor, a controller that rejects the context).
  int add_app(AppOptions app);
  size_t num_apps() const { return m_apps.size(); }
  const std::string& app_name(int app = 0) const;

  void set_targets(const Targets& t, int app = 0);  // validated; takes effect at the next step
  const Targets& targets(int app = 0) const;
  // Replace the controller (bound to the app's context; the old one is returned).
  std::unique_ptr<Controller> set_controller(std::unique_ptr<Controller> c, int app = 0);
  Controller& controller(int app = 0);

  // Owned-model mode. Throws Busy when the app has no model. plan() decides (and applies the
  // knobs) for the next infer() and returns its point, so the application can size the input for
  // the point's resolution; infer() without plan() decides itself.
  const OperatingPoint& plan(int app = 0);
  StepResult infer(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits, size_t capacity, int app = 0);

  // Advisory mode: decide() applies the knobs and returns the decision; the application runs
  // decision().point's sub-network and calls report(). Energy NaN: the manager measures it from
  // the energy counter between decide() and report() where there is one.
  const Decision& decide(int app = 0);
  StepResult report(double latency_ms, double energy_mj = std::numeric_limits<double>::quiet_NaN(), int app = 0);

  const Decision& decision(int app = 0) const;
  const OperatingPoint& point(int index, int app = 0) const;
  const ControlContext& context(int app = 0) const;
  const Telemetry& telemetry(int app = 0) const;
  Telemetry& telemetry(int app = 0);
  const Observation& observation(int app = 0) const;

  Platform& platform() { return *m_platform; }
  // The search below the profiled points (AppOptions::search); all zero when it is off.
  SearchStatus search_status(int app = 0) const;
  // Replaces an app's search (waits for one in progress; what it found stays among the points).
  // Same checks as add_app. Call it between steps, not while the app steps on another thread.
  void set_search(SubnetSearchOptions search, int app = 0);
  // CPU mask currently given to an app by the core division (0: no division in force).
  uint64_t core_mask(int app = 0) const;

 private:
  struct App;
  App& app(int id);
  const App& app(int id) const;
  void bind(App& a);
  void begin_step(App& a);  // observe, decide, apply
  StepResult end_step(App& a, double start_s, double latency_ms, double energy_mj, double e0_j);
  void apply(App& a);
  void resolve_point(App& a, size_t index);
  void make_search(App& a, SubnetSearchOptions search);  // null search when !enabled  // knob indices and placement of a point (throws naming it)
  std::string foreign_owner(const Knob* k) const;  // the manager whose model a callback knob drives, if not ours
  void rebalance();
  double read_energy_j();  // caller holds m_mutex
  double energy_now();     // takes m_mutex

  std::shared_ptr<Platform> m_platform;
  ManagerOptions m_opt;
  std::vector<std::unique_ptr<App>> m_apps;
  Sensor* m_energy = nullptr;
  Sensor* m_power = nullptr;
  Sensor* m_temp = nullptr;
  Knob* m_affinity = nullptr;
  Knob* m_threads = nullptr;
  std::vector<std::unique_ptr<runtime_detail::ModelKnobBinding>> m_bindings;  // "threads" / "device" -> the first app's model
  ClaimantId m_claimant = 0;                // this manager's claims on the platform's knobs
  std::string m_label;                      // "runtime manager N", for messages
  double m_last_rebalance = -1e300;
  std::unique_ptr<runtime_detail::KnobArbiter> m_arbiter;  // shared requests and skipped writes
  std::mutex m_mutex;
};

// A DynamicModel whose inference is a callback: the simulator (the callback runs
// SimulatedPlatform::simulate_inference, advancing virtual time), or a fake model that burns a
// fixed amount of CPU. Logits are zero-filled (num_classes of them per image).
class CallbackModel : public DynamicModel {
 public:
  using Run = std::function<void(const Subnet& subnet, const std::string& device, int threads)>;
  // Sub-networks of `family` (InvalidArgument naming the known ones); it starts on the largest at 224.
  explicit CallbackModel(Run run, std::string family = SubnetConfig::kFamily, int num_classes = 1000);

  std::string family() const override { return m_family; }
  int num_classes() const override { return m_classes; }
  using DynamicModel::set_subnet;
  void set_subnet(const Subnet& subnet) override;
  Subnet current_subnet() const override { return m_subnet; }
  using DynamicModel::prepare;
  void prepare(const std::vector<Subnet>& subnets) override;
  void infer(const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits, size_t capacity) override;
  void set_num_threads(int n) override;
  int num_threads() const override { return m_threads; }
  void set_device(const std::string& device) override { m_device = device; }
  std::string device() const override { return m_device; }
  const std::string& engine() const override;
  ModelMemory memory() const override { return {}; }

  size_t switches() const { return m_switches; }
  size_t inferences() const { return m_inferences; }

 private:
  Run m_run;
  std::string m_family;
  int m_classes;
  Subnet m_subnet;
  std::string m_device = "cpu";
  int m_threads = 1;
  size_t m_switches = 0, m_inferences = 0;
};

}  // namespace dynn
