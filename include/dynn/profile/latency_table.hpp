// Per-layer latency look-up tables in the OFA / Dynamic-OFA JSON format (docs/ofa_spec.md section 8):
// a directory of "{r}_lookup_table.json" files, each mapping a layer key such as
//   "expanded_conv-input:56x56x32-output:28x28x48-expand:192-kernel:5-stride:2-idskip:0-se:1-hs:0"
// to {"count": n, "mean": ms, "std": ms}. A sub-network's latency is the sum of the "mean" of the
// layers it runs. Tables are tied to one width multiplier (the published ones to w1.2).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "dynn/ofa_mbv3_arch.hpp"
#include "dynn/platform/simulated.hpp"
#include "dynn/subnet_config.hpp"

namespace dynn {

// One layer of the OFA MobileNetV3 as the look-up tables name it.
struct LayerSpec {
  enum class Kind { Conv, ExpandedConv, Conv1, AvgPool, Conv2, Logits };
  Kind kind = Kind::Conv;
  int h_in = 0, c_in = 0, h_out = 0, c_out = 0;
  // ExpandedConv only:
  int expand = 0;  // middle channels (round(cin * e); C0 for the first block)
  int kernel = 0, stride = 0;
  bool idskip = false, se = false, hs = false;
  int block = 0;   // supernet block index (0 = first block, 1..20), informative

  std::string key() const;  // the exact key of the table format
};

struct LutEntry {
  int64_t count = 0;  // number of measurements
  double mean = 0;    // milliseconds
  double std = 0;     // milliseconds
};

// A SimLatencyModel: the simulator times inferences from it (load_latency_tables below).
class LatencyTable : public SimLatencyModel {
 public:
  explicit LatencyTable(double width_mult = 1.2, std::string name = {});

  double width_mult() const { return m_arch.width_mult(); }
  const ofa_mbv3::Arch& arch() const { return m_arch; }
  const std::string& name() const { return m_name; }
  void set_name(std::string n) { m_name = std::move(n); }

  // Loads every "{r}_lookup_table.json" in dir (other files are ignored). Throws NotFound when the
  // directory or any table is missing, Parse (naming file, key and field) for malformed content.
  static LatencyTable load_dir(const std::string& dir, double width_mult = 1.2);
  // Parses one file's text into resolution r (replacing what was there); `origin` names it in errors.
  void load_json(int r, const std::string& text, const std::string& origin = "lookup table");
  // Writes one file per resolution, sorted keys, same format; creates dir if needed.
  void save_dir(const std::string& dir) const;
  std::string to_json(int r) const;

  std::vector<int> resolutions() const;
  bool covers(int r) const { return m_tables.count(r) != 0; }
  const std::map<std::string, LutEntry>& table(int r) const;  // throws NotFound naming r
  void set(int r, const std::string& key, const LutEntry& e) { m_tables[r][key] = e; }
  size_t size() const { return m_tables.size(); }

  // Predicted latency (ms): sum of "mean" over network_layers(c). Throws NotFound naming the
  // resolution (with the covered range) or the missing key.
  double predict_ms(const SubnetConfig& c) const;
  double predict_ms(const Subnet& s) const override;  // an ofa_mbv3 one, else InvalidArgument
  bool covers_family(const std::string& family) const override { return family == SubnetConfig::kFamily; }
  // The same, term by term (key, ms), in network order.
  std::vector<std::pair<std::string, double>> breakdown(const SubnetConfig& c) const;

  // The layers a sub-network runs, in order, as the table keys them (validates c).
  std::vector<LayerSpec> network_layers(const SubnetConfig& c) const;
  // Every distinct layer any sub-network at resolution r can run (96 for OFA MobileNetV3):
  // what a profiler must measure to fill a table for r.
  std::vector<LayerSpec> all_layers(int r) const;

 private:
  ofa_mbv3::Arch m_arch;
  std::string m_name;
  std::map<int, std::map<std::string, LutEntry>> m_tables;
};

// Loads the per-layer tables of cpu_dir and gpu_dir (LatencyTable::load_dir), e.g. the
// Dynamic-OFA Jetson ones: .../latency_lut_jetson_xavier_nx_cpu and ..._gpu, into the simulator
// (SimulatedPlatform::set_latency_tables). gpu_dir may be empty (CPU-only boards).
void load_latency_tables(SimulatedPlatform& sim, const std::string& cpu_dir, const std::string& gpu_dir = "");

}  // namespace dynn
