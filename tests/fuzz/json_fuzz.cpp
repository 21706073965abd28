// Fuzz target for the JSON (and compact text) loaders: levels, profile, sub-network config (JSON
// and "ks=.. e=.. d=.. r=.."), latency-table JSON, controller parameters, targets and the OFA
// ResNet-50 sub-network JSON. Any input
// must load or throw dynn::Error; what loads must write back and load again (no silent garbage).
//
// Input: byte 0 picks the loader, byte 1 the controller (for controller parameters), the rest
// is the text. Built as json_fuzz_replay (always, self-test in CTest) and json_fuzz (libFuzzer,
// -DDYNN_FUZZ=ON); see fuzz_driver.hpp.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dynn/error.hpp"
#include "dynn/ofa_resnet50/arch.hpp"
#include "dynn/profile.hpp"
#include "dynn/runtime.hpp"

namespace {

enum Loader : uint8_t { kLevels, kProfile, kSubnetJson, kSubnetCompact, kLatencyTable, kController, kTargets, kResNetSubnet, kCount };
const char* const kNames[kCount] = {"levels", "profile", "subnet JSON", "subnet compact", "latency table", "controller", "targets",
                                     "resnet50 subnet"};
// Per loader: inputs accepted and refused (the self-test checks that both happen).
size_t g_loaded[kCount], g_refused[kCount];

[[noreturn]] void fail(const char* loader, const std::string& why) {
  std::fprintf(stderr, "json_fuzz: %s: %s\n", loader, why.c_str());
  std::abort();
}

// A value that loaded must survive its own writer: from_json(to_json(x)) loads and equals x.
template <typename Load, typename Write>
void round_trip(const char* loader, const Load& load, const Write& write) {
  try {
    load(write());
  } catch (const dynn::Error& e) {
    fail(loader, std::string("loaded, but its own JSON does not load back: ") + e.what());
  }
}

void run_controller(uint8_t which, const std::string& text) {
  const auto names = dynn::ControllerRegistry::global().names();
  const std::string& name = names[which % names.size()];
  auto c = dynn::make_controller(name, text);
  dynn::ControlContext ctx;
  for (int i = 0; i < 3; ++i) {
    dynn::OperatingPoint p;
    p.id = "L" + std::to_string(i);
    p.subnet = dynn::SubnetConfig::uniform(3, 3, 2, 160 + 8 * i);
    p.device = "gpu";
    p.latency_ms = 40 + 5 * i;
    p.accuracy = 0.74 + 0.01 * i;
    p.level = i;
    ctx.points.push_back(p);
  }
  ctx.knobs.push_back(dynn::KnobInfo{"gpu.freq", "MHz", {100, 500, 1000}, 100, 1000});
  ctx.sensors.push_back(dynn::SensorInfo{"util.gpu", "%"});
  c->bind(ctx);
  dynn::Observation obs;
  obs.targets.latency_ms = 45;
  obs.knob_values = {1000};
  obs.sensor_values = {50};
  dynn::Decision d;
  c->step(obs, d);
  if (d.point < 0 || d.point >= static_cast<int>(ctx.points.size())) fail("controller", name + " chose point " + std::to_string(d.point));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 2, size - 2);
  const int which = data[0] % kCount;
  try {
    switch (which) {
      case kLevels: {
        const auto s = dynn::LevelSet::from_json(text);
        if (s.levels.empty()) fail("levels", "an empty level set loaded");
        round_trip("levels", dynn::LevelSet::from_json, [&] { return s.to_json(); });
        break;
      }
      case kProfile: {
        const auto p = dynn::Profile::from_json(text);
        round_trip("profile", dynn::Profile::from_json, [&] { return p.to_json(); });
        break;
      }
      case kSubnetJson: {
        const auto c = dynn::SubnetConfig::from_json(text);
        round_trip("subnet JSON", [&](const std::string& t) {
          if (dynn::SubnetConfig::from_json(t) != c) fail("subnet JSON", "round trip changed " + c.to_string());
        }, [&] { return c.to_json(); });
        break;
      }
      case kSubnetCompact: {
        const auto c = dynn::SubnetConfig::parse(text);
        round_trip("subnet compact", [&](const std::string& t) {
          if (dynn::SubnetConfig::parse(t) != c) fail("subnet compact", "round trip changed " + c.to_string());
        }, [&] { return c.to_string(); });
        break;
      }
      case kLatencyTable: {
        dynn::LatencyTable t(1.2);
        t.load_json(176, text);
        try {
          const double ms = t.predict_ms(dynn::SubnetConfig::smallest(176));
          if (!(ms >= 0)) fail("latency table", "predicted " + std::to_string(ms) + " ms");
        } catch (const dynn::Error& e) {
          if (e.code() != dynn::ErrorCode::NotFound) throw;  // a layer the table lacks
        }
        round_trip("latency table", [](const std::string& s) { dynn::LatencyTable(1.2).load_json(176, s); }, [&] { return t.to_json(176); });
        break;
      }
      case kController: run_controller(data[1], text); break;
      case kTargets: {
        const auto t = dynn::Targets::from_json(text);
        t.validate();
        round_trip("targets", [&](const std::string& s) {
          if (dynn::Targets::from_json(s) != t) fail("targets", "round trip changed " + t.to_json());
        }, [&] { return t.to_json(); });
        break;
      }
      case kResNetSubnet: {
        const auto c = dynn::ofa_resnet50::Subnet::from_json(text);
        const auto n = dynn::ofa_resnet50::resolve(dynn::ofa_resnet50::Widths::published(), c);
        if (n.blocks.size() < 10 || n.blocks.size() > 18) fail("resnet50 subnet", "ran " + std::to_string(n.blocks.size()) + " blocks");
        round_trip("resnet50 subnet", [&](const std::string& t) {
          if (dynn::ofa_resnet50::Subnet::from_json(t) != c) fail("resnet50 subnet", "round trip changed " + c.to_json());
        }, [&] { return c.to_json(); });
        break;
      }
      default: break;
    }
    ++g_loaded[which];
  } catch (const dynn::Error&) {
    ++g_refused[which];  // expected for malformed input
  }
  return 0;  // any other exception escapes and is reported as a crash
}

#ifndef DYNN_LIBFUZZER
#include "fuzz_driver.hpp"

namespace {

dynn::fuzz::Bytes seed(Loader l, const std::string& text, uint8_t aux = 0) {
  dynn::fuzz::Bytes b{static_cast<uint8_t>(l), aux};
  b.insert(b.end(), text.begin(), text.end());
  return b;
}

std::vector<dynn::fuzz::Bytes> seeds() {
  using namespace dynn;
  std::vector<fuzz::Bytes> out;
  LevelSet s;
  s.supernet = "ofa_mbv3_d234_e346_k357_w1.2";
  s.source = "fuzz seed";
  s.levels.push_back({0, SubnetConfig::smallest(176), 74.2, 41.2});
  s.levels.push_back({1, SubnetConfig::largest(224), 79.0, 61.7});
  out.push_back(seed(kLevels, s.to_json()));
  // The published form: "r" as a list, "wid": null.
  out.push_back(seed(kLevels, R"({"supernet":"ofa_mbv3_d234_e346_k357_w1.2","levels":[{"level":0,"arch":{"wid":null,)"
                              R"("ks":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"e":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],)"
                              R"("d":[2,2,2,2,2],"r":[160]},"top1_percent":74.2,"latency_ms":41.16}]})"));

  Profile p;
  p.device_name = "d";
  p.supernet = "ofa_mbv3_d234_e346_k357_w1.2";
  p.created = "2024-01-01T00:00:00Z";
  for (int i = 0; i < 2; ++i) {
    OperatingPoint op;
    op.id = "p" + std::to_string(i);
    op.subnet = SubnetConfig::uniform(5, 4, 3, 192 + 8 * i);
    op.hardware = {{"gpu_freq_hz", 1109250000}, {"threads", 4}};
    op.latency_ms = 10 + i;
    op.latency_p90_ms = 11 + i;
    op.energy_mj = 3.0;
    op.accuracy = 0.8;
    p.add(op);
  }
  out.push_back(seed(kProfile, p.to_json()));

  out.push_back(seed(kSubnetJson, SubnetConfig::largest(224).to_json()));
  out.push_back(seed(kSubnetCompact, SubnetConfig::uniform(5, 4, 3, 192).to_string()));

  LatencyTable t(1.2);
  for (const auto& l : t.network_layers(SubnetConfig::smallest(176))) t.set(176, l.key(), {10, 0.5, 0.01});
  out.push_back(seed(kLatencyTable, t.to_json(176)));

  const auto names = ControllerRegistry::global().names();
  auto controller = [&](const std::string& name, const std::string& params) {
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) out.push_back(seed(kController, params, static_cast<uint8_t>(i)));
  };
  controller("fixed", R"({"point": "L2", "hardware": {"gpu.freq": 500}})");
  controller("dynamic-ofa", R"({"window": 20, "outlier_ms": 1000, "warmup": 3, "hysteresis": "lock-up", "initial_level": 1})");
  controller("pareto", R"({"margin": 0.1, "gain_down": 0.5, "freq_knob": "gpu.freq", "accuracy_first": true})");
  controller("feedback", R"({"kp": 0.5, "ki": 0.1, "initial_level": 2})");
  controller("energy", R"({"margin": 0.05, "energy_gain": 0.2})");
  controller("ondemand", R"({"up_threshold": 80, "util_sensors": {"gpu.freq": "util.gpu"}, "point": 1})");
  controller("schedutil", R"({"rate_limit_ms": 5, "halflife_ms": 8, "knobs": ["gpu.freq"]})");

  out.push_back(seed(kResNetSubnet, ofa_resnet50::Subnet::largest(224).to_json()));
  out.push_back(seed(kResNetSubnet, R"({"d":[1,2,1,0,2],"e":[0.25,0.35,0.25,0.2,0.35,0.2,0.25,0.25,0.25,0.35,0.35,0.35,0.25,0.2,0.35,0.25,0.35,0.25],"w":[1,1,0,2,2,1],"r":[148]})"));
  out.push_back(seed(kTargets, R"({"latency_ms": 60, "accuracy": 0.76, "power_w": 10, "energy_mj": 500})"));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  dynn::fuzz::SelfTest t;
  t.seeds = seeds();
  t.mutations_per_seed = 1500;
  t.keep_prefix = 2;
  t.max_edits = 2;  // JSON rarely survives more; fewer edits reach deeper into the loaders
  t.tokens = {"{", "}", "[", "]", ",", ":", "\"", "null", "-1", "0", "1e308", "1e999", "-0", "0.5", "224.5", "\"x\"", "true",
              "\\u0000", "\xc3\xa9", "9999999999999999999", "18446744073709551615", "-9223372036854775809", "\"r\": 128,", "0.35", "0.25", "0.2", "\"w\":[0,1,2,0,1,2]",
              " r=128", "NaN", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["};
  const int rc = dynn::fuzz::main(argc, argv, t);
  if (rc != 0 || (argc > 1 && std::string(argv[1]) != "--self-test")) return rc;
  int bad = 0;
  for (int l = 0; l < kCount; ++l) {
    std::printf("  %-15s %6zu loaded %6zu refused\n", kNames[l], g_loaded[l], g_refused[l]);
    if (g_loaded[l] < 10 || g_refused[l] < 10) bad = 1;  // the seeds no longer load, or the mutations never break them
  }
  return bad;
}
#endif
