// The reference checkpoints in ../shared: the OFA w1.0 fixture in both containers, the published
// Dynamic-OFA accuracy predictor (legacy, cuda-tagged) and BN statistics (zip).
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "dynn/checkpoint.hpp"
#include "dynn/error.hpp"
#include "test_support.hpp"

using namespace dynn;

namespace {

struct KeyLine {
  std::string name;
  std::vector<int64_t> shape;
  std::string dtype;
};

std::vector<KeyLine> parse_keys_file(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::vector<KeyLine> out;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    KeyLine k;
    std::string shape;
    REQUIRE(std::getline(ls, k.name, '\t'));
    REQUIRE(std::getline(ls, shape, '\t'));
    REQUIRE(std::getline(ls, k.dtype, '\t'));
    REQUIRE(shape.size() >= 2);
    std::istringstream ss(shape.substr(1, shape.size() - 2));
    std::string dim;
    while (std::getline(ss, dim, ',')) k.shape.push_back(std::stoll(dim));
    out.push_back(k);
  }
  return out;
}

std::string canonical(std::string key) {
  const std::string from = ".mobile_inverted_conv.";
  if (auto p = key.find(from); p != std::string::npos) key.replace(p, from.size(), ".conv.");
  return key;
}

bool is_nbt(const std::string& key) { return key.find("num_batches_tracked") != std::string::npos; }

const char* dtype_text(DType t) { return t == DType::Float32 ? "float32" : t == DType::Int64 ? "int64" : dtype_name(t); }

}  // namespace

TEST_CASE("OFA w1.0 fixture: zip and legacy containers give the same state dict", "[shared][checkpoint]") {
  CheckpointInfo zi, li;
  const StateDict z = load_checkpoint(test::shared_path("fixtures/ofa_mbv3_w1.0/supernet.pth").string(), &zi);
  const StateDict l = load_checkpoint(test::shared_path("fixtures/ofa_mbv3_w1.0/supernet_legacy.pth").string(), &li);
  CHECK(zi.container == "zip");
  CHECK(li.container == "legacy");
  CHECK(zi.wrapped);
  CHECK(li.wrapped);
  REQUIRE(z.size() == l.size());
  for (size_t i = 0; i < z.size(); ++i) {
    const auto& [kz, tz] = z.entries[i];
    const auto& [kl, tl] = l.entries[i];
    INFO(kz);
    REQUIRE(kz == kl);
    REQUIRE(tz.shape == tl.shape);
    REQUIRE(tz.dtype == tl.dtype);
    const auto a = tz.to_double(), b = tl.to_double();
    REQUIRE(a.size() == static_cast<size_t>(tz.numel()));
    REQUIRE(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
  }
  // Different tensors must not silently alias one storage with the same values.
  CHECK(z.at("classifier.linear.weight").to_float() != z.at("feature_mix_layer.conv.weight").to_float());
}

TEST_CASE("OFA w1.0 fixture: keys and shapes match the reference key list", "[shared][checkpoint]") {
  const auto ref = parse_keys_file(test::shared_path("docs/ofa_mbv3_w1.0_keys.txt"));
  REQUIRE(ref.size() == 475);
  for (const char* file : {"fixtures/ofa_mbv3_w1.0/supernet.pth", "fixtures/ofa_mbv3_w1.0/supernet_legacy.pth"}) {
    INFO(file);
    const StateDict sd = load_checkpoint(test::shared_path(file).string());
    const bool has_nbt = sd.contains("first_conv.bn.num_batches_tracked");
    std::vector<const KeyLine*> want;
    for (const auto& k : ref)
      if (has_nbt || !is_nbt(k.name)) want.push_back(&k);
    REQUIRE(sd.size() == want.size());
    int64_t floats = 0;
    for (size_t i = 0; i < sd.size(); ++i) {
      const auto& [key, t] = sd.entries[i];
      INFO(key);
      CHECK(canonical(key) == canonical(want[i]->name));
      CHECK(t.shape == want[i]->shape);
      CHECK(dtype_text(t.dtype) == want[i]->dtype);
      if (is_nbt(key)) CHECK(t.to_double().size() == 1);  // int64 scalar, loaded like any tensor
      if (t.dtype == DType::Float32) floats += t.numel();
    }
    CHECK(floats == 7720704);  // docs/ofa_spec.md 4.2
  }
}

TEST_CASE("Dynamic-OFA accuracy predictor: legacy, cuda-tagged, 8 tensors", "[shared][checkpoint]") {
  CheckpointInfo info;
  const StateDict sd = load_checkpoint(test::shared_path("data/dynamic_ofa/acc_predictor.pth").string(), &info);
  CHECK(info.container == "legacy");
  CHECK_FALSE(info.wrapped);
  const std::vector<std::pair<std::string, std::string>> want = {
      {"0.weight", "[400, 128]"}, {"0.bias", "[400]"}, {"2.weight", "[400, 400]"}, {"2.bias", "[400]"},
      {"4.weight", "[400, 400]"}, {"4.bias", "[400]"}, {"6.weight", "[1, 400]"},   {"6.bias", "[1]"}};
  REQUIRE(sd.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CHECK(sd.entries[i].first == want[i].first);
    CHECK(sd.entries[i].second.shape_string() == want[i].second);
    CHECK(sd.entries[i].second.dtype == DType::Float32);
    CHECK(sd.entries[i].second.location == "cuda:0");
  }
  CHECK(sd.at("6.bias").to_float()[0] == Approx(0.758675).epsilon(1e-5));
  CHECK_THROWS_AS(sd.at("7.bias"), Error);
}

TEST_CASE("Dynamic-OFA nets_6 BN statistics: zip tensor dict keyed level<L>/<name>/running_*", "[shared][checkpoint]") {
  CheckpointInfo info;
  const StateDict sd = load_checkpoint(test::shared_path("data/dynamic_ofa/nets_6_bn_stats.pt").string(), &info);
  CHECK(info.container == "zip");
  CHECK_FALSE(info.wrapped);
  REQUIRE(sd.size() > 0);
  std::set<int> levels;
  for (const auto& [key, t] : sd.entries) {
    INFO(key);
    // level<L>/<name>/running_mean or running_var
    const size_t s1 = key.find('/'), s2 = key.rfind('/');
    REQUIRE(key.rfind("level", 0) == 0);
    REQUIRE(s1 != std::string::npos);
    REQUIRE(s2 > s1 + 1);
    const std::string level = key.substr(5, s1 - 5), name = key.substr(s1 + 1, s2 - s1 - 1), stat = key.substr(s2 + 1);
    REQUIRE(!level.empty());
    REQUIRE(level.find_first_not_of("0123456789") == std::string::npos);
    REQUIRE((stat == "running_mean" || stat == "running_var"));
    levels.insert(std::stoi(level));
    CHECK(t.dtype == DType::Float32);
    CHECK(t.shape.size() == 1);
    if (stat == "running_mean") {
      const std::string var = "level" + level + "/" + name + "/running_var";
      REQUIRE(sd.contains(var));
      CHECK(sd.at(var).shape == t.shape);
      // Variances are finite and non-negative (dead channels give exactly 0).
      size_t bad = 0;
      for (float v : sd.at(var).to_float()) bad += !(v >= 0.0f && std::isfinite(v));
      CHECK(bad == 0);
    }
  }
  CHECK(*levels.begin() == 0);
  CHECK(levels.size() == static_cast<size_t>(*levels.rbegin() + 1));
}
