// The golden OFA cases of ../shared/fixtures (ofa_mbv3_w1.0, ofa_resnet50_narrow).
#pragma once

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "dynn/subnet_config.hpp"
#include "test_support.hpp"

namespace dynn::test {

struct OfaCase {
  std::string name;
  SubnetConfig cfg;
  std::vector<int64_t> input_shape;
  std::vector<float> input, logits;
};

inline std::vector<OfaCase> load_ofa_cases() {
  const auto dir = shared_path("fixtures/ofa_mbv3_w1.0");
  std::ifstream f(dir / "cases.json");
  const auto j = nlohmann::json::parse(f);
  std::vector<OfaCase> out;
  for (const auto& c : j.at("cases")) {
    OfaCase oc;
    oc.name = c.at("name").get<std::string>();
    oc.cfg = SubnetConfig::from_json(c.at("subnet").dump());
    oc.input_shape = c.at("input_shape").get<std::vector<int64_t>>();
    oc.input = read_f32(dir / c.at("input").get<std::string>());
    oc.logits = read_f32(dir / c.at("logits").get<std::string>());
    out.push_back(std::move(oc));
  }
  return out;
}

// A case of any family: its sub-network as the fixture's JSON.
struct FixtureCase {
  std::string name;
  std::string subnet_json;
  std::vector<int64_t> input_shape;
  std::vector<float> input, logits;
};

inline std::vector<FixtureCase> load_fixture_cases(const std::string& fixture) {
  const auto dir = shared_path("fixtures/" + fixture);
  std::ifstream f(dir / "cases.json");
  const auto j = nlohmann::json::parse(f);
  std::vector<FixtureCase> out;
  for (const auto& c : j.at("cases")) {
    FixtureCase fc;
    fc.name = c.at("name").get<std::string>();
    fc.subnet_json = c.at("subnet").dump();
    fc.input_shape = c.at("input_shape").get<std::vector<int64_t>>();
    fc.input = read_f32(dir / c.at("input").get<std::string>());
    fc.logits = read_f32(dir / c.at("logits").get<std::string>());
    out.push_back(std::move(fc));
  }
  return out;
}

// The fixture criterion: max|y - ref| <= 5e-4 * max|ref| and the same argmax per row.
inline void check_logits(const std::vector<float>& y, const std::vector<float>& ref, int classes, const std::string& what) {
  REQUIRE(y.size() == ref.size());
  double max_ref = 0, max_diff = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    max_ref = std::max(max_ref, std::abs(static_cast<double>(ref[i])));
    max_diff = std::max(max_diff, std::abs(static_cast<double>(y[i]) - ref[i]));
  }
  INFO(what << ": max|y-ref| = " << max_diff << ", max|ref| = " << max_ref << ", ratio " << max_diff / max_ref);
  CHECK(max_diff <= 5e-4 * max_ref);
  for (size_t row = 0; row < y.size() / static_cast<size_t>(classes); ++row) {
    auto b = y.begin() + static_cast<long>(row * classes), rb = ref.begin() + static_cast<long>(row * classes);
    CHECK(std::max_element(b, b + classes) - b == std::max_element(rb, rb + classes) - rb);
  }
}

}  // namespace dynn::test
