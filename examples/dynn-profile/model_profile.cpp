// dynn-profile profile --weights/--random: real latency of the LibTorch supernet on this machine,
// as a Profile and, layer by layer, as a look-up table in the OFA/Dynamic-OFA format.
#include "model_profile.hpp"

#include <chrono>
#include <fstream>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "../common/model.hpp"
#include "dynn/error.hpp"
#include "dynn/model_registry.hpp"
#include "dynn/ofa_mbv3.hpp"
#include "dynn/platform.hpp"
#include "dynn/runtime/model_profiler.hpp"

using namespace dynn;

namespace {

std::string cpu_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      const auto c = line.find(':');
      if (c != std::string::npos) return line.substr(c + 2);
    }
  return "unknown CPU";
}

double run_once(OfaMbv3Supernet& net, const SubnetConfig& cfg, std::vector<float>& in, std::vector<float>& out,
                std::vector<double>* layers = nullptr) {
  const auto t0 = std::chrono::steady_clock::now();
  net.infer(in.data(), 1, 3, cfg.r, cfg.r, out.data(), out.size(), nullptr, layers);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The nine uniform sub-networks (every k x e, depth 4) run every layer a table at r has: each
// stage's first block and later blocks for every (k, e), plus the fixed layers.
LatencyTable measure_table(OfaMbv3Supernet& net, const std::vector<int>& resolutions, const ProfilerOptions& po) {
  const double w = net.arch().width_mult;
  LatencyTable table(w, po.device_name);
  for (int r : resolutions) {
    std::map<std::string, std::vector<double>> samples;  // key -> ms (blocks with one key pooled)
    for (int k : {3, 5, 7})
      for (int e : {3, 4, 6}) {
        const SubnetConfig cfg = SubnetConfig::uniform(k, e, 4, r);
        const auto layers = table.network_layers(cfg);
        net.set_subnet(cfg);
        std::vector<float> in(static_cast<size_t>(3 * r * r), 0.5f), out(static_cast<size_t>(net.num_classes()));
        std::vector<double> secs;
        for (int i = 0; i < po.warmup; ++i) run_once(net, cfg, in, out);
        for (int i = 0; i < po.repetitions; ++i) {
          run_once(net, cfg, in, out, &secs);
          if (secs.size() != layers.size())
            throw Error(ErrorCode::Internal, fmt::format("timed {} layers, the table format has {}", secs.size(), layers.size()));
          for (size_t j = 0; j < layers.size(); ++j) samples[layers[j].key()].push_back(secs[j] * 1e3);
        }
      }
    for (const auto& [key, ms] : samples) {
      const SampleStats st = summarize_samples(ms, po.outlier_k);
      table.set(r, key, LutEntry{static_cast<int64_t>(st.kept), st.mean_ms, st.std_ms});
    }
    const size_t expected = table.all_layers(r).size();
    if (table.table(r).size() != expected)
      throw Error(ErrorCode::Internal, fmt::format("measured {} layers at r={}, the table needs {}", table.table(r).size(), r, expected));
    fmt::print(stderr, "look-up table r={}: {} layers measured\n", r, expected);
  }
  return table;
}

}  // namespace

int profile_model(const ModelProfileOptions& o) {
  SupernetOptions so;
  so.num_threads = o.threads;
  std::unique_ptr<DynamicModel> model;
  if (o.weights.empty()) model = OfaMbv3Supernet::random(o.width, 1, so);
  else model = load_model(o.weights, so);  // any family, detected from the keys
  auto* mbv3 = dynamic_cast<OfaMbv3Supernet*>(model.get());
  std::vector<std::pair<std::string, Subnet>> subnets;
  if (mbv3) {
    subnets = o.mbv3_subnets();
  } else {
    if (o.have_levels || !o.predictor.empty() || !o.lut_out.empty())
      throw Error(ErrorCode::InvalidArgument, fmt::format("profile: --levels, --predictor and --lut-out are OFA MobileNetV3 data; "
                                                          "{} is an {} checkpoint (use --config)", o.weights, model->family()));
    for (size_t i = 0; i < o.configs.size(); ++i)
      subnets.emplace_back(fmt::format("C{}", i), demo::parse_other_subnet(o.configs[i], model->family()));
    if (subnets.empty()) throw Error(ErrorCode::InvalidArgument, "no sub-network given: use --config largest, smallest or JSON");
  }
  ProfilerOptions po = o.profiler;
  po.device_name = fmt::format("{}, {} threads (LibTorch, dynn {} engine)", cpu_name(), model->num_threads(), model->engine());
  if (mbv3) {
    const double w = mbv3->arch().width_mult;
    if (w <= 0) throw Error(ErrorCode::Unsupported, "profile: the checkpoint's widths match no standard width multiplier");
    po.supernet = ofa_mbv3::supernet_name(w);
  } else {
    po.supernet = model->family();
  }
  po.notes = o.weights.empty() ? fmt::format("random-initialised w{} supernet (latency only)", o.width) : "weights: " + o.weights;

  // This machine as a platform: its energy counter (RAPL, INA3221) gives energy per point where
  // one is readable; the points set no knobs (the thread count is --threads).
  std::unique_ptr<Platform> platform = Platform::detect();
  ModelProfilerHooks h;
  std::optional<AccuracyPredictor> pred;
  if (!o.predictor.empty()) {
    pred = AccuracyPredictor::load(o.predictor);
    h.accuracy = [&](const Subnet& s) { return pred->predict(s); };
  }
  const auto t0 = std::chrono::steady_clock::now();
  const Profile p = profile_model(*model, *platform, make_tasks(subnets, {{"", HardwareSetting{}}}, "cpu"), po, h);
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("{}\n{:<10} {:>10} {:>10} {:>10} {:>10}  {}\n", po.device_name, "id", "median ms", "p90 ms", "mJ", "MMACs", "sub-network");
  for (const auto& op : p.points)
    fmt::print("{:<10} {:>10.3f} {:>10.3f} {:>10} {:>10.1f}  {}\n", op.id, op.latency_ms, op.latency_p90_ms,
               op.energy_mj ? fmt::format("{:.1f}", *op.energy_mj) : "n/a", op.macs / 1e6, op.subnet.to_string());
  fmt::print("profiled {} operating points in {:.1f} s ({:.2f} s per point, {} warm-up + {} timed inferences each)\n",
             p.points.size(), total_s, total_s / static_cast<double>(std::max<size_t>(1, p.points.size())), po.warmup,
             po.repetitions);
  if (!o.lut_out.empty()) {
    const auto t1 = std::chrono::steady_clock::now();
    const LatencyTable table = measure_table(*mbv3, o.lut_resolutions, po);
    table.save_dir(o.lut_out);
    fmt::print("wrote a look-up table ({} resolutions) to {} in {:.1f} s\n", table.resolutions().size(), o.lut_out,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count());
    // How well the per-layer sum predicts the whole network here.
    for (const auto& op : p.points)
      if (table.covers(op.subnet.resolution()))
        fmt::print("  {}: table predicts {:.3f} ms, measured {:.3f} ms (ratio {:.2f})\n", op.id, table.predict_ms(op.subnet),
                   op.latency_ms, table.predict_ms(op.subnet) / op.latency_ms);
  }
  return 0;
}
