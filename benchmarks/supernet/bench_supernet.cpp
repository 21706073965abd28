// Supernet benchmark: inference on prepared sub-networks against a static LibTorch baseline of the
// same sub-network, switching and preparation times, the inferences right after a switch, and
// memory. Everything in one process and one run, interleaved, so the ratios survive this VM's
// slow/fast phases. Medians throughout.
//
//   bench_supernet [--weights FILE] [--engine fast|aten|reference] [--threads N] [--reps N] [--batch N]
//                  [--device cpu|cuda:0] [--json FILE]
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <ATen/Parallel.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dynn/torch.hpp"
#include "torch/ofa_mbv3/internal.hpp"

using namespace dynn;
using SteadyClock = std::chrono::steady_clock;

namespace {

double ms_since(SteadyClock::time_point t0) { return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

size_t rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

// Static baseline: the sub-network's weights sliced out into their own contiguous tensors once,
// then a plain eager LibTorch forward (NCHW at::conv2d + batch_norm + activations), i.e. what a
// static nn.Module export of the sub-network computes.
struct StaticNet {
  std::shared_ptr<ofa::Weights> w;
  SubnetConfig cfg;
  StaticNet(const ofa::Weights& src, const SubnetConfig& c) : cfg(c) {
    w = std::make_shared<ofa::Weights>(src);
    auto cut_bn = [](ofa::Bn& b, int64_t n) {
      b = ofa::Bn{b.weight.narrow(0, 0, n).clone(), b.bias.narrow(0, 0, n).clone(), b.mean.narrow(0, 0, n).clone(),
                  b.var.narrow(0, 0, n).clone()};
    };
    for (auto& b : w->blocks) {
      const int64_t mid = b.mid(c.e[static_cast<size_t>(b.index - 1)]);
      const int k = c.ks[static_cast<size_t>(b.index - 1)];
      b.expand_w = b.expand_w.narrow(0, 0, mid).clone();
      cut_bn(b.expand_bn, mid);
      b.dw_k[static_cast<size_t>(k)] = b.dw_k[static_cast<size_t>(k)].narrow(0, 0, mid).clone();
      cut_bn(b.dw_bn, mid);
      if (b.se) {
        const int64_t sm = ofa::Block::se_mid(static_cast<int>(mid));
        b.se_rw = b.se_rw.narrow(0, 0, sm).narrow(1, 0, mid).clone();
        b.se_rb = b.se_rb.narrow(0, 0, sm).clone();
        b.se_ew = b.se_ew.narrow(0, 0, mid).narrow(1, 0, sm).clone();
        b.se_eb = b.se_eb.narrow(0, 0, mid).clone();
      }
      b.proj_w = b.proj_w.narrow(1, 0, mid).clone();
    }
  }
  at::Tensor forward(const at::Tensor& x) const { return ofa::reference_forward(*w, cfg, x, nullptr); }
};

template <class F>
std::vector<double> time_runs(int reps, F&& f) {
  std::vector<double> t;
  t.reserve(static_cast<size_t>(reps));
  for (int i = 0; i < reps; ++i) {
    auto t0 = SteadyClock::now();
    f();
    t.push_back(ms_since(t0));
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::string weights = std::string(DYNN_SHARED_DIR_DEFAULT) + "/fixtures/ofa_mbv3_w1.0/supernet.pth";
  int threads = 2, reps = 40;
  int64_t batch = 1;
  std::string json_out, device = "cpu", engine = "fast";
  bool with_static = true, spin_workers = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) { fmt::print(stderr, "{} needs a value\n", a); std::exit(2); }
      return argv[++i];
    };
    if (a == "--weights") weights = next();
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--reps") reps = std::stoi(next());
    else if (a == "--json") json_out = next();
    else if (a == "--batch") batch = std::stoll(next());
    else if (a == "--device") device = next();
    else if (a == "--engine") engine = next();
    // Without the static LibTorch baseline no OpenMP worker spins between dynn's runs (at 2
    // threads on 2 CPUs those spinning workers take the CPUs XNNPACK's pool needs).
    else if (a == "--no-static") with_static = false;
    // SupernetOptions::spin_workers: XNNPACK's workers spin-wait between inferences.
    else if (a == "--spin-workers") spin_workers = true;
    else if (a == "--help" || a == "-h") {
      fmt::print("usage: bench_supernet [--weights FILE] [--engine fast|aten|reference] [--threads N] [--reps N] [--batch N] "
                 "[--device cpu|cuda:N] [--no-static] [--spin-workers] [--json FILE]\n");
      return 0;
    } else { fmt::print(stderr, "unknown argument {}\n", a); return 2; }
  }
  // Keep freed activations in the heap instead of returning them to the OS after every layer
  // (page faults are expensive in this VM; libtorch_fast_path.md 2.6). Applies to both engines.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  dynn::set_num_threads(threads);

  const size_t rss0 = rss_bytes();
  std::unique_ptr<OfaMbv3Supernet> net;
  std::string source;
  auto t_load = SteadyClock::now();
  SupernetOptions opts;
  opts.engine = engine;
  opts.spin_workers = spin_workers;
  if (std::filesystem::exists(weights)) {
    net = OfaMbv3Supernet::load(weights, opts);
    source = weights;
  } else {
    net = OfaMbv3Supernet::random(1.0, 1, opts);
    source = "random w1.0 (seed 1)";
  }
  if (device != "cpu") net->set_device(device);
  const double load_ms = ms_since(t_load);
  const size_t rss_loaded = rss_bytes();

  struct Net { const char* name; SubnetConfig cfg; };
  std::vector<Net> nets = {{"max224", SubnetConfig::uniform(7, 6, 4, 224)},
                           {"mid192", SubnetConfig::uniform(5, 4, 3, 192)},
                           {"min128", SubnetConfig::uniform(3, 3, 2, 128)}};
  const bool xnn = net->impl().kind == ofa::EngineKind::Xnnpack;
  fmt::print("dynn supernet benchmark: weights {}, device {}, engine {} ({}), {} threads, batch {}, {} reps\n", source, device,
             engine, xnn ? "XNNPACK" : net->impl().kind == ofa::EngineKind::Aten ? (ofa::prepacked_available() ? "ATen, oneDNN prepacked" : "ATen") : "reference",
             threads, batch, reps);
  fmt::print("supernet load: {:.0f} ms\n\n", load_ms);

  // Preparation: cold (first time in the process) and warm (re-prepare after clearing the cache).
  std::vector<double> prep_cold, prep_warm;
  // load() prepared max224 as its default sub-network: drop that plan so max224's first prepare is
  // timed too (it still profits from load's oneDNN warm-up, so it is less cold than the others).
  net->clear_cache();
  for (auto& n : nets) {
    auto t0 = SteadyClock::now();
    net->prepare({n.cfg});
    prep_cold.push_back(ms_since(t0));
  }
  for (auto& n : nets) {
    std::vector<double> w;
    for (int i = 0; i < 5; ++i) {
      net->clear_cache();
      net->set_subnet(nets[(&n - &nets[0] + 1) % nets.size()].cfg);  // keep something current
      net->clear_cache();
      auto t0 = SteadyClock::now();
      net->prepare({n.cfg});
      w.push_back(ms_since(t0));
    }
    prep_warm.push_back(median(w));
  }
  // Bytes of each prepared sub-network against its own sliced (folded) weights: the plan alone
  // against the weights it packs itself, and with the head every plan shares on both sides.
  std::vector<double> bytes_ratio, bytes_ratio_head;
  for (auto& n : nets) {
    net->clear_cache();
    net->prepare({n.cfg});
    const auto plan = net->impl().plans.lookup(n.cfg);
    const auto head = net->impl().xnn_head;
    const double own = plan->xnn ? plan->xnn->weight_floats() * sizeof(float) : 0.0;
    const double head_bytes = head ? static_cast<double>(head->bytes()) : 0.0;
    const double head_weights =
        head ? static_cast<double>((head->feature_mix->weight_floats() + head->classifier->weight_floats()) * sizeof(float)) : 0.0;
    bytes_ratio.push_back(plan->xnn ? static_cast<double>(plan->bytes) / own : 0.0);
    bytes_ratio_head.push_back(plan->xnn ? (static_cast<double>(plan->bytes) + head_bytes) / (own + head_weights) : 0.0);
  }
  net->clear_cache();
  net->prepare({nets[0].cfg, nets[1].cfg, nets[2].cfg});
  const size_t rss_prepared = rss_bytes();

  fmt::print("| sub-network | dynn prepared (ms) | p90 | static LibTorch eager (ms) | ratio dynn/static | prepare cold / warm (ms) |\n");
  fmt::print("|---|---|---|---|---|---|\n");
  std::vector<std::vector<double>> dyn_t(nets.size()), sta_t(nets.size());
  for (size_t k = 0; k < nets.size(); ++k) {
    const auto& n = nets[k];
    StaticNet st(*net->impl().weights, n.cfg);
    at::Tensor x = at::randn({batch, 3, n.cfg.r, n.cfg.r});
    std::vector<float> logits(static_cast<size_t>(batch) * 1000);
    net->set_subnet(n.cfg);
    // CPU: host buffers through infer(). GPU: device-resident input for both; the logits copy
    // back to the host synchronises the stream.
    const bool gpu = device != "cpu";
    at::Tensor xd = gpu ? x.to(net->impl().dev) : x;
    auto run_dyn = [&] {
      if (gpu) (void)forward(*net, xd).cpu();
      else net->infer(x.data_ptr<float>(), batch, 3, n.cfg.r, n.cfg.r, logits.data(), logits.size());
    };
    auto run_sta = [&] { c10::NoGradGuard g; (void)st.forward(xd).cpu(); };
    for (int i = 0; i < 5; ++i) {
      run_dyn();
      if (with_static) run_sta();
    }
    // Interleave in rounds so both see the same machine phase.
    for (int round = 0; round < 4; ++round) {
      auto a = time_runs(reps / 4, run_dyn);
      dyn_t[k].insert(dyn_t[k].end(), a.begin(), a.end());
      if (!with_static) continue;
      auto b = time_runs(std::max(2, reps / 8), run_sta);
      sta_t[k].insert(sta_t[k].end(), b.begin(), b.end());
    }
    if (with_static)
      fmt::print("| {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.1f} / {:.1f} |\n", n.name, median(dyn_t[k]),
                 pct(dyn_t[k], 0.9), median(sta_t[k]), median(dyn_t[k]) / median(sta_t[k]), prep_cold[k], prep_warm[k]);
    else
      fmt::print("| {} | {:.2f} | {:.2f} | not run | - | {:.1f} / {:.1f} |\n", n.name, median(dyn_t[k]), pct(dyn_t[k], 0.9),
                 prep_cold[k], prep_warm[k]);
  }

  // Switching between prepared sub-networks.
  std::vector<double> sw;
  for (int i = 0; i < 3000; ++i) {
    const auto& c = nets[static_cast<size_t>(i) % nets.size()].cfg;
    auto t0 = SteadyClock::now();
    net->set_subnet(c);
    sw.push_back(ms_since(t0) * 1000.0);
  }
  fmt::print("\nswitch between prepared sub-networks: median {:.2f} us, p99 {:.2f} us (3000 switches)\n", median(sw),
             pct(sw, 0.99));
  // The inferences right after a switch against the same positions without one. Cycles of 8
  // inferences alternate two sub-networks (a switch before each cycle) and interleave with cycles of
  // the same shape that stay (set_subnet to the same one). Per sub-network switched to: the extra
  // time of its 1st and 2nd inference over the median of inferences 5-8 of the cycle.
  struct AfterSwitch {
    size_t to, from;  // indices into nets
    double steady_ms, extra1_ms, extra2_ms, extra1_same_ms;
  };
  auto after_switch = [&](size_t a, size_t b) {
    constexpr int kCycle = 8, kCycles = 60;
    const size_t pair[2] = {a, b};
    std::vector<double> steady[2], extra1[2], extra2[2], extra1_same[2];
    std::vector<std::vector<float>> out(2, std::vector<float>(static_cast<size_t>(batch) * 1000));
    std::vector<at::Tensor> xs;
    for (size_t k : pair) xs.push_back(at::randn({batch, 3, nets[k].cfg.r, nets[k].cfg.r}));
    int cur = 0;
    for (int c = 0; c < 4 * kCycles + 4; ++c) {
      const bool switched = c % 2 == 0;
      if (switched) cur = 1 - cur;
      const auto& cfg = nets[pair[cur]].cfg;
      net->set_subnet(cfg);
      auto t = time_runs(kCycle, [&] {
        net->infer(xs[static_cast<size_t>(cur)].data_ptr<float>(), batch, 3, cfg.r, cfg.r, out[static_cast<size_t>(cur)].data(),
                   out[static_cast<size_t>(cur)].size());
      });
      if (c < 4) continue;  // warm-up
      const double s = median(std::vector<double>(t.begin() + 4, t.end()));
      if (switched) {
        steady[cur].push_back(s);
        extra1[cur].push_back(t[0] - s);
        extra2[cur].push_back(t[1] - s);
      } else {
        extra1_same[cur].push_back(t[0] - s);
      }
    }
    std::vector<AfterSwitch> r;
    for (int k = 0; k < 2; ++k)
      r.push_back({pair[k], pair[1 - k], median(steady[k]), median(extra1[k]), median(extra2[k]), median(extra1_same[k])});
    return r;
  };
  fmt::print("\ninferences after a switch (cycles of 8, 60 of each kind per sub-network; extra = over the median of inferences 5-8, ms):\n\n");
  fmt::print("| switched to | from | steady ms | extra 1st | extra 2nd | extra 1st without a switch |\n|---|---|---|---|---|---|\n");
  std::vector<AfterSwitch> after;
  for (size_t other : {size_t{1}, size_t{2}})
    for (const AfterSwitch& x : after_switch(0, other)) {
      after.push_back(x);
      fmt::print("| {} | {} | {:.2f} | {:+.3f} | {:+.3f} | {:+.3f} |\n", nets[x.to].name, nets[x.from].name, x.steady_ms, x.extra1_ms,
                 x.extra2_ms, x.extra1_same_ms);
    }
  const auto mem = net->memory();
  fmt::print("memory: supernet {:.1f} MB, {} prepared sub-networks {:.1f} MB (budget {:.0f} MB); process RSS: {:.1f} MB "
             "before load, {:.1f} MB loaded, {:.1f} MB with the 3 prepared; workspace {:.1f} MB; shared head {:.1f} MB\n",
             mem.supernet_bytes / 1e6, mem.prepared_count, mem.prepared_bytes / 1e6, mem.cache_budget / 1e6, rss0 / 1e6,
             rss_loaded / 1e6, rss_prepared / 1e6, mem.workspace_bytes / 1e6, mem.shared_bytes / 1e6);
  if (xnn)
    fmt::print("prepared bytes / own sliced weights: {} {:.3f}, {} {:.3f}, {} {:.3f} (with the shared head on both "
               "sides: {:.3f}, {:.3f}, {:.3f})\n",
               nets[0].name, bytes_ratio[0], nets[1].name, bytes_ratio[1], nets[2].name, bytes_ratio[2], bytes_ratio_head[0],
               bytes_ratio_head[1], bytes_ratio_head[2]);
  if (!json_out.empty()) {
    std::ofstream f(json_out);
    f << "{\"device\":\"" << device << "\",\"batch\":" << batch << ",\"threads\":" << threads << ",\"nets\":[";
    for (size_t k = 0; k < nets.size(); ++k)
      f << (k ? "," : "") << "{\"name\":\"" << nets[k].name << "\",\"dynn_ms\":" << median(dyn_t[k])
        << ",\"static_ms\":" << (with_static ? fmt::format("{}", median(sta_t[k])) : "null") << ",\"prepare_cold_ms\":" << prep_cold[k]
        << ",\"prepare_warm_ms\":" << prep_warm[k] << ",\"bytes_over_weights\":" << bytes_ratio[k]
        << ",\"bytes_over_weights_with_head\":" << bytes_ratio_head[k] << "}";
    f << "],\"switch_us_median\":" << median(sw) << ",\"switch_us_p99\":" << pct(sw, 0.99)
      << ",\"after_switch\":[";
    for (size_t i = 0; i < after.size(); ++i)
      f << (i ? "," : "") << "{\"to\":\"" << nets[after[i].to].name << "\",\"from\":\"" << nets[after[i].from].name
        << "\",\"steady_ms\":" << after[i].steady_ms << ",\"extra_first_ms\":" << after[i].extra1_ms
        << ",\"extra_second_ms\":" << after[i].extra2_ms << ",\"extra_first_without_switch_ms\":" << after[i].extra1_same_ms << "}";
    f << "]}\n";
  }
  return 0;
}
