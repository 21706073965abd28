// OFA ResNet-50: exact against the OFA reference's golden logits on every engine and container,
// switching, widths read from shapes (a layout no fixture has), and bad input.
#include <ATen/ATen.h>

#include <thread>

#include "dynn/error.hpp"
#include "dynn/ofa_resnet50/supernet.hpp"
#include "dynn/platform/platform.hpp"
#include "dynn/runtime.hpp"
#include "ofa_fixtures.hpp"

using namespace dynn;
using dynn::test::check_logits;
using dynn::test::error_of;
using RnSubnet = ofa_resnet50::Subnet;

namespace {

std::string fixture(const char* file) {
  return dynn::test::shared_path(std::string("fixtures/ofa_resnet50_narrow/") + file).string();
}

std::vector<float> run(DynamicModel& m, const dynn::test::FixtureCase& c) {
  std::vector<float> y(static_cast<size_t>(c.input_shape[0]) * static_cast<size_t>(m.num_classes()));
  m.infer(c.input.data(), c.input_shape[0], c.input_shape[1], c.input_shape[2], c.input_shape[3], y.data(), y.size());
  return y;
}

// A supernet of arbitrary widths: random tensors of the shapes expected_tensors gives.
StateDict random_state_dict(const ofa_resnet50::Widths& w, uint64_t seed) {
  at::manual_seed(seed);
  StateDict sd;
  for (const auto& spec : ofa_resnet50::expected_tensors(w)) {
    if (spec.optional) continue;
    at::Tensor t;
    const auto& k = spec.key;
    if (k.find("running_var") != std::string::npos) t = at::rand(spec.shape) * 0.5 + 0.75;
    else if (k.find("running_mean") != std::string::npos || k.find(".bias") != std::string::npos) t = at::randn(spec.shape) * 0.05;
    else if (k.find(".bn.weight") != std::string::npos) t = at::rand(spec.shape) * 0.4 + 0.3;
    else t = at::randn(spec.shape) * std::sqrt(1.0 / static_cast<double>(at::numel(at::empty(spec.shape)) / spec.shape[0]));
    t = t.contiguous();
    sd.set(k, TensorData::from_float(spec.shape, std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel())));
  }
  return sd;
}

}  // namespace

TEST_CASE("ofa_resnet50 matches the OFA reference on every case, engine and container", "[resnet50][shared]") {
  const auto cases = dynn::test::load_fixture_cases("ofa_resnet50_narrow");
  REQUIRE(cases.size() == 10);
  for (const char* file : {"supernet.pth", "supernet_legacy.pth"}) {
    for (const char* engine : {"fast", "aten", "reference"}) {
      SupernetOptions o;
      o.engine = engine;
      auto net = OfaResNet50Supernet::load(fixture(file), o);
      CHECK(net->family() == "ofa_resnet50");
      CHECK(net->parameter_count() == 3333888);
      for (const auto& c : cases) {
        net->set_subnet(c.subnet_json);
        check_logits(run(*net, c), c.logits, 1000, std::string(file) + " " + engine + " " + c.name);
      }
    }
  }
  // The unfused reference path and a sub-network run without switching.
  auto net = OfaResNet50Supernet::load(fixture("supernet.pth"));
  for (const auto& c : cases) {
    const RnSubnet s = RnSubnet::from_json(c.subnet_json);
    std::vector<float> y(c.logits.size());
    net->infer_reference(s, c.input.data(), c.input_shape[0], 3, c.input_shape[2], c.input_shape[3], y.data(), y.size());
    check_logits(y, c.logits, 1000, "infer_reference " + c.name);
    net->infer_subnet(s, c.input.data(), c.input_shape[0], 3, c.input_shape[2], c.input_shape[3], y.data(), y.size());
    check_logits(y, c.logits, 1000, "infer_subnet " + c.name);
  }
}

TEST_CASE("ofa_resnet50 switching: prepared plans, the cache budget, switching while inferring", "[resnet50][shared]") {
  SupernetOptions o;
  o.num_threads = 1;
  auto net = OfaResNet50Supernet::load(fixture("supernet.pth"), o);
  const auto cases = dynn::test::load_fixture_cases("ofa_resnet50_narrow");
  std::vector<RnSubnet> subnets;
  for (const auto& c : cases) subnets.push_back(RnSubnet::from_json(c.subnet_json));
  net->prepare(subnets);
  for (const auto& s : subnets) CHECK(net->is_prepared(s));
  const ModelMemory m = net->memory();
  CHECK(m.prepared_count >= 10);
  CHECK(m.prepared_bytes > 0);
  CHECK(m.supernet_bytes >= 3333888 * sizeof(float));
  if (net->engine() == "fast") {  // the XNNPACK engine leaves its activation workspace for the next run
    std::vector<float> y0(cases[0].logits.size());
    net->set_subnet(subnets[0]);
    net->infer(cases[0].input.data(), cases[0].input_shape[0], 3, 224, 224, y0.data(), y0.size());
    CHECK(net->memory().workspace_bytes > 0);
  }

  // A switch to a prepared sub-network changes what runs and what current() says.
  net->set_subnet(subnets[1]);
  CHECK(net->current() == subnets[1]);
  CHECK(net->current_subnet().resolution() == subnets[1].r);
  CHECK(net->current_subnet() == subnets[1]);
  CHECK(net->subnet_info(net->current_subnet()).macs < net->subnet_info(cases[0].subnet_json).macs);

  // Two threads: one switches back and forth, one runs case 0's sub-network without switching.
  std::atomic<bool> stop{false};
  std::thread switcher([&] {
    size_t i = 0;
    while (!stop.load()) net->set_subnet(subnets[i++ % subnets.size()]);
  });
  const auto& c0 = cases[0];
  for (int k = 0; k < 3; ++k) {
    std::vector<float> y(c0.logits.size());
    net->infer_subnet(subnets[0], c0.input.data(), c0.input_shape[0], 3, c0.input_shape[2], c0.input_shape[3], y.data(), y.size());
    check_logits(y, c0.logits, 1000, "while switching");
  }
  stop = true;
  switcher.join();

  // A budget of one byte keeps only the current plan (and the newest).
  SupernetOptions tiny;
  tiny.cache_bytes = 1;
  auto small = OfaResNet50Supernet::load(fixture("supernet.pth"), tiny);
  small->prepare(subnets);
  CHECK(small->memory().prepared_count <= 2);
  small->set_subnet(subnets[3]);
  std::vector<float> y(cases[3].logits.size());
  small->infer(cases[3].input.data(), cases[3].input_shape[0], 3, cases[3].input_shape[2], cases[3].input_shape[3], y.data(), y.size());
  check_logits(y, cases[3].logits, 1000, "after eviction");
}

TEST_CASE("ofa_resnet50 under the runtime manager on this machine: profiled, switched, exact logits", "[resnet50][shared]") {
  SupernetOptions o;
  o.num_threads = 1;
  std::shared_ptr<DynamicModel> net = OfaResNet50Supernet::load(fixture("supernet.pth"), o);
  auto platform = std::shared_ptr<Platform>(Platform::detect());
  const std::vector<std::pair<std::string, Subnet>> levels = {{"small", RnSubnet::smallest(96)}, {"large", RnSubnet::largest(160)}};
  ProfilerOptions po;
  po.warmup = 1;
  po.repetitions = 5;
  po.supernet = "ofa_resnet50_narrow";
  Profile profile = profile_model(*net, *platform, make_tasks(levels, {{"", HardwareSetting{}}}, "cpu"), po,
                                  {[](const Subnet& s) { return s.resolution() == 160 ? 0.8 : 0.7; }, {}});
  REQUIRE(profile.points.size() == 2);
  const OperatingPoint& small = profile.at("small");
  const OperatingPoint& large = profile.at("large");
  CHECK(small.latency_ms > 0);
  CHECK(large.macs == net->subnet_info(large.subnet).macs);  // the model's own widths, not the published layout's
  CHECK(large.macs < subnet_family("ofa_resnet50").published_macs(large.subnet));

  AppOptions a;
  a.model = net;
  a.points = profile.points;
  a.controller = make_controller("pareto", "{}");
  a.targets.latency_ms = large.latency_ms * 20;  // room for the most accurate
  a.knobs = {};
  RuntimeManager m(platform, std::move(a));
  const auto cases = dynn::test::load_fixture_cases("ofa_resnet50_narrow");
  auto expect_exact = [&](const Subnet& s) {
    const int r = s.resolution();
    at::manual_seed(7);
    const at::Tensor x = at::rand({1, 3, r, r});
    std::vector<float> y(1000), ref(1000);
    const StepResult res = m.infer(x.data_ptr<float>(), 1, 3, r, r, y.data(), y.size());
    CHECK(m.point(res.point).subnet == s);
    auto& typed = static_cast<OfaResNet50Supernet&>(*net);
    typed.infer_subnet(s.as<RnSubnet>("test"), x.data_ptr<float>(), 1, 3, r, r, ref.data(), ref.size());
    CHECK(y == ref);  // the same prepared plan
    CHECK(res.latency_ms > 0);
  };
  CHECK(m.plan().subnet == large.subnet);
  expect_exact(large.subnet);
  m.set_targets(Targets{small.latency_ms * 0.5, 0, 0, 0});  // nothing fits: the fastest
  CHECK(m.plan().subnet == small.subnet);
  expect_exact(small.subnet);
  CHECK(net->current_subnet() == small.subnet);
  CHECK(m.telemetry().summary().switches >= 1);
}

TEST_CASE("ofa_resnet50 per-sub-network BN statistics: recalibrated as OFA does, used by every engine, errors by name",
          "[resnet50][shared]") {
  SupernetOptions o;
  o.num_threads = 1;
  auto fast = OfaResNet50Supernet::load(fixture("supernet.pth"), o);
  o.engine = "reference";
  auto ref = OfaResNet50Supernet::load(fixture("supernet.pth"), o);
  const RnSubnet s = RnSubnet::from_json(dynn::test::load_fixture_cases("ofa_resnet50_narrow").at(3).subnet_json);
  const int r = s.r;
  const auto layout = fast->bn_layout(s);
  REQUIRE(layout.front().first == "input_stem.0.bn");
  at::manual_seed(11);
  const at::Tensor probe = at::randn({1, 3, r, r});
  auto logits = [&](OfaResNet50Supernet& net) {
    std::vector<float> y(1000);
    net.infer_subnet(s, probe.data_ptr<float>(), 1, 3, r, r, y.data(), y.size());
    return y;
  };
  const std::vector<float> before = logits(*fast);

  // Two calibration batches of different sizes.
  std::vector<at::Tensor> batches{at::randn({3, 3, r, r}), at::randn({2, 3, r, r})};
  size_t next = 0;
  const BnStats stats = fast->recalibrate_bn(s, [&](std::vector<float>& data, int64_t& n) {
    if (next == batches.size()) return false;
    const at::Tensor& b = batches[next++];
    n = b.size(0);
    data.assign(b.data_ptr<float>(), b.data_ptr<float>() + b.numel());
    return true;
  });
  CHECK(fast->has_bn_stats(s));
  REQUIRE(stats.mean_var.size() == layout.size());
  for (const auto& [name, ch] : layout) {
    REQUIRE(stats.mean_var.count(name));
    CHECK(stats.mean_var.at(name).first.size() == static_cast<size_t>(ch));
  }
  // The first BN by hand: the stem conv's output statistics, weighted by batch size.
  const StateDict sd = load_checkpoint(fixture("supernet.pth"));
  const TensorData* wt = sd.find("input_stem.0.conv.conv.weight");
  if (!wt) wt = &sd.at("input_stem.0.conv.weight");
  const std::vector<float> wv = wt->to_float();
  const at::Tensor w0 = at::from_blob(const_cast<float*>(wv.data()), wt->shape, at::kFloat);
  const int64_t c0 = layout.front().second;
  at::Tensor mean = at::zeros({c0}, at::kDouble), sq = at::zeros({c0}, at::kDouble);
  for (const auto& b : batches) {
    const at::Tensor y = at::conv2d(b, w0.slice(0, 0, c0), {}, 2, 1).to(at::kDouble);
    const at::Tensor m = y.mean({0, 2, 3});
    mean += m * static_cast<double>(b.size(0));
    sq += (y - m.view({1, -1, 1, 1})).pow(2).mean({0, 2, 3}) * static_cast<double>(b.size(0));
  }
  mean /= 5.0;
  sq /= 5.0;
  const auto& [m0, v0] = stats.mean_var.at("input_stem.0.bn");
  for (int64_t c = 0; c < c0; ++c) {
    CHECK(m0[static_cast<size_t>(c)] == Approx(mean[c].item<double>()).margin(1e-5));
    CHECK(v0[static_cast<size_t>(c)] == Approx(sq[c].item<double>()).epsilon(1e-4));
  }

  // The fast engine (statistics folded into its plan) and the reference engine agree on them.
  const std::vector<float> after = logits(*fast);
  ref->set_bn_stats(s, stats);
  check_logits(after, logits(*ref), 1000, "fast vs reference with the recalibrated statistics");
  float changed = 0;
  for (size_t i = 0; i < after.size(); ++i) changed = std::max(changed, std::abs(after[i] - before[i]));
  CHECK(changed > 1e-3f);
  // The current sub-network picks them up at once; clearing puts the shared statistics back.
  fast->set_subnet(s);
  ref->clear_bn_stats(s);
  CHECK_FALSE(ref->has_bn_stats(s));
  check_logits(logits(*ref), before, 1000, "reference after clear_bn_stats vs fast before");
  fast->clear_bn_stats(s);
  const std::vector<float> cleared = logits(*fast);
  CHECK(cleared == before);

  // Errors name the layer.
  BnStats bad = stats;
  bad.mean_var.erase("input_stem.0.bn");
  CHECK_THAT(error_of([&] { fast->set_bn_stats(s, bad); }, ErrorCode::InvalidArgument), Catch::Contains("missing 'input_stem.0.bn'"));
  bad = stats;
  bad.mean_var["blocks.99.conv1.bn"] = stats.mean_var.at("input_stem.0.bn");
  CHECK_THAT(error_of([&] { fast->set_bn_stats(s, bad); }, ErrorCode::InvalidArgument), Catch::Contains("'blocks.99.conv1.bn' is not a BN layer"));
  bad = stats;
  bad.mean_var.at(layout[4].first).second.pop_back();
  CHECK_THAT(error_of([&] { fast->set_bn_stats(s, bad); }, ErrorCode::InvalidArgument), Catch::Contains(layout[4].first));
  bad = stats;
  bad.mean_var.at(layout[2].first).second[0] = -1;
  CHECK_THAT(error_of([&] { fast->set_bn_stats(s, bad); }, ErrorCode::InvalidArgument), Catch::Contains("negative"));
  CHECK_FALSE(fast->has_bn_stats(s));
  CHECK_THAT(error_of([&] { fast->recalibrate_bn(s, [](std::vector<float>&, int64_t&) { return false; }); }, ErrorCode::InvalidArgument),
             Catch::Contains("no images"));
  CHECK_THAT(error_of([&] {
               fast->recalibrate_bn(s, [&](std::vector<float>& d, int64_t& n) {
                 n = 2;
                 d.assign(7, 0.f);
                 return true;
               });
             }, ErrorCode::InvalidArgument),
             Catch::Contains("must hold"));
}

TEST_CASE("ofa_resnet50 widths come from the shapes: a layout no fixture has", "[resnet50]") {
  ofa_resnet50::Widths w;
  w.stem = 24;
  w.stem_mid = ofa_resnet50::Widths{24, 0, {}, 0}.stem_mid_out(2);
  w.stage = {48, 96, 160, 320};
  w.num_classes = 37;
  const StateDict sd = random_state_dict(w, 7);
  auto fast = OfaResNet50Supernet::from_state_dict(sd);
  SupernetOptions ro;
  ro.engine = "reference";
  auto ref = OfaResNet50Supernet::from_state_dict(sd, ro);
  CHECK(fast->widths().stage == w.stage);
  CHECK(fast->num_classes() == 37);
  for (const RnSubnet& s : {RnSubnet::largest(96), RnSubnet::smallest(64),
                          RnSubnet::from_json(R"({"d":[2,1,0,2,1],"e":[0.25,0.2,0.35,0.2,0.35,0.25,0.2,0.35,0.25,0.2,0.35,0.25,0.2,0.35,0.25,0.2,0.35,0.25],"w":[0,2,1,0,2,1],"r":77})")}) {
    at::manual_seed(3);
    at::Tensor x = at::randn({2, 3, s.r, s.r});
    std::vector<float> a(2 * 37), b(2 * 37);
    fast->infer_subnet(s, x.data_ptr<float>(), 2, 3, s.r, s.r, a.data(), a.size());
    ref->infer_subnet(s, x.data_ptr<float>(), 2, 3, s.r, s.r, b.data(), b.size());
    check_logits(a, b, 37, s.to_json());
  }
}

TEST_CASE("ofa_resnet50 bad checkpoints, sub-networks and inputs get errors naming what is wrong", "[resnet50][shared]") {
  const StateDict good = load_checkpoint(fixture("supernet.pth"));
  {
    StateDict sd = good;
    sd.set("blocks.5.conv2.conv.conv.weight", TensorData::from_float({3, 3}, std::vector<float>(9, 0.f)));
    CHECK_THAT(error_of([&] { OfaResNet50Supernet::from_state_dict(sd); }, ErrorCode::InvalidArgument),
               Catch::Contains("blocks.5.conv2.conv.conv.weight") && Catch::Contains("[3, 3]"));
  }
  {
    StateDict sd = good;
    sd.set("blocks.5.extra.weight", TensorData::from_float({1}, {0.f}));
    CHECK_THAT(error_of([&] { OfaResNet50Supernet::from_state_dict(sd); }, ErrorCode::InvalidArgument),
               Catch::Contains("unexpected key 'blocks.5.extra.weight'"));
  }
  {
    StateDict sd;
    for (const auto& [k, t] : good.entries)
      if (k.find("blocks.9.conv3") == std::string::npos) sd.set(k, t);
    CHECK_THAT(error_of([&] { OfaResNet50Supernet::from_state_dict(sd); }, ErrorCode::InvalidArgument),
               Catch::Contains("missing 'blocks.9.conv3"));
  }
  {
    StateDict sd = good;
    std::vector<float> v(64, 1.f);
    v[5] = std::nanf("");
    sd.set("blocks.0.conv3.bn.bn.weight", TensorData::from_float({64}, v));
    CHECK_THAT(error_of([&] { OfaResNet50Supernet::from_state_dict(sd); }, ErrorCode::InvalidArgument),
               Catch::Contains("NaN"));
  }
  CHECK_THAT(error_of([&] { OfaResNet50Supernet::from_state_dict(StateDict{}); }, ErrorCode::InvalidArgument),
             Catch::Contains("not an OFA ResNet"));

  auto net = OfaResNet50Supernet::load(fixture("supernet.pth"));
  CHECK_THAT(error_of([&] { net->set_subnet(std::string(R"({"d":[2,2,2,2,2],"e":[0.3],"w":[0,0,0,0,0,0],"r":128})")); },
                      ErrorCode::InvalidArgument),
             Catch::Contains("'e'"));
  CHECK_THAT(error_of([&] { net->subnet_info(R"({"ks":[3],"e":[3],"d":[2],"r":128})"); }, ErrorCode::InvalidArgument),
             Catch::Contains("unknown key 'ks'"));
  net->set_subnet(RnSubnet::smallest(128));
  std::vector<float> x(3 * 128 * 128, 0.1f), y(1000);
  CHECK_THAT(error_of([&] { net->infer(x.data(), 1, 3, 160, 160, y.data(), y.size()); }, ErrorCode::InvalidArgument),
             Catch::Contains("resolution 128x128"));
  CHECK(error_of([&] { net->infer(x.data(), 1, 3, 128, 128, y.data(), 999); }, ErrorCode::BufferTooSmall).size() > 0);
  CHECK_THAT(error_of([&] { net->infer(nullptr, 1, 3, 128, 128, y.data(), y.size()); }, ErrorCode::InvalidArgument),
             Catch::Contains("null"));
  x[77] = std::numeric_limits<float>::infinity();
  CHECK_THAT(error_of([&] { net->infer(x.data(), 1, 3, 128, 128, y.data(), y.size()); }, ErrorCode::InvalidArgument),
             Catch::Contains("index 77"));
  CHECK_THAT(error_of([&] { net->set_num_threads(0); }, ErrorCode::InvalidArgument), Catch::Contains("1..1024"));
  SupernetOptions bad;
  bad.engine = "turbo";
  CHECK_THAT(error_of([&] { OfaResNet50Supernet::from_state_dict(good, bad); }, ErrorCode::InvalidArgument),
             Catch::Contains("turbo"));
}
