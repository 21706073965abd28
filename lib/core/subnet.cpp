#include "dynn/subnet.hpp"

#include <algorithm>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/json_strict.hpp"
#include "dynn/ofa_mbv3_arch.hpp"
#include "dynn/ofa_resnet50/arch.hpp"
#include "dynn/parse.hpp"

namespace dynn {
namespace {

// The published OFA MobileNetV3 supernet the simulator and the Dynamic-OFA data describe.
constexpr double kMbv3PublishedWidth = 1.2;
constexpr int kResNetSmallestTrained = 128;

SubnetFamily ofa_mbv3_family() {
  SubnetFamily f;
  f.name = SubnetConfig::kFamily;
  f.description = "OFA MobileNetV3 (ks, e, d, r)";
  f.json_keys = {"ks"};
  f.parse = [](const std::string& json) { return Subnet(SubnetConfig::parse(json)); };
  f.largest = [](int r) { return Subnet(SubnetConfig::largest(r)); };
  f.smallest = [](int r) { return Subnet(SubnetConfig::smallest(r)); };
  f.published_macs = [](const Subnet& s) {
    return static_cast<double>(ofa_mbv3::Arch(kMbv3PublishedWidth).macs(s.as<SubnetConfig>("ofa_mbv3 MACs")));
  };
  f.ladder = [] {  // uniform kernel / expand / depth, rising resolution
    return std::vector<Subnet>{SubnetConfig::uniform(3, 3, 2, 160), SubnetConfig::uniform(3, 4, 2, 176), SubnetConfig::uniform(5, 4, 3, 192),
                               SubnetConfig::uniform(5, 6, 3, 208), SubnetConfig::uniform(7, 6, 4, 208), SubnetConfig::uniform(7, 6, 4, 224)};
  };
  f.published_parameters = [](const Subnet& s) {
    return static_cast<double>(ofa_mbv3::Arch(kMbv3PublishedWidth).parameters(s.as<SubnetConfig>("ofa_mbv3 parameters")));
  };
  f.smaller = [](const Subnet& s) {
    const SearchSpace space = SearchSpace::ofa_mbv3();
    const SubnetConfig& c = s.as<SubnetConfig>("ofa_mbv3 reductions");
    std::vector<Subnet> out;
    auto lower = [](const std::vector<int>& values, int v) {  // the next allowed value below v, or v
      int best = v;
      for (int x : values)
        if (x < v) best = x;
      return best;
    };
    for (int b = 0; b < space.num_blocks(); ++b) {
      if (!c.block_active(b, space)) continue;
      for (auto field : {&SubnetConfig::ks, &SubnetConfig::e}) {
        const auto& values = field == &SubnetConfig::ks ? space.ks_values : space.e_values;
        const int v = (c.*field)[static_cast<size_t>(b)], lo = lower(values, v);
        if (lo == v) continue;
        SubnetConfig n = c;
        (n.*field)[static_cast<size_t>(b)] = lo;
        out.emplace_back(n);
      }
    }
    for (size_t st = 0; st < c.d.size(); ++st)
      if (const int lo = lower(space.d_values, c.d[st]); lo != c.d[st]) {
        SubnetConfig n = c;
        n.d[st] = lo;
        out.emplace_back(n);
      }
    if (const int lo = lower(space.trained_resolutions, c.r); lo != c.r) {
      SubnetConfig n = c;
      n.r = lo;
      out.emplace_back(n);
    }
    return out;
  };
  return f;
}

SubnetFamily ofa_resnet50_family() {
  using ofa_resnet50::Widths;
  SubnetFamily f;
  f.name = ofa_resnet50::kFamily;
  f.description = "OFA ResNet-50 (d, e, w, r)";
  f.json_keys = {"w"};
  f.parse = [](const std::string& json) { return Subnet(ofa_resnet50::Subnet::from_json(json)); };
  f.largest = [](int r) { return Subnet(ofa_resnet50::Subnet::largest(r)); };
  f.smallest = [](int r) { return Subnet(ofa_resnet50::Subnet::smallest(r)); };
  f.published_macs = [](const Subnet& s) {
    return static_cast<double>(ofa_resnet50::macs(Widths::published(), s.as<ofa_resnet50::Subnet>("ofa_resnet50 MACs")));
  };
  f.published_parameters = [](const Subnet& s) {
    return static_cast<double>(
        ofa_resnet50::parameters(Widths::published(), s.as<ofa_resnet50::Subnet>("ofa_resnet50 parameters")));
  };
  f.ladder = [] {  // depth, expand ratio, width and resolution rising together
    auto uniform = [](int d, double e, int w, int r) {
      ofa_resnet50::Subnet s;
      s.d.fill(d);
      s.e.fill(e);
      s.w.fill(w);
      s.r = r;
      return Subnet(s);
    };
    return std::vector<Subnet>{uniform(0, 0.2, 0, 128), uniform(0, 0.25, 0, 160), uniform(1, 0.25, 1, 160),
                               uniform(1, 0.25, 1, 192), uniform(2, 0.35, 2, 192), uniform(2, 0.35, 2, 224)};
  };
  f.smaller = [](const Subnet& s) {
    using ofa_resnet50::kExpandRatios;
    const ofa_resnet50::Subnet& c = s.as<ofa_resnet50::Subnet>("ofa_resnet50 reductions").canonical();
    std::vector<Subnet> out;
    auto add = [&](ofa_resnet50::Subnet n) {
      n = n.canonical();
      if (n != c) out.emplace_back(n);
    };
    if (c.d[0] > 0) {  // input_stem.1 runs only at d[0] == 2: the one step is to skip it
      ofa_resnet50::Subnet n = c;
      n.d[0] = 0;
      add(n);
    }
    for (size_t i = 1; i < c.d.size(); ++i)
      if (c.d[i] > 0) {
        ofa_resnet50::Subnet n = c;
        --n.d[i];
        add(n);
      }
    for (int b = 0; b < ofa_resnet50::kNumBlocks; ++b) {
      if (!c.block_active(b)) continue;
      const double e = c.e[static_cast<size_t>(b)];
      for (size_t k = kExpandRatios.size(); k-- > 1;)
        if (kExpandRatios[k] == e) {
          ofa_resnet50::Subnet n = c;
          n.e[static_cast<size_t>(b)] = kExpandRatios[k - 1];
          add(n);
        }
    }
    for (size_t i = 0; i < c.w.size(); ++i)
      if (c.w[i] > 0) {
        ofa_resnet50::Subnet n = c;
        --n.w[i];
        add(n);
      }
    // OFA trained its ResNets at 128, 160, 192 and 224: a step goes to the next of those below r
    // (sizes above 224 step down in 32s towards them).
    if (c.r > kResNetSmallestTrained) {
      ofa_resnet50::Subnet n = c;
      n.r = std::max(kResNetSmallestTrained, kResNetSmallestTrained + (c.r - kResNetSmallestTrained - 1) / 32 * 32);
      add(n);
    }
    return out;
  };
  return f;
}

struct Families {
  std::mutex mutex;
  std::map<std::string, SubnetFamily> by_name;
  Families() {
    for (SubnetFamily f : {ofa_mbv3_family(), ofa_resnet50_family()}) by_name.emplace(f.name, std::move(f));
  }
};
Families& families() {
  static Families f;
  return f;
}

}  // namespace

void register_subnet_family(SubnetFamily family) {
  if (family.name.empty() || !family.parse)
    throw Error(ErrorCode::InvalidArgument, "register_subnet_family: a family needs a name and a parse function");
  auto& f = families();
  std::lock_guard<std::mutex> lock(f.mutex);
  const std::string name = family.name;
  f.by_name[name] = std::move(family);
}

std::vector<std::string> subnet_family_names() {
  auto& f = families();
  std::lock_guard<std::mutex> lock(f.mutex);
  std::vector<std::string> out;
  for (const auto& kv : f.by_name) out.push_back(kv.first);
  return out;
}

const SubnetFamily& subnet_family(const std::string& name) {
  auto& f = families();
  {
    std::lock_guard<std::mutex> lock(f.mutex);
    // Entries are never erased, so the reference stays valid (a re-registration replaces the value in place).
    if (auto it = f.by_name.find(name); it != f.by_name.end()) return it->second;
  }
  throw Error(ErrorCode::InvalidArgument,
              fmt::format("unknown model family '{}' (known: {})", ellipsize(name), fmt::join(subnet_family_names(), ", ")));
}

ShrinkResult shrink_subnet(const Subnet& from, double macs_fraction, const std::function<double(const Subnet&)>& macs,
                           const std::function<double(const Subnet&)>& accuracy) {
  if (from.empty()) throw Error(ErrorCode::InvalidArgument, "shrink_subnet: no sub-network given");
  if (!(macs_fraction > 0 && macs_fraction <= 1))
    throw Error(ErrorCode::InvalidArgument, fmt::format("shrink_subnet: MACs fraction {} is not in (0, 1]", macs_fraction));
  if (!macs) throw Error(ErrorCode::InvalidArgument, "shrink_subnet: no MACs function given");
  const SubnetFamily& fam = subnet_family(from.family());
  if (!fam.smaller)
    throw Error(ErrorCode::InvalidArgument, fmt::format("shrink_subnet: family '{}' has no reduction rule (SubnetFamily::smaller)", fam.name));
  ShrinkResult r{from, macs(from), false, 0};
  const double goal = macs_fraction * r.macs;
  double acc = accuracy ? accuracy(from) : 0;
  while (r.macs > goal) {
    const std::vector<Subnet> next = fam.smaller(r.subnet);
    int best = -1;
    double best_macs = 0, best_acc = 0, best_score = 0;
    for (size_t i = 0; i < next.size(); ++i) {
      const double m = macs(next[i]);
      if (!(m < r.macs)) continue;  // a reduction that saves nothing is no step
      const double a = accuracy ? accuracy(next[i]) : 0;
      // Least accuracy lost per MAC removed; without an estimate, the fewest MACs removed.
      const double score = accuracy ? (acc - a) / (r.macs - m) : r.macs - m;
      if (best < 0 || score < best_score) best = static_cast<int>(i), best_macs = m, best_acc = a, best_score = score;
    }
    if (best < 0) return r;
    r.subnet = next[static_cast<size_t>(best)];
    r.macs = best_macs;
    acc = best_acc;
    ++r.steps;
  }
  r.reached = true;
  return r;
}

Subnet Subnet::parse(const std::string& family, const std::string& json) { return subnet_family(family).parse(json); }

Subnet Subnet::from_json(const std::string& json) {
  nlohmann::json j;
  try {
    j = json_strict::parse(json, "sub-network JSON");
  } catch (const Error& e) {
    throw Error(ErrorCode::InvalidArgument, e.what());
  }
  if (!j.is_object()) throw Error(ErrorCode::InvalidArgument, "sub-network JSON: expected an object");
  if (auto it = j.find("family"); it != j.end()) {
    if (!it->is_string()) throw Error(ErrorCode::InvalidArgument, "sub-network JSON: 'family' must be a string");
    return parse(it->get<std::string>(), json);
  }
  std::vector<std::string> hints;
  for (const std::string& name : subnet_family_names()) {
    const SubnetFamily& fam = subnet_family(name);
    for (const std::string& key : fam.json_keys) {
      if (j.contains(key)) return fam.parse(json);  // names are sorted: "ks" (ofa_mbv3) wins over its "w":null
      hints.push_back(fmt::format("'{}' for {}", key, name));
    }
  }
  throw Error(ErrorCode::InvalidArgument,
              fmt::format("sub-network JSON names no family: give \"family\" or a family's keys ({})", fmt::join(hints, ", ")));
}

std::string Subnet::to_json() const { return m_value ? m_value->to_json() : std::string(); }
std::string Subnet::to_string() const { return m_value ? m_value->to_string() : std::string("(none)"); }

size_t Subnet::combine(const subnet_detail::Value& v) {
  return std::hash<std::string>()(v.family()) * 1099511628211ull ^ v.hash();
}

std::string Subnet::wrong_family(const std::string& who, const char* wanted) const {
  return fmt::format("{} needs an {} sub-network, got {}", who, wanted, empty() ? std::string("none") : family() + " " + to_string());
}

bool operator==(const Subnet& a, const Subnet& b) {
  if (a.m_value == b.m_value) return true;
  if (!a.m_value || !b.m_value || a.m_hash != b.m_hash) return false;
  if (std::string(a.m_value->family()) != b.m_value->family()) return false;
  return a.m_value->equals(*b.m_value);
}

}  // namespace dynn
