// OFA ResNet-50 sub-networks on dynn's engines, same run: the XNNPACK engine ("fast") against the
// BN-folded LibTorch path ("aten") and OFA's unfused reference arithmetic, at 1 and 2 threads, on
// the published full-size layout (random weights: the speed does not depend on their values), plus
// prepare time and switch time between prepared sub-networks. Medians of --runs inferences.
//   bench_resnet50 [--runs N] [--weights FILE] [--json FILE]
#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dynn/ofa_resnet50/supernet.hpp"

using namespace dynn;
using Clock = std::chrono::steady_clock;

namespace {
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  int runs = 15;
  std::string weights, json;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--weights" && i + 1 < argc) weights = argv[++i];
    else if (a == "--json" && i + 1 < argc) json = argv[++i];
    else {
      fmt::print(stderr, "usage: bench_resnet50 [--runs N] [--weights FILE] [--json FILE]\n");
      return 2;
    }
  }
  using S = ofa_resnet50::Subnet;
  struct Net {
    const char* name;
    S s;
  };
  S mid = S::largest(192);
  mid.d = {0, 1, 1, 1, 1};
  mid.w = {1, 1, 1, 1, 1, 1};
  mid.e.fill(0.25);
  const std::vector<Net> nets = {{"max224", S::largest(224)}, {"mid192", mid}, {"min128", S::smallest(128)}};
  const char* engines[] = {"fast", "aten", "reference"};
  std::string rows, js = "[";
  fmt::print("| sub-network | GMACs | engine | 1 thread ms | 2 threads ms | prepare ms |\n|---|---|---|---|---|---|\n");
  for (const char* engine : engines) {
    SupernetOptions o;
    o.engine = engine;
    auto net = weights.empty() ? OfaResNet50Supernet::random(50, ofa_resnet50::Widths::published(), o)
                               : OfaResNet50Supernet::load(weights, o);
    for (const Net& n : nets) {
      const int r = n.s.r;
      std::vector<float> x(static_cast<size_t>(3 * r * r)), y(static_cast<size_t>(net->num_classes()));
      for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 2654435761u) % 1000) / 500.f - 1.f;
      net->set_subnet(S::smallest(32));  // the plan under test is neither current nor cached
      net->clear_cache();
      auto t0 = Clock::now();
      net->set_subnet(n.s);
      const double prep = ms_since(t0);
      double med[2] = {0, 0};
      for (int t = 1; t <= 2; ++t) {
        net->set_num_threads(t);
        net->infer(x.data(), 1, 3, r, r, y.data(), y.size());  // warm-up (binds the thread pool)
        std::vector<double> ms;
        for (int k = 0; k < (std::strcmp(engine, "reference") == 0 ? std::max(3, runs / 3) : runs); ++k) {
          t0 = Clock::now();
          net->infer(x.data(), 1, 3, r, r, y.data(), y.size());
          ms.push_back(ms_since(t0));
        }
        med[t - 1] = median(ms);
      }
      const double gmacs = net->subnet_info(n.s).macs / 1e9;
      fmt::print("| {} | {:.2f} | {} | {:.2f} | {:.2f} | {:.1f} |\n", n.name, gmacs, engine, med[0], med[1], prep);
      js += fmt::format("{}{{\"subnet\":\"{}\",\"engine\":\"{}\",\"ms_1t\":{},\"ms_2t\":{},\"prepare_ms\":{}}}", js.size() > 1 ? "," : "",
                        n.name, engine, med[0], med[1], prep);
    }
    if (std::strcmp(engine, "fast") == 0) {
      std::vector<S> all;
      for (const Net& n : nets) all.push_back(n.s);
      net->prepare(all);
      std::vector<double> us;
      for (int k = 0; k < 3000; ++k) {
        auto t0 = Clock::now();
        net->set_subnet(all[static_cast<size_t>(k) % all.size()]);
        us.push_back(ms_since(t0) * 1000);
      }
      fmt::print("\nswitch between prepared sub-networks (fast): median {:.2f} us (3000 switches); {} plans, {:.1f} MB prepared, "
                 "supernet {:.1f} MB\n\n",
                 median(us), net->memory().prepared_count, net->memory().prepared_bytes / 1e6, net->memory().supernet_bytes / 1e6);
    }
  }
  js += "]";
  if (!json.empty()) std::ofstream(json) << js << "\n";
  return 0;
}
