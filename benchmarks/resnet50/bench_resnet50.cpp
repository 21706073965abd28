// OFA ResNet-50 sub-networks on dynn's engines, same run: the XNNPACK engine ("fast") against the
// BN-folded LibTorch path ("aten") and OFA's unfused reference arithmetic, at 1 and 2 threads, on
// the published full-size layout (random weights: the speed does not depend on their values), plus
// prepare time and switch time between prepared sub-networks (typed, and as the family-tagged
// dynn::Subnet the runtime manager switches with). Medians of --runs inferences.
// --check DIR compares each engine's logits with <DIR>/<name>_logits.f32 on <name>_input.f32
// (benchmarks/resnet50/ort/export_onnx.py writes them, with the ONNX models, for the same weights).
//   bench_resnet50 [--runs N] [--weights FILE] [--engines fast,aten,reference] [--check DIR] [--json FILE]
#include <algorithm>
#include <cmath>
#include <iterator>
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
std::vector<float> read_f32(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  int runs = 15;
  std::string weights, json, check, engine_list = "fast,aten,reference";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--weights" && i + 1 < argc) weights = argv[++i];
    else if (a == "--json" && i + 1 < argc) json = argv[++i];
    else if (a == "--check" && i + 1 < argc) check = argv[++i];
    else if (a == "--engines" && i + 1 < argc) engine_list = argv[++i];
    else {
      fmt::print(stderr, "usage: bench_resnet50 [--runs N] [--weights FILE] [--engines fast,aten,reference] [--check DIR] [--json FILE]\n");
      return 2;
    }
  }
  std::vector<std::string> engines;
  for (size_t pos = 0; pos <= engine_list.size();) {
    const size_t c = std::min(engine_list.find(',', pos), engine_list.size());
    engines.push_back(engine_list.substr(pos, c - pos));
    pos = c + 1;
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
  std::string rows, js = "[";
  double worst_check = 0;
  fmt::print("| sub-network | GMACs | engine | 1 thread ms | 2 threads ms | prepare ms |\n|---|---|---|---|---|---|\n");
  for (const std::string& engine_name : engines) {
    const char* engine = engine_name.c_str();
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
      if (!check.empty()) {  // the same weights through PyTorch: the logits must agree
        const auto in = read_f32(check + "/" + n.name + "_input.f32"), ref = read_f32(check + "/" + n.name + "_logits.f32");
        if (in.size() != x.size() || ref.size() != y.size()) {
          fmt::print(stderr, "--check {}: {} does not hold a 1x3x{}x{} input and its logits\n", check, n.name, r, r);
          return 1;
        }
        net->infer(in.data(), 1, 3, r, r, y.data(), y.size());
        double max_ref = 0, max_diff = 0;
        for (size_t i = 0; i < y.size(); ++i) {
          max_ref = std::max(max_ref, static_cast<double>(std::abs(ref[i])));
          max_diff = std::max(max_diff, static_cast<double>(std::abs(y[i] - ref[i])));
        }
        worst_check = std::max(worst_check, max_diff / max_ref);
        if (!(max_diff <= 5e-4 * max_ref)) {
          fmt::print(stderr, "--check: {} on {} differs from PyTorch: max|dy|/max|y| = {:.2e}\n", n.name, engine, max_diff / max_ref);
          return 1;
        }
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
      const std::vector<dynn::Subnet> tagged(all.begin(), all.end());
      DynamicModel& generic = *net;
      std::vector<double> us, us_tagged;
      for (int k = 0; k < 3000; ++k) {  // alternating, so both see the same machine phase
        auto t0 = Clock::now();
        net->set_subnet(all[static_cast<size_t>(k) % all.size()]);
        us.push_back(ms_since(t0) * 1000);
        t0 = Clock::now();
        generic.set_subnet(tagged[static_cast<size_t>(k) % tagged.size()]);
        us_tagged.push_back(ms_since(t0) * 1000);
      }
      fmt::print("\nswitch between prepared sub-networks (fast): median {:.2f} us typed, {:.2f} us as dynn::Subnet through "
                 "DynamicModel (3000 switches each); {} plans, {:.1f} MB prepared, supernet {:.1f} MB\n\n",
                 median(us), median(us_tagged), net->memory().prepared_count, net->memory().prepared_bytes / 1e6,
                 net->memory().supernet_bytes / 1e6);
      js += fmt::format("{}{{\"switch_us\":{},\"switch_tagged_us\":{}}}", js.size() > 1 ? "," : "", median(us), median(us_tagged));
    }
  }
  js += "]";
  if (!check.empty()) fmt::print("--check: every engine's logits match PyTorch's on the same weights (worst max|dy|/max|y| {:.1e})\n", worst_check);
  if (!json.empty()) std::ofstream(json) << js << "\n";
  return 0;
}
