// The supernet on a CUDA device: same exactness as on CPU, switching, moving between devices.
// Built only against a CUDA LibTorch (benchmarks/gpu/run.sh).
#include <ATen/ATen.h>

#include <atomic>
#include <thread>

#include "dynn/torch.hpp"
#include "ofa_fixtures.hpp"

using namespace dynn;

namespace {
std::vector<float> run(OfaMbv3Supernet& net, const std::vector<float>& x, const std::vector<int64_t>& shape) {
  std::vector<float> y(static_cast<size_t>(shape[0]) * static_cast<size_t>(net.num_classes()));
  net.infer(x.data(), shape[0], shape[1], shape[2], shape[3], y.data(), y.size());
  return y;
}
}  // namespace

TEST_CASE("a GPU is visible to this CUDA build", "[cuda]") { REQUIRE(at::hasCUDA()); }

TEST_CASE("fixture cases match the OFA reference on cuda:0, both engines", "[shared][cuda]") {
  REQUIRE(at::hasCUDA());
  const auto cases = dynn::test::load_ofa_cases();
  for (const char* engine : {"fast", "reference"}) {
    SupernetOptions o;
    o.engine = engine;
    o.device = "cuda:0";
    auto net = OfaMbv3Supernet::load(dynn::test::shared_path("fixtures/ofa_mbv3_w1.0/supernet.pth").string(), o);
    CHECK(net->device() == "cuda:0");
    for (const auto& c : cases) {
      net->set_subnet(c.cfg);
      dynn::test::check_logits(run(*net, c.input, c.input_shape), c.logits, 1000, std::string(engine) + " cuda " + c.name);
    }
  }
}

TEST_CASE("switching on the GPU while another thread infers", "[shared][cuda]") {
  const auto cases = dynn::test::load_ofa_cases();
  SupernetOptions o;
  o.device = "cuda:0";
  auto net = OfaMbv3Supernet::load(dynn::test::shared_path("fixtures/ofa_mbv3_w1.0/supernet.pth").string(), o);
  std::vector<const dynn::test::OfaCase*> same_r;
  std::vector<SubnetConfig> cfgs;
  for (const auto& c : cases)
    if (c.cfg.r == 224) { same_r.push_back(&c); cfgs.push_back(c.cfg); }
  net->prepare(cfgs);
  std::atomic<bool> stop{false};
  std::thread switcher([&] {
    size_t k = 0;
    while (!stop.load()) net->set_subnet(cfgs[k++ % cfgs.size()]);
  });
  int checked = 0;
  for (int it = 0; it < 60; ++it) {
    const auto* c = same_r[static_cast<size_t>(it) % same_r.size()];
    std::vector<float> y(static_cast<size_t>(c->input_shape[0]) * 1000);
    SubnetConfig ran;
    net->infer(c->input.data(), c->input_shape[0], 3, 224, 224, y.data(), y.size(), &ran);
    if (ran == c->cfg) {  // the fixture covers (config, input) pairs of the same case
      dynn::test::check_logits(y, c->logits, 1000, "concurrent cuda " + c->name);
      ++checked;
    }
  }
  stop = true;
  switcher.join();
  CHECK(checked > 0);
}

TEST_CASE("moving between CPU and GPU keeps the results", "[shared][cuda]") {
  const auto cases = dynn::test::load_ofa_cases();
  auto net = OfaMbv3Supernet::load(dynn::test::shared_path("fixtures/ofa_mbv3_w1.0/supernet.pth").string());
  const auto& c = cases[4];
  net->set_subnet(c.cfg);
  const auto cpu = run(*net, c.input, c.input_shape);
  net->set_device("cuda:0");
  CHECK(net->current_subnet() == c.cfg);
  dynn::test::check_logits(run(*net, c.input, c.input_shape), c.logits, 1000, "after move to cuda");
  net->set_device("cpu");
  CHECK(run(*net, c.input, c.input_shape) == cpu);
  CHECK_THROWS_AS(net->set_device("cuda:99"), Error);
}
