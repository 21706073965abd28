// The runtime manager's overhead per inference with the real LibTorch supernet: the same
// sub-network run by a bare loop (net->infer) and through RuntimeManager::infer with the `fixed`
// and `pareto` controllers on this machine's detected platform, in alternating blocks so both see
// the same machine phase. Medians of per-inference wall time.
//
//   bench_runtime_model [--weights FILE] [--threads N] [--rounds N]
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dynn/dynn.hpp"
#include "dynn/ofa_mbv3.hpp"

using namespace dynn;
using SteadyClock = std::chrono::steady_clock;

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  std::string weights = std::string(DYNN_SHARED_DIR_DEFAULT) + "/fixtures/ofa_mbv3_w1.0/supernet.pth";
  int threads = 2, rounds = 10;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--weights" || a == "--threads" || a == "--rounds") && i + 1 < argc) {
      const std::string v = argv[++i];
      if (a == "--weights") weights = v;
      else if (a == "--threads") threads = std::stoi(v);
      else rounds = std::stoi(v);
    } else {
      std::printf("usage: bench_runtime_model [--weights FILE] [--threads N] [--rounds N]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  mallopt(M_MMAP_THRESHOLD, 1 << 30);  // as bench_supernet: no page-fault storms in this VM
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  SupernetOptions so;
  so.num_threads = threads;
  std::shared_ptr<OfaMbv3Supernet> net = std::filesystem::exists(weights) ? OfaMbv3Supernet::load(weights, so)
                                                                         : OfaMbv3Supernet::random(1.0, 1, so);
  const std::vector<std::pair<std::string, SubnetConfig>> nets = {{"min128", SubnetConfig::uniform(3, 3, 2, 128)},
                                                                  {"mid192", SubnetConfig::uniform(5, 4, 3, 192)},
                                                                  {"max224", SubnetConfig::uniform(7, 6, 4, 224)}};
  // Operating points with this machine's latency (a quick measurement) and MACs; the accuracy is
  // only an ordering for the controllers (bigger = more accurate), not a measured figure.
  std::vector<OperatingPoint> points;
  for (size_t i = 0; i < nets.size(); ++i) {
    OperatingPoint op;
    op.id = nets[i].first;
    op.subnet = nets[i].second;
    op.level = static_cast<int>(i);
    op.accuracy = 0.70 + 0.04 * static_cast<double>(i);
    const SubnetConfig& cfg = nets[i].second;
    op.macs = static_cast<double>(ofa_mbv3::count_macs(cfg, net->arch().width_mult));
    net->set_subnet(cfg);
    std::vector<float> x(static_cast<size_t>(3 * cfg.r * cfg.r), 0.5f), y(1000);
    std::vector<double> t;
    for (int k = 0; k < 15; ++k) {
      const auto t0 = SteadyClock::now();
      net->infer(x.data(), 1, 3, cfg.r, cfg.r, y.data(), y.size());
      t.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
    }
    op.latency_ms = op.latency_p90_ms = median(t);
    points.push_back(op);
  }
  auto platform = std::shared_ptr<Platform>(Platform::detect());
  fmt::print("runtime manager overhead with the LibTorch supernet: {}, {} threads, platform '{}', {} rounds x 20 inferences "
             "per side\n\n",
             std::filesystem::exists(weights) ? weights : "random w1.0", threads, platform->name(), rounds);
  fmt::print("| controller | sub-network | bare loop (ms/inf, median) | manager (ms/inf, median) | difference |\n|---|---|---|---|---|\n");
  for (const char* ctrl : {"fixed", "pareto"}) {
    for (size_t i = 0; i < points.size(); ++i) {
      // pareto: a loose target, so the most accurate point (max224) is the stable choice; its
      // whole decision path (prediction, online correction, selection) still runs every step.
      if (std::string(ctrl) == "pareto" && i + 1 != points.size()) continue;
      AppOptions app;
      app.model = std::shared_ptr<DynamicModel>(net, net.get());
      app.points = points;
      app.knobs = {};  // overhead only: no hardware changes
      const std::string params = std::string(ctrl) == "fixed" ? fmt::format(R"({{"point": {}}})", i) : "{}";
      app.controller = make_controller(ctrl, params);
      app.targets.latency_ms = points.back().latency_ms * 10;
      RuntimeManager mgr(platform, std::move(app));
      const SubnetConfig& cfg = points[i].subnet.as<SubnetConfig>("bench_runtime_model");
      std::vector<float> x(static_cast<size_t>(3 * cfg.r * cfg.r), 0.5f), y(1000);
      std::vector<double> bare, managed;
      for (int k = 0; k < 10; ++k) {  // let the controller settle
        const int r = mgr.plan().subnet.resolution();
        std::vector<float> xk(static_cast<size_t>(3 * r * r), 0.5f);
        mgr.infer(xk.data(), 1, 3, r, r, y.data(), y.size());
      }
      for (int r = 0; r < rounds; ++r) {
        net->set_subnet(cfg);
        for (int k = 0; k < 20; ++k) {
          const auto t0 = SteadyClock::now();
          net->infer(x.data(), 1, 3, cfg.r, cfg.r, y.data(), y.size());
          bare.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
        }
        for (int k = 0; k < 20; ++k) {
          const auto t0 = SteadyClock::now();  // decide + switch + run + measure + learn
          const OperatingPoint& p = mgr.plan();
          if (p.subnet.resolution() != cfg.r) throw Error(ErrorCode::Internal, "controller left the benchmarked point");
          mgr.infer(x.data(), 1, 3, cfg.r, cfg.r, y.data(), y.size());
          managed.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
        }
      }
      const double b = median(bare), m = median(managed);
      fmt::print("| {} | {} | {:.3f} | {:.3f} | {:+.2f}% |\n", ctrl, points[i].id, b, m, (m / b - 1) * 100);
    }
  }
  return 0;
}
