// A Profile: the operating points measured (or predicted) for one device and supernet, saved as
// JSON with a format version and validated on load.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "dynn/profile/operating_point.hpp"

namespace dynn {

// Inverse of accuracy_source_name(); throws Error(Parse) naming the text.
AccuracySource accuracy_source_from_name(const std::string& name);

class Profile {
 public:
  static constexpr int kFormatVersion = 1;

  std::string device_name;  // e.g. "jetson-xavier-nx (simulated)", "x86-64 2 cores"
  std::string supernet;     // e.g. "ofa_mbv3_d234_e346_k357_w1.2"
  std::string family;       // of every point's sub-network ("ofa_mbv3" when the file has none, as version 1 had)
  std::string created;      // ISO 8601 UTC, set by now_iso8601() when empty on save
  std::string notes;        // free text (command line, settings)
  std::vector<OperatingPoint> points;

  // Lookups. find_* return nullptr when absent; at() throws Error(NotFound) naming the id.
  const OperatingPoint* find(const std::string& id) const;
  OperatingPoint* find(const std::string& id);
  const OperatingPoint& at(const std::string& id) const;
  // First point with this (canonical) sub-network, optionally restricted to a device and setting.
  const OperatingPoint* find(const Subnet& subnet, const std::string& device = {},
                             const HardwareSetting* hardware = nullptr) const;
  bool contains(const std::string& id) const { return find(id) != nullptr; }
  std::vector<const OperatingPoint*> with_device(const std::string& device) const;

  // Adds a point; throws InvalidArgument if the id is empty or already present.
  void add(OperatingPoint p);
  // Adds or replaces by id.
  void upsert(OperatingPoint p);

  // JSON. to_json/save write the format below; from_json/load validate every field and throw
  // Error(Parse) naming the field and, for points, the point index ("points[3].latency_ms: ...").
  //   {"format":"dynn-profile","version":1,"device_name":..,"supernet":..,"created":..,"notes":..,
  //    "family":"ofa_mbv3",
  //    "points":[{"id":..,"subnet":{"ks":[..],"e":[..],"d":[..],"r":224},"device":"cpu",
  //               "hardware":{"cpu_freq_khz":1900800},"latency_ms":..,"latency_p90_ms":..,
  //               "power_w":null,"energy_mj":null,"accuracy":0.78,"accuracy_source":"predicted",
  //               "macs":2.3e8,"level":-1}]}
  // "subnet" is in the family's JSON form; all points are of one family (the file's "family", else
  // the points' own family; a mix is Error(Parse) naming the point).
  std::string to_json(int indent = 1) const;
  static Profile from_json(const std::string& text);
  void save(const std::string& path) const;  // atomic (write to path.tmp, then rename)
  static Profile load(const std::string& path);

  static std::string now_iso8601();
};

}  // namespace dynn
