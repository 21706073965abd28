#include "dynn/subnet.hpp"

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
