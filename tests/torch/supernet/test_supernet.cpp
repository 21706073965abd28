#include <ATen/ATen.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <thread>

#include "dynn/error.hpp"
#include "dynn/torch.hpp"
#include "ofa_fixtures.hpp"
#include "torch/ofa_mbv3/internal.hpp"

using namespace dynn;
using dynn::test::check_logits;

namespace {

std::vector<float> run(OfaMbv3Supernet& net, const std::vector<float>& x, const std::vector<int64_t>& shape) {
  std::vector<float> y(static_cast<size_t>(shape[0]) * static_cast<size_t>(net.num_classes()));
  net.infer(x.data(), shape[0], shape[1], shape[2], shape[3], y.data(), y.size());
  return y;
}

std::vector<float> random_input(int64_t n, int r, uint64_t seed) {
  at::manual_seed(static_cast<uint64_t>(seed));
  at::Tensor t = at::randn({n, 3, r, r});
  return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
}

std::vector<float> to_vec(const at::Tensor& t) {
  at::Tensor c = t.cpu().contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

SubnetConfig mixed_config(uint64_t seed, int r) {
  // A deterministic non-uniform config.
  SubnetConfig c = SubnetConfig::largest(r);
  const int ks[3] = {3, 5, 7}, es[3] = {3, 4, 6}, ds[3] = {2, 3, 4};
  uint64_t s = seed * 2654435761u + 17;
  auto next = [&] { s = s * 6364136223846793005ull + 1442695040888963407ull; return static_cast<int>((s >> 33) % 3); };
  for (auto& k : c.ks) k = ks[next()];
  for (auto& e : c.e) e = es[next()];
  for (auto& d : c.d) d = ds[next()];
  return c;
}

std::string msg_of(const std::function<void()>& fn, ErrorCode expect) {
  try {
    fn();
  } catch (const Error& e) {
    CHECK(e.code() == expect);
    return e.what();
  }
  FAIL("no dynn::Error thrown");
  return {};
}

}  // namespace

TEST_CASE("fixture cases match the OFA reference, both containers, every engine", "[shared][supernet]") {
  const auto cases = dynn::test::load_ofa_cases();
  REQUIRE(cases.size() >= 10);
  for (const char* file : {"supernet.pth", "supernet_legacy.pth"}) {
    for (const char* engine : {"fast", "aten", "reference"}) {
      SupernetOptions o;
      o.engine = engine;
      auto net = OfaMbv3Supernet::load(dynn::test::shared_path(std::string("fixtures/ofa_mbv3_w1.0/") + file).string(), o);
      CHECK(net->arch().width_mult == 1.0);
      CHECK(net->arch().widths == std::vector<int>{16, 16, 24, 40, 80, 112, 160, 960, 1280});
      CHECK(net->arch().parameter_count == 7678880);  // ofa_spec.md 4.2
      for (const auto& c : cases) {
        net->set_subnet(c.cfg);
        check_logits(run(*net, c.input, c.input_shape), c.logits, 1000, std::string(file) + " " + engine + " " + c.name);
      }
    }
  }
}

TEST_CASE("switching while another thread infers: each inference finishes on the sub-network it started on",
          "[supernet][concurrency]") {
  auto net = OfaMbv3Supernet::random(1.0, 11);
  // One resolution for all, so the switcher can change the sub-network under any of the inputs.
  const int r = 160;
  const std::vector<SubnetConfig> cfgs = {SubnetConfig::smallest(r), mixed_config(3, r), mixed_config(4, r),
                                          SubnetConfig::largest(r)};
  std::vector<std::vector<float>> inputs;
  std::vector<int64_t> batch;
  for (size_t i = 0; i < cfgs.size(); ++i) {
    batch.push_back(static_cast<int64_t>(i % 2) + 1);
    inputs.push_back(random_input(batch.back(), r, 100 + i));
  }
  net->prepare(cfgs);
  // Expected output for (config j, input i): the same engine without a concurrent switch; the
  // diagonal is also checked against the exact reference engine.
  std::vector<std::vector<std::vector<float>>> expect(cfgs.size(), std::vector<std::vector<float>>(inputs.size()));
  for (size_t j = 0; j < cfgs.size(); ++j)
    for (size_t i = 0; i < inputs.size(); ++i) {
      expect[j][i].resize(static_cast<size_t>(batch[i]) * 1000);
      net->infer_subnet(cfgs[j], inputs[i].data(), batch[i], 3, r, r, expect[j][i].data(), expect[j][i].size());
      if (i == j) {
        at::Tensor xt = at::from_blob(inputs[i].data(), {batch[i], 3, r, r}, at::kFloat);
        check_logits(expect[j][i], to_vec(forward_reference(*net, cfgs[j], xt)), 1000, "reference " + cfgs[j].to_string());
      }
    }
  net->set_subnet(cfgs[0]);  // the first inference may start before the switcher's first switch
  std::atomic<bool> stop{false};
  std::atomic<int> switches{0};
  std::thread switcher([&] {
    size_t k = 1;
    while (!stop.load()) {
      net->set_subnet(cfgs[k++ % cfgs.size()]);
      switches.fetch_add(1);
    }
  });
  struct Joiner {  // a failed REQUIRE below throws: stop and join the switcher on the way out
    std::atomic<bool>& stop;
    std::thread& t;
    ~Joiner() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } joiner{stop, switcher};
  std::vector<int> ran_count(cfgs.size(), 0);
  for (int it = 0; it < 40; ++it) {
    const size_t i = static_cast<size_t>(it) % inputs.size();
    std::vector<float> y(static_cast<size_t>(batch[i]) * 1000);
    SubnetConfig ran;
    net->infer(inputs[i].data(), batch[i], 3, r, r, y.data(), y.size(), &ran);
    const size_t j = static_cast<size_t>(std::find(cfgs.begin(), cfgs.end(), ran) - cfgs.begin());
    INFO("inference " << it << " ran " << ran.to_string());
    REQUIRE(j < cfgs.size());
    ++ran_count[j];
    check_logits(y, expect[j][i], 1000, "concurrent inference " + std::to_string(it));
  }
  stop = true;
  switcher.join();
  CHECK(switches.load() > 40);
  int distinct = 0;
  for (int n : ran_count) distinct += n > 0;
  CHECK(distinct >= 2);  // the switcher really changed sub-networks under the inferring thread
}

TEST_CASE("key spellings, wrapping and width are handled; bad state dicts name the key", "[shared][supernet]") {
  const auto path = dynn::test::shared_path("fixtures/ofa_mbv3_w1.0/supernet.pth").string();
  const StateDict sd = load_checkpoint(path);
  const auto cases = dynn::test::load_ofa_cases();
  const auto& c = cases[2];
  auto base = OfaMbv3Supernet::from_state_dict(sd);
  base->set_subnet(c.cfg);
  const auto y0 = run(*base, c.input, c.input_shape);

  StateDict renamed;
  for (const auto& [k, t] : sd.entries) {
    std::string k2 = k;
    auto pos = k2.find("mobile_inverted_conv");
    if (pos != std::string::npos) k2.replace(pos, 20, "conv");
    if (k2.find("num_batches_tracked") != std::string::npos) continue;
    renamed.entries.emplace_back("module." + k2, t);
  }
  auto net2 = OfaMbv3Supernet::from_state_dict(renamed);
  net2->set_subnet(c.cfg);
  CHECK(run(*net2, c.input, c.input_shape) == y0);

  StateDict missing = sd;
  missing.entries.erase(missing.entries.begin() + 30);
  CHECK_THAT(msg_of([&] { OfaMbv3Supernet::from_state_dict(missing); }, ErrorCode::InvalidArgument),
             Catch::Contains("missing key"));

  StateDict wrong = sd;
  for (auto& [k, t] : wrong.entries)
    if (k.find("blocks.7.") != std::string::npos && k.find("point_linear.conv") != std::string::npos) {
      t.shape = {40, 120, 2, 1};
      t.strides = {240, 2, 1, 1};
    }
  const auto m = msg_of([&] { OfaMbv3Supernet::from_state_dict(wrong); }, ErrorCode::InvalidArgument);
  CHECK_THAT(m, Catch::Contains("blocks.7.") && Catch::Contains("[40, 120, 2, 1]") && Catch::Contains("[40, 240, 1, 1]"));

  StateDict extra = sd;
  extra.entries.emplace_back("blocks.21.conv.foo.weight", sd.entries[0].second);
  CHECK_THAT(msg_of([&] { OfaMbv3Supernet::from_state_dict(extra); }, ErrorCode::InvalidArgument),
             Catch::Contains("unexpected key") && Catch::Contains("blocks.21.conv.foo.weight"));
}

TEST_CASE("fast engine equals the exact reference on random supernets, any resolution and batch", "[supernet]") {
  for (double wm : {1.0, 1.2}) {
    auto net = OfaMbv3Supernet::random(wm, 7);
    INFO("width " << wm);
    int seed = 1;
    for (int r : {128, 129, 161, 176, 224}) {
      for (int64_t n : {int64_t(1), int64_t(2)}) {
        const SubnetConfig cfg = mixed_config(static_cast<uint64_t>(seed++), r);
        net->set_subnet(cfg);
        const auto x = random_input(n, r, static_cast<uint64_t>(seed));
        const auto y = run(*net, x, {n, 3, r, r});
        at::Tensor xt = at::from_blob(const_cast<float*>(x.data()), {n, 3, r, r}, at::kFloat);
        check_logits(y, to_vec(forward_reference(*net, cfg, xt)), 1000, cfg.to_string());
        check_logits(to_vec(forward(*net, xt)), y, 1000, "tensor API " + cfg.to_string());
      }
    }
  }
}

TEST_CASE("the random supernet is deterministic and its width multiplier is inferred", "[supernet]") {
  auto a = OfaMbv3Supernet::random(1.2, 3), b = OfaMbv3Supernet::random(1.2, 3), c = OfaMbv3Supernet::random(1.2, 4);
  CHECK(a->arch().widths == std::vector<int>{24, 24, 32, 48, 96, 136, 192, 1152, 1536});
  CHECK(a->arch().parameter_count == 10715752);  // w1.2, ofa_spec.md 4.2
  CHECK(OfaMbv3Supernet::random(1.0, 3)->arch().parameter_count == 7678880);
  const auto x = random_input(1, 128, 5);
  for (auto* n : {a.get(), b.get(), c.get()}) n->set_subnet(SubnetConfig::smallest(128));
  CHECK(run(*a, x, {1, 3, 128, 128}) == run(*b, x, {1, 3, 128, 128}));
  CHECK(run(*a, x, {1, 3, 128, 128}) != run(*c, x, {1, 3, 128, 128}));
  CHECK_THROWS_AS(OfaMbv3Supernet::random(0.0, 1), Error);
}

TEST_CASE("bad inference arguments give errors, never crashes", "[supernet]") {
  auto net = OfaMbv3Supernet::random(1.0, 1);
  net->set_subnet(SubnetConfig::smallest(128));
  std::vector<float> x(3 * 128 * 128, 0.1f), y(1000);
  CHECK_THAT(msg_of([&] { net->infer(x.data(), 1, 3, 160, 160, y.data(), y.size()); }, ErrorCode::InvalidArgument),
             Catch::Contains("160x160") && Catch::Contains("128x128"));
  CHECK_THAT(msg_of([&] { net->infer(x.data(), 1, 4, 128, 128, y.data(), y.size()); }, ErrorCode::InvalidArgument),
             Catch::Contains("4 channels"));
  CHECK_THAT(msg_of([&] { net->infer(x.data(), 1, 3, 128, 128, y.data(), 999); }, ErrorCode::BufferTooSmall),
             Catch::Contains("999"));
  msg_of([&] { net->infer(nullptr, 1, 3, 128, 128, y.data(), y.size()); }, ErrorCode::InvalidArgument);
  msg_of([&] { net->infer(x.data(), 0, 3, 128, 128, y.data(), y.size()); }, ErrorCode::InvalidArgument);
  SubnetConfig bad = SubnetConfig::smallest(128);
  bad.e[0] = 5;
  msg_of([&] { net->set_subnet(bad); }, ErrorCode::InvalidArgument);
  CHECK(net->current_subnet() == SubnetConfig::smallest(128));
  msg_of([&] { net->set_device("tpu"); }, ErrorCode::InvalidArgument);
  SupernetOptions o;
  o.engine = "turbo";
  msg_of([&] { OfaMbv3Supernet::random(1.0, 1, o); }, ErrorCode::InvalidArgument);
}

TEST_CASE("prepared sub-networks are cached within the byte budget", "[supernet]") {
  std::vector<SubnetConfig> levels;
  for (int i = 0; i < 6; ++i) levels.push_back(mixed_config(static_cast<uint64_t>(100 + i), 160 + 8 * i));
  size_t largest = 0;
  {
    auto probe = OfaMbv3Supernet::random(1.0, 2);
    for (const auto& c : levels) {
      probe->set_subnet(c);
      probe->clear_cache();  // all but the current one: c's bytes alone
      REQUIRE(probe->memory().prepared_count == 1);
      largest = std::max(largest, probe->memory().prepared_bytes);
    }
  }
  REQUIRE(largest > 0);
  SupernetOptions o;
  o.cache_bytes = largest * 5 / 2;  // room for two or three of the levels besides the current one
  auto net = OfaMbv3Supernet::random(1.0, 2, o);
  net->set_subnet(levels[0]);
  net->prepare(levels);
  const auto mem = net->memory();
  CHECK(mem.prepared_bytes <= o.cache_bytes);
  CHECK(mem.prepared_count >= 2);
  CHECK(mem.prepared_count < levels.size() + 1);  // something was evicted
  CHECK(mem.supernet_bytes > 25u << 20);           // w1.0: 7.7 M floats
  CHECK(net->is_prepared(levels.back()));          // most recent stays
  CHECK(net->is_prepared(levels[0]));              // the current one is never evicted
  CHECK_FALSE(net->is_prepared(levels[1]));        // least recently used went first
  net->clear_cache();
  // Every plan but the current one goes; the current one is in use, and its bytes still count.
  CHECK(net->memory().prepared_count == 1);
  CHECK(net->is_prepared(levels[0]));
  CHECK_FALSE(net->is_prepared(levels.back()));
  CHECK(net->memory().prepared_bytes > 0);
  // Still runs after the cache was emptied.
  std::vector<float> x(3 * 160 * 160, 0.5f), y(1000);
  net->infer(x.data(), 1, 3, 160, 160, y.data(), y.size());
}

TEST_CASE("per-sub-network BN statistics replace the shared ones without touching them", "[supernet]") {
  auto net = OfaMbv3Supernet::random(1.0, 9);
  const SubnetConfig a = mixed_config(1, 160), b = mixed_config(2, 160);
  const auto x = random_input(1, 160, 3);
  net->set_subnet(b);
  const auto yb = run(*net, x, {1, 3, 160, 160});
  net->set_subnet(a);
  const auto ya = run(*net, x, {1, 3, 160, 160});

  BnStats st;
  for (const auto& [name, ch] : net->bn_layout(a))
    st.mean_var[name] = {std::vector<float>(static_cast<size_t>(ch), 0.01f), std::vector<float>(static_cast<size_t>(ch), 2.0f)};
  net->set_bn_stats(a, st);
  CHECK(net->has_bn_stats(a));
  const auto ya2 = run(*net, x, {1, 3, 160, 160});
  CHECK(ya2 != ya);
  at::Tensor xt = at::from_blob(const_cast<float*>(x.data()), {1, 3, 160, 160}, at::kFloat);
  check_logits(ya2, to_vec(forward_reference(*net, a, xt)), 1000, "fast vs reference with overridden BN stats");
  net->set_subnet(b);
  CHECK(run(*net, x, {1, 3, 160, 160}) == yb);  // other sub-networks unaffected
  net->clear_bn_stats(a);
  net->set_subnet(a);
  CHECK(run(*net, x, {1, 3, 160, 160}) == ya);  // shared buffers untouched

  BnStats missing = st;
  missing.mean_var.erase("first_conv.bn");
  CHECK_THAT(msg_of([&] { net->set_bn_stats(a, missing); }, ErrorCode::InvalidArgument), Catch::Contains("first_conv.bn"));
  BnStats short_len = st;
  short_len.mean_var["final_expand_layer.bn"].first.pop_back();
  CHECK_THAT(msg_of([&] { net->set_bn_stats(a, short_len); }, ErrorCode::InvalidArgument),
             Catch::Contains("final_expand_layer.bn") && Catch::Contains("needs 960"));
}

TEST_CASE("BN re-calibration computes OFA's weighted batch statistics", "[supernet]") {
  auto net = OfaMbv3Supernet::random(1.0, 11);
  const SubnetConfig cfg = mixed_config(5, 128);
  std::vector<std::vector<float>> batches = {random_input(3, 128, 21), random_input(1, 128, 22)};
  size_t k = 0;
  const BnStats st = net->recalibrate_bn(cfg, [&](std::vector<float>& data, int64_t& n) {
    if (k >= batches.size()) return false;
    data = batches[k];
    n = static_cast<int64_t>(data.size() / (3 * 128 * 128));
    ++k;
    return true;
  });
  CHECK(st.mean_var.size() == net->bn_layout(cfg).size());
  CHECK(net->has_bn_stats(cfg));
  // First BN: batch-size-weighted average of per-batch means and biased variances of conv(x).
  const auto& w = *net->impl().weights;
  at::Tensor sum_m = at::zeros({16}, at::kDouble), sum_v = at::zeros({16}, at::kDouble);
  for (const auto& b : batches) {
    const int64_t n = static_cast<int64_t>(b.size() / (3 * 128 * 128));
    at::Tensor y = at::conv2d(at::from_blob(const_cast<float*>(b.data()), {n, 3, 128, 128}, at::kFloat), w.first_w, {}, 2, 1)
                       .to(at::kDouble);
    at::Tensor m = y.mean({0, 2, 3});
    sum_m += m * static_cast<double>(n);
    sum_v += (y - m.view({1, -1, 1, 1})).pow(2).mean({0, 2, 3}) * static_cast<double>(n);
  }
  const auto& [mean, var] = st.mean_var.at("first_conv.bn");
  REQUIRE(mean.size() == 16);
  for (size_t i = 0; i < 16; ++i) {
    CHECK(mean[i] == Approx(sum_m[static_cast<int64_t>(i)].item<double>() / 4).margin(1e-5));
    CHECK(var[i] == Approx(sum_v[static_cast<int64_t>(i)].item<double>() / 4).epsilon(1e-4));
  }
  // The recalibrated sub-network is the reference with those stats (fast path folded them in).
  const auto x = batches[1];
  net->set_subnet(cfg);
  at::Tensor xt = at::from_blob(const_cast<float*>(x.data()), {1, 3, 128, 128}, at::kFloat);
  check_logits(run(*net, x, {1, 3, 128, 128}), to_vec(forward_reference(*net, cfg, xt)), 1000, "recalibrated");
  CHECK_THROWS_AS(net->recalibrate_bn(cfg, [](std::vector<float>&, int64_t&) { return false; }), Error);
  CHECK_THROWS_AS(net->recalibrate_bn(cfg, [](std::vector<float>& d, int64_t& n) { d.assign(10, 0.f); n = 1; return true; }), Error);
}

TEST_CASE("Dynamic-OFA per-level BN statistics fit the w1.2 sub-networks of their levels", "[shared][supernet]") {
  const auto stats = load_dynamic_ofa_bn_stats(dynn::test::shared_path("data/dynamic_ofa/nets_6_bn_stats.pt").string());
  REQUIRE(stats.size() == 6);
  std::ifstream f(dynn::test::shared_path("data/dynamic_ofa/nets_6_levels.json"));
  const auto j = nlohmann::json::parse(f);
  auto net = OfaMbv3Supernet::random(1.2, 1);
  const auto& levels = j.is_array() ? j : j.at("levels");
  REQUIRE(levels.size() == 6);
  for (size_t l = 0; l < levels.size(); ++l) {
    const auto& lv = levels[l];
    const SubnetConfig cfg = SubnetConfig::from_json((lv.contains("arch") ? lv.at("arch") : lv.at("config")).dump());
    INFO("level " << l << " " << cfg.to_string());
    REQUIRE_NOTHROW(net->set_bn_stats(cfg, stats.at(static_cast<int>(l))));
    net->set_subnet(cfg);
    const auto x = random_input(1, cfg.r, l);
    at::Tensor xt = at::from_blob(const_cast<float*>(x.data()), {1, 3, cfg.r, cfg.r}, at::kFloat);
    check_logits(run(*net, x, {1, 3, cfg.r, cfg.r}), to_vec(forward_reference(*net, cfg, xt)), 1000, "level stats");
  }
}

TEST_CASE("non-finite input pixels are refused the same way by every engine", "[supernet]") {
  for (const char* engine : {"fast", "aten", "reference"}) {
    INFO(engine);
    SupernetOptions o;
    o.engine = engine;
    auto net = OfaMbv3Supernet::random(1.0, 2, o);
    net->set_subnet(SubnetConfig::smallest(128));
    std::vector<float> y(2000, 7.f);
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity()}) {
      auto x = random_input(2, 128, 3);
      x[3 * 128 * 128 + 77] = bad;  // second image
      CHECK_THAT(msg_of([&] { net->infer(x.data(), 2, 3, 128, 128, y.data(), y.size()); }, ErrorCode::InvalidArgument),
                 Catch::Contains("non-finite") && Catch::Contains(std::to_string(3 * 128 * 128 + 77)));
      CHECK(y[0] == 7.f);  // nothing written
    }
    const auto x = random_input(1, 128, 3);
    CHECK_NOTHROW(net->infer(x.data(), 1, 3, 128, 128, y.data(), y.size()));
  }
}

TEST_CASE("infer_subnet runs the named sub-network while another thread switches resolution", "[supernet]") {
  auto net = OfaMbv3Supernet::random(1.0, 5);
  const SubnetConfig a = mixed_config(3, 128), b = mixed_config(4, 160);
  net->prepare({a, b});
  const auto xa = random_input(1, 128, 9);
  std::vector<float> expect(1000), y(1000);
  net->infer_subnet(a, xa.data(), 1, 3, 128, 128, expect.data(), expect.size());
  net->set_subnet(b);
  std::atomic<bool> stop{false};
  std::atomic<int> switches{0};
  std::thread switcher([&] {
    while (!stop) {
      net->set_subnet(switches % 2 ? a : b);
      ++switches;
    }
  });
  int failures = 0;
  for (int i = 0; i < 40; ++i) {
    try {
      net->infer_subnet(a, xa.data(), 1, 3, 128, 128, y.data(), y.size());
      if (y != expect) ++failures;
    } catch (const Error&) {
      ++failures;
    }
  }
  stop = true;
  switcher.join();
  CHECK(failures == 0);
  CHECK(switches.load() > 10);
  // The current sub-network is whatever the switcher left; infer_subnet did not change it.
  const SubnetConfig cur = net->current_config();
  CHECK((cur == a || cur == b));
  // Arguments are checked against the named sub-network.
  CHECK_THAT(msg_of([&] { net->infer_subnet(b, xa.data(), 1, 3, 128, 128, y.data(), y.size()); }, ErrorCode::InvalidArgument),
             Catch::Contains("128x128") && Catch::Contains("160"));
  SubnetConfig bad = a;
  bad.ks[0] = 4;
  msg_of([&] { net->infer_subnet(bad, xa.data(), 1, 3, 128, 128, y.data(), y.size()); }, ErrorCode::InvalidArgument);
}

TEST_CASE("each supernet keeps its own thread count and runs with it", "[supernet]") {
  // The ATen engine applies the count to the calling thread's OpenMP setting, which is observable;
  // the XNNPACK engine runs on a pool of the model's own (test_cpu_engine.cpp).
  SupernetOptions o;
  o.engine = "aten";
  auto a = OfaMbv3Supernet::random(1.0, 1, o), b = OfaMbv3Supernet::random(1.0, 1, o);
  a->set_num_threads(1);
  b->set_num_threads(2);
  CHECK(a->num_threads() == 1);  // b's setting does not reach a
  CHECK(b->num_threads() == 2);
  const SubnetConfig s = SubnetConfig::smallest(128);
  a->set_subnet(s);
  b->set_subnet(s);
  std::vector<float> x(3 * 128 * 128, 0.25f), y(1000);
  a->infer(x.data(), 1, 3, 128, 128, y.data(), y.size());
  CHECK(get_num_threads() == 1);  // a ran with its own count on this thread
  b->infer(x.data(), 1, 3, 128, 128, y.data(), y.size());
  CHECK(get_num_threads() == 2);
  CHECK_THROWS_AS(a->set_num_threads(0), Error);
  CHECK(a->num_threads() == 1);
  a->set_num_threads(1);
}

TEST_CASE("checkpoints with non-finite weights or negative BN variances are refused, naming the key",
          "[shared][supernet]") {
  const StateDict sd = load_checkpoint(dynn::test::shared_path("fixtures/ofa_mbv3_w1.0/supernet.pth").string());
  auto poisoned = [&](const std::string& key_part, float value, size_t at) {
    StateDict s = sd;
    for (auto& [k, t] : s.entries)
      if (k.find(key_part) != std::string::npos) {
        auto v = t.to_float();
        v[at % v.size()] = value;
        t = TensorData::from_float(t.shape, v);
        return std::make_pair(k, s);
      }
    FAIL("no key contains " << key_part);
    return std::make_pair(std::string(), s);
  };
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (auto [part, value] : std::vector<std::pair<std::string, float>>{{"running_var", nan},
                                                                       {"blocks.5.conv.depth_conv.bn.bn.running_var", -1.f},
                                                                       {"first_conv.conv.weight", inf},
                                                                       {"classifier.linear.bias", nan},
                                                                       {"running_mean", -inf}}) {
    INFO(part << " = " << value);
    auto [key, s] = poisoned(part, value, 3);
    const auto m = msg_of([&] { OfaMbv3Supernet::from_state_dict(s); }, ErrorCode::InvalidArgument);
    CHECK_THAT(m, Catch::Contains(key) && (Catch::Contains("non-finite") || Catch::Contains("negative variance")));
  }
}

TEST_CASE("a sub-network prepared on several threads equals one prepared on one", "[supernet]") {
  // The fast engine folds and packs its dense convolutions on the model's thread count; more
  // threads than CPUs must give the same plan: the same packed weights (bytes within 0.1 %: the
  // first binding's buffers follow the pool's thread count) and bit-identical logits.
  SubnetConfig s = SubnetConfig::largest(160);
  s.ks[3] = 5, s.e[7] = 4, s.d[2] = 3;
  std::vector<float> x(3 * 160 * 160);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 101) / 50.f - 1.f;
  std::vector<std::vector<float>> logits;
  std::vector<size_t> bytes;
  for (int threads : {1, 3}) {
    auto net = OfaMbv3Supernet::random(1.0, 7);
    net->set_num_threads(threads);
    net->set_subnet(s);
    bytes.push_back(net->memory().prepared_bytes);
    net->set_num_threads(1);  // the same arithmetic in both runs: only the preparation differs
    std::vector<float> y(1000);
    net->infer(x.data(), 1, 3, 160, 160, y.data(), y.size());
    logits.push_back(y);
  }
  CHECK(std::abs(static_cast<double>(bytes[0]) - static_cast<double>(bytes[1])) < 1e-3 * static_cast<double>(bytes[0]));
  CHECK(logits[0] == logits[1]);
}

TEST_CASE("the fast CPU engine's thread count sizes its own pool and leaves LibTorch's alone", "[supernet]") {
  // Changing LibTorch's count resizes LibTorch's own thread pools (the next two-thread inferences
  // then stalled), which a model on dynn's XNNPACK engine does not use.
  auto net = OfaMbv3Supernet::random(1.0, 1);
  if (!cpu::available()) {
    WARN("XNNPACK unavailable here: the fast engine runs on ATen, which takes the count");
    return;
  }
  const int before = get_num_threads();
  const int other = before == 1 ? 2 : 1;
  net->set_num_threads(other);
  CHECK(net->num_threads() == other);
  CHECK(get_num_threads() == before);
  net->set_subnet(SubnetConfig::smallest(128));
  std::vector<float> x(3 * 128 * 128, 0.25f), y(1000);
  net->infer(x.data(), 1, 3, 128, 128, y.data(), y.size());
  CHECK(get_num_threads() == before);
  CHECK_THROWS_AS(net->set_num_threads(0), Error);
}
