// The runtime manager's search below the profiled points (SubnetSearchOptions in
// runtime_manager.hpp): when to search, which sub-network to build, the background prepare, the
// new points and their online profiling. The manager keeps the bookkeeping of the points it adds
// (knob indices, telemetry ids) and tells the controller.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "dynn/runtime/runtime_manager.hpp"

namespace dynn::runtime_detail {

class SubnetSearch {
 public:
  // InvalidArgument naming `who` when the options are out of range, there is no model, or the
  // model's family has no reductions. `points` are the app's points at the start.
  SubnetSearch(SubnetSearchOptions options, std::shared_ptr<DynamicModel> model, const std::vector<OperatingPoint>& points,
               std::string who);
  ~SubnetSearch();  // waits for a search in progress
  SubnetSearch(const SubnetSearch&) = delete;
  SubnetSearch& operator=(const SubnetSearch&) = delete;

  // After the controller's decision: counts the starved steps and their best latency, starts a
  // search after `patience` of them, and appends the points of a finished one to `points`.
  // Returns true when `points` grew.
  bool after_decision(const Decision& decision, const Observation& obs, std::vector<OperatingPoint>& points);
  // After a measured inference of `point` at manager step `step`. Returns true when a new point's
  // latency was set from its runs (online profiling).
  bool after_measurement(int point, double latency_ms, uint64_t step, std::vector<OperatingPoint>& points);

  SearchStatus status() const;
  // Points the app can have at most: the first ones plus one per hardware setting and device for
  // each sub-network the search may add (new points keep their source's setting).
  size_t max_points() const;

 private:
  struct Runs {  // the latest measurements of a point
    std::array<double, 8> ms{};
    std::array<uint64_t, 8> steps{};
    std::array<char, 8> busy{};  // a search was building a network beside it (it competes for the CPU)
    int count = 0;               // in all (the ring holds the last 8)
    uint64_t last_step() const { return count ? steps[static_cast<size_t>((count - 1) % 8)] : 0; }
    uint64_t step_of(int back) const { return steps[static_cast<size_t>((count - 1 - back) % 8)]; }  // back < min(count, 8)
    // The fastest of the last min(n, count, 8) runs at or after step `since` that ran without a
    // search beside them (NaN: none): disturbances only ever slow a run down.
    double fastest(int n, uint64_t since = 0) const;
  };
  void start(const std::vector<OperatingPoint>& points, double fraction);
  void finish(std::vector<OperatingPoint>& points);
  double macs_of(const Subnet& s) const;
  int group_of(const OperatingPoint& p);   // index of its hardware setting + device
  int device_of(const OperatingPoint& p);

  SubnetSearchOptions m_o;
  std::shared_ptr<DynamicModel> m_model;
  std::string m_who;
  std::vector<double> m_macs;     // per point
  std::vector<int> m_source;      // per point: the point it was derived from, -1 for profiled ones
  std::vector<int> m_group, m_device;  // per point
  std::vector<std::pair<HardwareSetting, std::string>> m_groups;
  std::vector<std::string> m_devices;
  std::vector<char> m_profiled;   // per point: latency from a profile or from its own runs
  std::vector<Runs> m_runs;       // per point
  // Steps (of after_decision) that were starved and missed, with their latency: at most
  // `patience` (capacity reserved: no allocation in a step), dropped when older than kWindow x
  // patience steps.
  std::vector<std::pair<int64_t, double>> m_starved;
  int64_t m_step = 0;
  static constexpr int kWindow = 10;
  SearchStatus m_status;
  // A search in progress: the worker writes m_found* and then m_done.
  std::thread m_worker;
  std::atomic<bool> m_running{false}, m_done{false};
  Subnet m_from, m_found;
  double m_found_macs = 0;
  bool m_reached = false;
  std::string m_error;
};

}  // namespace dynn::runtime_detail
