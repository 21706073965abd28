// One inference of a prepared sub-network, for instruction counting (callgrind.sh): loads the
// supernet, prepares the sub-network, runs it twice to warm up, then once inside
// dynn_counted_inference(), the function callgrind.sh collects.
//
//   bench_infer_once [--weights FILE | --random] [--engine fast|aten|reference] [--subnet "ks=... r=128"]
//                    [--threads N]
#include <cstdio>
#include <string>
#include <vector>

#include "dynn/ofa_mbv3.hpp"

extern "C" __attribute__((noinline)) void dynn_counted_inference(dynn::OfaMbv3Supernet& net, const float* x, int r,
                                                                 float* y, size_t n) {
  net.infer(x, 1, 3, r, r, y, n);
}

int main(int argc, char** argv) {
  std::string weights = std::string(DYNN_SHARED_DIR_DEFAULT) + "/fixtures/ofa_mbv3_w1.0/supernet.pth";
  std::string subnet = "ks=33333333333333333333 e=33333333333333333333 d=22222 r=128";  // min128
  dynn::SupernetOptions opts;
  int threads = 1;
  bool random = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--weights") weights = next();
    else if (a == "--random") random = true;
    else if (a == "--engine") opts.engine = next();
    else if (a == "--subnet") subnet = next();
    else if (a == "--threads") threads = std::stoi(next());
    else {
      std::fprintf(stderr, "usage: bench_infer_once [--weights FILE | --random] [--engine E] [--subnet S] [--threads N]\n");
      return 2;
    }
  }
  try {
    auto net = random ? dynn::OfaMbv3Supernet::random(1.0, 1, opts) : dynn::OfaMbv3Supernet::load(weights, opts);
    net->set_num_threads(threads);
    const dynn::SubnetConfig cfg = dynn::SubnetConfig::parse(subnet, net->search_space());
    net->set_subnet(cfg);
    std::vector<float> x(static_cast<size_t>(3) * cfg.r * cfg.r, 0.25f), y(static_cast<size_t>(net->num_classes()));
    for (int i = 0; i < 2; ++i) net->infer(x.data(), 1, 3, cfg.r, cfg.r, y.data(), y.size());
    dynn_counted_inference(*net, x.data(), cfg.r, y.data(), y.size());
    std::printf("engine %s, %s: logits[0] %.6f\n", net->engine().c_str(), cfg.to_string().c_str(), y[0]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_infer_once: %s\n", e.what());
    return 1;
  }
  return 0;
}
