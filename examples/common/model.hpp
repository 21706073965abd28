// Building the supernet, the Dynamic-OFA levels and sub-networks from command-line options,
// shared by dynn-classify, dynn-eval and dynn-demo.
#pragma once

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli.hpp"
#include "dynn/error.hpp"
#include "dynn/model_registry.hpp"
#include "dynn/ofa_mbv3.hpp"
#include "dynn/profile/levels.hpp"
#include "nets6_levels.hpp"

namespace demo {

constexpr uint64_t kDefaultSeed = 2024;

struct Levels {
  dynn::LevelSet set;
  std::string origin;  // file path, or "embedded copy"
};

// --levels FILE, else ../shared/data/dynamic_ofa/<set>_levels.json (set: "nets_6", the Dynamic-OFA
// GPU levels, or "nets_7", its CPU levels), else the embedded copy of nets_6.
inline Levels load_levels(const std::string& path, const std::string& set = "nets_6") {
  Levels l;
  if (!path.empty()) {
    l.set = dynn::LevelSet::load(path);
    l.origin = path;
  } else if (auto p = shared_file("data/dynamic_ofa/" + set + "_levels.json"); !p.empty()) {
    l.set = dynn::LevelSet::load(p);
    l.origin = p;
  } else {
    l.set = dynn::LevelSet::from_json(kEmbeddedNets6Levels);
    l.origin = "embedded copy of Dynamic-OFA nets_6 (shared folder not found)";
  }
  return l;
}

struct Model {
  std::unique_ptr<dynn::OfaMbv3Supernet> net;  // an OFA MobileNetV3 checkpoint (or the random one)
  std::unique_ptr<dynn::DynamicModel> other;   // a checkpoint of another family (any_family)
  bool random = false;
  std::string description;
  dynn::DynamicModel& dynamic() { return net ? static_cast<dynn::DynamicModel&>(*net) : *other; }
  std::string family() const { return net ? std::string(dynn::SubnetConfig::kFamily) : other->family(); }
};

// The family of --weights (read once; the tensors land in *sd for make_model): "ofa_mbv3" for
// the random demo supernet (no weights) and for a layout no family recognises (then make_model
// reports what it found).
inline std::string checkpoint_family(const std::string& weights, dynn::StateDict* sd) {
  if (weights.empty()) return dynn::SubnetConfig::kFamily;
  *sd = dynn::load_checkpoint(weights);
  const std::string f = dynn::detect_model_family(*sd);
  return f.empty() ? std::string(dynn::SubnetConfig::kFamily) : f;
}

// --weights FILE, else a deterministic random-initialised w1.2 OFA MobileNetV3. The family is
// detected from the checkpoint's keys: an OFA MobileNetV3 goes to .net; another registered family
// goes to .other when the tool runs any family (any_family), else it is an error naming it.
// preloaded: the checkpoint's tensors when the caller has read them already (see checkpoint_family).
inline Model make_model(const std::string& weights, int threads, uint64_t seed = kDefaultSeed, bool any_family = false,
                        const std::string& tool = "this tool", const dynn::StateDict* preloaded = nullptr) {
  dynn::SupernetOptions o;
  o.num_threads = threads;
  Model m;
  if (!weights.empty()) {
    dynn::StateDict loaded;
    if (!preloaded) loaded = dynn::load_checkpoint(weights);
    const dynn::StateDict& sd = preloaded ? *preloaded : loaded;
    const std::string family = dynn::detect_model_family(sd);
    if (!family.empty() && family != "ofa_mbv3") {
      if (!any_family)
        throw dynn::Error(dynn::ErrorCode::Unsupported,
                          fmt::format("{} is an {} checkpoint; {} runs OFA MobileNetV3 only so far (dynn-classify runs every family)",
                                      weights, family, tool));
      m.other = dynn::model_from_state_dict(sd, o, family);
      m.description = fmt::format("{} ({})", weights, family);
      return m;
    }
    m.net = dynn::OfaMbv3Supernet::from_state_dict(sd, o);
    m.description = fmt::format("{} (w{:.1f})", weights, m.net->arch().width_mult);
  } else {
    m.net = dynn::OfaMbv3Supernet::random(1.2, seed, o);
    m.random = true;
    m.description = fmt::format("random-initialised w1.2 supernet (seed {}; no --weights given: predictions are meaningless)", seed);
  }
  return m;
}

// "L3" / "level3" (a level of `levels`), "largest[@r]", "smallest[@r]", the compact form
// "ks=... e=... d=... r=..." or arch JSON.
inline dynn::SubnetConfig parse_subnet(const std::string& spec, const dynn::LevelSet& levels, int* level = nullptr) {
  if (level) *level = -1;
  auto at_r = [&](const std::string& s, const std::string& name) {
    int r = 224;
    if (s.size() > name.size()) {
      if (s[name.size()] != '@') throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("sub-network '{}': expected {}@<r>", s, name));
      r = static_cast<int>(dynn::parse_int(s.substr(name.size() + 1), fmt::format("sub-network '{}': resolution", s), 1, 100000));
    }
    return r;
  };
  std::string low = spec;
  for (auto& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (low.rfind("largest", 0) == 0) return dynn::SubnetConfig::largest(at_r(low, "largest"));
  if (low.rfind("smallest", 0) == 0) return dynn::SubnetConfig::smallest(at_r(low, "smallest"));
  std::string num;
  if (low.size() > 1 && low[0] == 'l' && low.find_first_not_of("0123456789", 1) == std::string::npos) num = low.substr(1);
  if (low.rfind("level", 0) == 0 && low.size() > 5 && low.find_first_not_of("0123456789", 5) == std::string::npos) num = low.substr(5);
  if (!num.empty()) {
    const int idx = static_cast<int>(dynn::parse_int(num, fmt::format("sub-network '{}': level", spec), 0, 1000000));
    for (const auto& l : levels.levels)
      if (l.level == idx) {
        if (level) *level = idx;
        return l.subnet;
      }
    throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("sub-network '{}': no level {} ({} levels)", spec, idx, levels.levels.size()));
  }
  if (!spec.empty() && spec[0] == '{') return dynn::SubnetConfig::from_json(spec);
  return dynn::SubnetConfig::parse(spec);
}

// A sub-network of a family other than OFA MobileNetV3: "largest[@r]", "smallest[@r]" or the
// family's JSON itself, validated (by the family's own rules) before any model is built.
inline dynn::Subnet parse_other_subnet(const std::string& spec, const std::string& family) {
  const dynn::SubnetFamily& fam = dynn::subnet_family(family);
  std::string low = spec;
  for (auto& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* name : {"largest", "smallest"}) {
    const std::string n = name;
    if (low.rfind(n, 0) != 0) continue;
    int r = 224;
    if (low.size() > n.size()) {
      if (low[n.size()] != '@') throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("sub-network '{}': expected {}@<r>", spec, n));
      r = static_cast<int>(dynn::parse_int(low.substr(n.size() + 1), fmt::format("sub-network '{}': resolution", spec), 1, 100000));
    }
    return n == "largest" ? fam.largest(r) : fam.smallest(r);
  }
  if (!spec.empty() && spec[0] == '{') return fam.parse(spec);  // errors name the key
  throw dynn::Error(dynn::ErrorCode::InvalidArgument,
                    fmt::format("sub-network '{}': a checkpoint of family {} takes largest[@r], smallest[@r] or its JSON (levels L0..L5 are "
                                "OFA MobileNetV3 sub-networks)", spec, family));
}

// --levels and --bn-stats are Dynamic-OFA data for OFA MobileNetV3: refused by name for another family.
inline void check_dynamic_ofa_options(const Args& a, const std::string& family) {
  if (family == dynn::SubnetConfig::kFamily) return;
  for (const char* f : {"levels", "bn-stats"})
    if (a.has(f))
      throw dynn::Error(dynn::ErrorCode::InvalidArgument,
                        fmt::format("--{} is Dynamic-OFA data for OFA MobileNetV3; this checkpoint is {}", f, family));
}

// A sub-network spec of any family: OFA MobileNetV3 as parse_subnet (levels too), another family
// as parse_other_subnet.
inline dynn::Subnet parse_any_subnet(const std::string& spec, const std::string& family, const dynn::LevelSet& levels,
                                     int* level = nullptr) {
  if (level) *level = -1;
  if (family == dynn::SubnetConfig::kFamily) return parse_subnet(spec, levels, level);
  return parse_other_subnet(spec, family);
}

// Dynamic-OFA's per-level BN statistics, applied to each level's sub-network.
inline void apply_level_bn_stats(dynn::OfaMbv3Supernet& net, const dynn::LevelSet& levels, const std::string& path) {
  auto stats = dynn::load_dynamic_ofa_bn_stats(path);
  for (const auto& l : levels.levels) {
    auto it = stats.find(l.level);
    if (it != stats.end()) net.set_bn_stats(l.subnet, it->second);
  }
}

}  // namespace demo
