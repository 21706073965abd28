// Device-agnostic profiler: for sub-networks x hardware settings it calls user callbacks (switch,
// run one inference, read energy) with warm-up and repetitions, keeps median and p90 after
// dropping outliers, shows progress, resumes from a partly written profile file, and writes a
// Profile. It can also fill a LatencyTable layer by layer. The LibTorch model, a real Platform or
// the simulator plug in through the hooks.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dynn/profile/latency_table.hpp"
#include "dynn/profile/profile.hpp"

namespace dynn {

// One inference as the measurement hook reports it.
struct Measurement {
  double seconds = 0;                 // latency of this inference
  std::optional<double> energy_j;     // energy of this inference, where a sensor exists
  std::optional<double> power_w;      // mean power during it, where a sensor exists
};

struct ProfileTask {
  std::string id;  // operating point id, unique ("L3@cpu:1200MHz")
  Subnet subnet;
  std::string device = "cpu";
  HardwareSetting hardware;
};

// Every sub-network x every hardware setting, ids "<subnet name>@<setting name>".
std::vector<ProfileTask> make_tasks(const std::vector<std::pair<std::string, Subnet>>& subnets,
                                    const std::vector<std::pair<std::string, HardwareSetting>>& settings,
                                    const std::string& device = "cpu");

// Robust summary of repeated timings (milliseconds).
struct SampleStats {
  double median_ms = 0, p90_ms = 0, mean_ms = 0, std_ms = 0, min_ms = 0, max_ms = 0;
  size_t kept = 0, dropped = 0;  // samples used / rejected as outliers
};
// Drops samples above median + k * 1.4826 * MAD (k <= 0: keep all), then summarises. p90 is the
// linear-interpolated 90th percentile (numpy's default). Throws InvalidArgument for no samples or
// a negative / non-finite one.
SampleStats summarize_samples(std::vector<double> samples_ms, double outlier_k = 5.0);

struct ProfilerProgress {
  size_t done = 0;      // points finished (measured or resumed)
  size_t total = 0;
  size_t resumed = 0;   // points skipped because the output file already had them
  std::string current;  // id being measured next ("" when finished)
  double elapsed_s = 0; // wall time of this run
  double eta_s = -1;    // estimated time left (-1 until one point was measured)
};

struct ProfilerOptions {
  int warmup = 5;                    // inferences discarded before timing each point
  int repetitions = 30;              // timed inferences per point
  double outlier_k = 5.0;            // see summarize_samples
  double max_seconds_per_point = 0;  // >0: stop repeating once a point took this long (>= 3 timed runs)
  std::string output_path;           // when set: resume from it, rewrite it after every point
  bool progress_bar = false;         // draw a bar with ETA on stderr
  std::string device_name;           // Profile metadata
  std::string supernet = "ofa_mbv3_d234_e346_k357_w1.2";
  std::string notes;
};

struct ProfilerHooks {
  std::function<Measurement(const ProfileTask&)> measure;       // required: run one inference
  std::function<void(const ProfileTask&)> prepare;              // optional: set sub-network and knobs
  std::function<void(const ProfileTask&)> finish;               // optional: after each point (restore)
  std::function<double(const Subnet&)> accuracy;                // optional: predicted accuracy
  std::function<void(const ProfilerProgress&)> on_progress;     // optional
  std::function<double()> clock;                                // optional: seconds for elapsed/ETA (default steady clock)
  std::function<double(const Subnet&)> macs;                    // optional: MACs per image (default: from `supernet`, below)
};

class Profiler {
 public:
  Profiler(ProfilerOptions options, ProfilerHooks hooks);

  // Profiles the tasks (in order) and returns the Profile (also written to output_path when set).
  // Tasks already in output_path are kept as they are and not measured again; a file for another
  // supernet is an error (InvalidArgument). Duplicate task ids and tasks of two families are an
  // error. MACs come from the macs hook, else from the supernet's width multiplier when the name
  // is an OFA MobileNetV3 one (else 0).
  Profile run(const std::vector<ProfileTask>& tasks);

  // Fills a latency table for `resolutions` by timing every layer of LatencyTable::all_layers(r)
  // with measure_layer (warm-up, repetitions and outlier rule as above; count = kept samples,
  // mean/std of the kept samples in ms, as the published tables).
  LatencyTable run_layers(const std::vector<int>& resolutions, double width_mult,
                          const std::function<double(const LayerSpec&)>& measure_layer_seconds);

  const ProfilerOptions& options() const { return m_opt; }

 private:
  SampleStats time_point(const std::function<double()>& once);
  void report(const ProfilerProgress& p);
  double now() const;

  ProfilerOptions m_opt;
  ProfilerHooks m_hooks;
};

}  // namespace dynn
