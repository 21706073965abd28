#include <cmath>
#include <fstream>

#include <catch2/catch.hpp>

#include "dynn/error.hpp"
#include "dynn/profile.hpp"
#include "test_support.hpp"

using namespace dynn;

namespace {

// A fake device: latency grows with MACs and falls with the "freq" knob; one slow outlier in 10.
struct FakeDevice {
  int calls = 0;
  int prepared = 0, finished = 0;
  double vclock = 0;
  HardwareSetting current;
  Measurement measure(const ProfileTask& t) {
    ++calls;
    const double base = static_cast<double>(ofa_mbv3::count_macs(t.subnet.as<SubnetConfig>("FakeDevice"), 1.2)) / 1e9 / (static_cast<double>(t.hardware.at("freq")) / 1000.0);
    const double s = base * (calls % 10 == 0 ? 5.0 : 1.0 + 0.001 * (calls % 3));
    vclock += s;
    return {s, s * 4.0, 4.0};  // 4 W
  }
  ProfilerHooks hooks() {
    ProfilerHooks h;
    h.measure = [this](const ProfileTask& t) { return measure(t); };
    h.prepare = [this](const ProfileTask& t) { ++prepared; current = t.hardware; };
    h.finish = [this](const ProfileTask&) { ++finished; current.clear(); };
    h.clock = [this] { return vclock; };
    h.accuracy = [](const Subnet& c) { return c.resolution() / 300.0; };
    return h;
  }
};

std::vector<ProfileTask> tasks() {
  return make_tasks({{"small", SubnetConfig::smallest(160)}, {"large", SubnetConfig::largest(224)}},
                    {{"f1000", {{"freq", 1000}}}, {"f500", {{"freq", 500}}}}, "cpu");
}

}  // namespace

TEST_CASE("summarize_samples: median, p90, outliers", "[profiler]") {
  auto st = summarize_samples({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0);
  CHECK(st.median_ms == 5.5);
  CHECK(st.p90_ms == Approx(9.1));
  CHECK(st.kept == 10);
  CHECK(st.mean_ms == 5.5);
  st = summarize_samples({10, 10.1, 9.9, 10, 10.2, 9.8, 10, 100}, 5);
  CHECK(st.dropped == 1);
  CHECK(st.max_ms == 10.2);
  CHECK(st.median_ms == 10);
  st = summarize_samples({10, 10, 10, 1000}, 5);  // MAD 0: nothing can be called an outlier
  CHECK(st.kept == 4);
  CHECK(summarize_samples({7}, 5).p90_ms == 7);
  CHECK_THROWS_AS(summarize_samples({}, 5), Error);
  CHECK_THROWS_WITH(summarize_samples({1, -1}, 5), Catch::Contains("sample 1"));
  CHECK_THROWS_AS(summarize_samples({1, std::nan("")}, 5), Error);
}

TEST_CASE("make_tasks is the cross product", "[profiler]") {
  const auto t = tasks();
  REQUIRE(t.size() == 4);
  CHECK(t[0].id == "small@f1000");
  CHECK(t[3].id == "large@f500");
  CHECK(t[3].hardware.at("freq") == 500);
}

TEST_CASE("profiler measures every point with warm-up, repetitions and progress", "[profiler]") {
  FakeDevice dev;
  ProfilerOptions o;
  o.warmup = 2;
  o.repetitions = 10;
  o.device_name = "fake";
  std::vector<ProfilerProgress> prog;
  auto hooks = dev.hooks();
  hooks.on_progress = [&](const ProfilerProgress& p) { prog.push_back(p); };
  Profiler prof(o, hooks);
  const Profile p = prof.run(tasks());
  CHECK(dev.calls == 4 * 12);
  CHECK(dev.prepared == 4);
  CHECK(dev.finished == 4);
  REQUIRE(p.points.size() == 4);
  CHECK(p.device_name == "fake");
  const auto& a = p.at("small@f1000");
  const auto& b = p.at("small@f500");
  const double expect = ofa_mbv3::count_macs(SubnetConfig::smallest(160), 1.2) / 1e9 * 1e3;  // ms at freq 1000
  CHECK(a.latency_ms == Approx(expect).epsilon(0.003));  // outlier (x5) dropped from the median
  CHECK(a.latency_p90_ms < expect * 1.01);
  CHECK(b.latency_ms == Approx(2 * a.latency_ms).epsilon(0.003));
  CHECK(a.energy_mj.value() == Approx(4 * a.latency_ms).epsilon(0.003));
  CHECK(a.power_w.value() == Approx(4.0));
  CHECK(a.accuracy == Approx(160 / 300.0));
  CHECK(a.accuracy_source == AccuracySource::Predicted);
  CHECK(a.macs == ofa_mbv3::count_macs(SubnetConfig::smallest(160), 1.2));
  CHECK(a.hardware.at("freq") == 1000);
  REQUIRE(prog.size() == 5);
  CHECK(prog.front().done == 0);
  CHECK(prog.front().eta_s < 0);
  CHECK(prog[1].eta_s > 0);
  CHECK(prog.back().done == 4);
  CHECK(prog.back().current.empty());
}

TEST_CASE("profiler resumes from a partly written profile", "[profiler]") {
  test::TempDir dir("profiler-resume");
  const auto path = (dir.path / "p.json").string();
  FakeDevice dev;
  ProfilerOptions o;
  o.warmup = 0;
  o.repetitions = 3;
  o.output_path = path;
  auto hooks = dev.hooks();
  int n = 0;
  hooks.prepare = [&](const ProfileTask&) {
    if (++n == 3) throw Error(ErrorCode::Busy, "interrupted");
  };
  CHECK_THROWS_WITH(Profiler(o, hooks).run(tasks()), Catch::Contains("interrupted"));
  CHECK(Profile::load(path).points.size() == 2);  // what finished is on disk
  const int before = dev.calls;
  FakeDevice dev2;
  std::vector<ProfilerProgress> prog;
  auto hooks2 = dev2.hooks();
  hooks2.on_progress = [&](const ProfilerProgress& p) { prog.push_back(p); };
  const Profile p = Profiler(o, hooks2).run(tasks());
  CHECK(before == 6);
  CHECK(dev2.calls == 2 * 3);  // only the two missing points
  CHECK(p.points.size() == 4);
  CHECK(prog.front().resumed == 2);
  CHECK(Profile::load(path).points.size() == 4);
  // a file of another supernet is not silently mixed
  o.supernet = "ofa_mbv3_d234_e346_k357_w1.0";
  CHECK_THROWS_WITH(Profiler(o, dev2.hooks()).run(tasks()), Catch::Contains("w1.2"));
}

TEST_CASE("profiler errors: bad options, bad measurements, duplicate ids", "[profiler]") {
  FakeDevice dev;
  ProfilerOptions o;
  o.repetitions = 0;
  CHECK_THROWS_AS(Profiler(o, dev.hooks()), Error);
  o = {};
  o.warmup = 0;
  o.repetitions = 2;
  auto t = tasks();
  t[1].id = t[0].id;
  CHECK_THROWS_WITH(Profiler(o, dev.hooks()).run(t), Catch::Contains("duplicate task id"));
  auto h = dev.hooks();
  h.measure = [](const ProfileTask&) { return Measurement{std::nan(""), {}, {}}; };
  CHECK_THROWS_WITH(Profiler(o, h).run(tasks()), Catch::Contains("small@f1000"));
  CHECK(dev.finished >= 1);  // finish hook ran despite the error (restores knobs)
  h.measure = nullptr;
  CHECK_THROWS_AS(Profiler(o, h).run(tasks()), Error);
}

TEST_CASE("max_seconds_per_point caps repetitions", "[profiler]") {
  FakeDevice dev;
  ProfilerOptions o;
  o.warmup = 0;
  o.repetitions = 1000;
  o.max_seconds_per_point = 1e-9;
  Profiler(o, dev.hooks()).run({tasks()[0]});
  CHECK(dev.calls == 3);
}

TEST_CASE("profiler fills a latency table layer by layer", "[profiler]") {
  ProfilerOptions o;
  o.warmup = 1;
  o.repetitions = 4;
  o.device_name = "fake";
  double t = 0;
  ProfilerHooks h;
  h.clock = [&] { return t; };
  int calls = 0;
  auto layer_time = [&](const LayerSpec& l) {
    ++calls;
    const double s = (l.h_out * l.h_out * static_cast<double>(l.c_out) + l.expand * 10.0 + 1) * 1e-9;
    t += s;
    return s;
  };
  Profiler prof(o, h);
  const LatencyTable lut = prof.run_layers({160, 224}, 1.2, layer_time);
  CHECK(calls == 2 * 96 * 5);
  CHECK(lut.resolutions() == std::vector<int>{160, 224});
  CHECK(lut.table(224).size() == 96);
  const auto& e = lut.table(224).at("Conv-input:224x224x3-output:112x112x24");
  CHECK(e.count == 4);
  CHECK(e.mean == Approx((112 * 112 * 24 + 1) * 1e-6));
  CHECK(e.std == Approx(0).margin(1e-12));
  // The table predicts the sum of the layer times of a network.
  double sum = 0;
  for (const auto& l : lut.network_layers(SubnetConfig::largest(224))) sum += layer_time(l) * 1e3;
  CHECK(lut.predict_ms(SubnetConfig::largest(224)) == Approx(sum));
  test::TempDir dir("profiler-lut");
  lut.save_dir(dir.path.string());
  CHECK(LatencyTable::load_dir(dir.path.string()).predict_ms(SubnetConfig::smallest(160)) ==
        Approx(lut.predict_ms(SubnetConfig::smallest(160))));
}
