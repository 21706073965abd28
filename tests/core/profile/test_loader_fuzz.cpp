// Feeds mutated JSON to every loader of the profile area: each must either load or throw a
// dynn::Error with a message, never crash, hang or throw anything else.
#include <string>

#include <catch2/catch.hpp>

#include "dynn/error.hpp"
#include "dynn/profile.hpp"

using namespace dynn;

namespace {

struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

std::string mutate(std::string s, Rng& rng) {
  static const char* tokens[] = {"{", "}", "[", "]", ",", ":", "\"", "null", "-1", "1e308", "0.5", "\"x\"", "true", "\\u0000", "9999999999999999999"};
  const int n = 1 + static_cast<int>(rng.below(4));
  for (int k = 0; k < n && !s.empty(); ++k) {
    const size_t pos = rng.below(s.size());
    switch (rng.below(4)) {
      case 0: s.erase(pos, 1 + rng.below(8)); break;
      case 1: s.insert(pos, tokens[rng.below(sizeof tokens / sizeof *tokens)]); break;
      case 2: s[pos] = static_cast<char>(rng.below(256)); break;
      default: s = s.substr(0, pos); break;
    }
  }
  return s;
}

template <typename F>
void fuzz(const std::string& seed_text, F load, int iterations, uint64_t seed) {
  Rng rng{seed};
  int ok = 0, errors = 0;
  for (int i = 0; i < iterations; ++i) {
    const std::string text = mutate(seed_text, rng);
    try {
      load(text);
      ++ok;
    } catch (const Error& e) {
      ++errors;
      REQUIRE(std::string(e.what()).size() > 10);
    }
  }
  CHECK(ok + errors == iterations);
  CHECK(errors > 0);  // the mutations do break things
}

}  // namespace

TEST_CASE("fuzz: profile loader", "[fuzz]") {
  Profile p;
  p.device_name = "d";
  p.supernet = "ofa_mbv3_d234_e346_k357_w1.2";
  p.created = "2024-01-01T00:00:00Z";
  for (int i = 0; i < 3; ++i) {
    OperatingPoint op;
    op.id = "p" + std::to_string(i);
    op.subnet = SubnetConfig::uniform(5, 4, 3, 192);
    op.hardware = {{"gpu_freq_hz", 1109250000}};
    op.latency_ms = 10 + i;
    op.latency_p90_ms = 11 + i;
    op.energy_mj = 3.0;
    op.accuracy = 0.8;
    p.add(op);
  }
  fuzz(p.to_json(), [](const std::string& t) { Profile::from_json(t); }, 3000, 0x1234);
}

TEST_CASE("fuzz: latency table loader", "[fuzz]") {
  LatencyTable t(1.2);
  for (const auto& l : t.network_layers(SubnetConfig::smallest(176))) t.set(176, l.key(), {10, 0.5, 0.01});
  const std::string text = t.to_json(176);
  fuzz(text, [](const std::string& s) {
    LatencyTable u(1.2);
    u.load_json(176, s);
    // A table that loaded must predict or name the missing key.
    try {
      u.predict_ms(SubnetConfig::smallest(176));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::NotFound) throw;
    }
  }, 2000, 0x5678);
}

TEST_CASE("fuzz: levels loader", "[fuzz]") {
  LevelSet s;
  s.supernet = "ofa_mbv3_d234_e346_k357_w1.2";
  s.levels.push_back({0, SubnetConfig::smallest(176), 74.2, 41.2});
  s.levels.push_back({1, SubnetConfig::largest(224), 79.0, 61.7});
  fuzz(s.to_json(), [](const std::string& t) { LevelSet::from_json(t); }, 3000, 0x9abc);
}

TEST_CASE("fuzz: subnet configs through the predictor encoding and MAC counter", "[fuzz]") {
  Rng rng{42};
  for (int i = 0; i < 2000; ++i) {
    SubnetConfig c;
    const size_t nb = rng.below(3) ? 20 : rng.below(25), nd = rng.below(3) ? 5 : rng.below(7);
    for (size_t k = 0; k < nb; ++k) c.ks.push_back(static_cast<int>(rng.below(9)));
    for (size_t k = 0; k < nb; ++k) c.e.push_back(static_cast<int>(rng.below(8)));
    for (size_t k = 0; k < nd; ++k) c.d.push_back(static_cast<int>(rng.below(6)));
    c.r = static_cast<int>(rng.below(400));
    try {
      AccuracyPredictor::encode(c);
      ofa_mbv3::count_macs(c, 1.2);
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::InvalidArgument);
    }
  }
}
