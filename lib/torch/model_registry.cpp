#include "dynn/model_registry.hpp"

#include <mutex>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "dynn/error.hpp"
#include "dynn/ofa_mbv3.hpp"
#include "dynn/ofa_resnet50/supernet.hpp"

namespace dynn {
namespace {

bool has_key(const StateDict& sd, const std::function<bool(const std::string&)>& pred) {
  for (const auto& e : sd.entries)
    if (pred(e.first)) return true;
  return false;
}

std::vector<ModelFamily> builtin_families() {
  ModelFamily mbv3;
  mbv3.name = "ofa_mbv3";
  mbv3.description = "OFA MobileNetV3 (keys first_conv.*, blocks.N.{conv|mobile_inverted_conv}.point_linear.*)";
  mbv3.detect = [](const StateDict& sd) {
    return has_key(sd, [](const std::string& k) { return k.rfind("first_conv.", 0) == 0 || k.rfind("module.first_conv.", 0) == 0; }) &&
           has_key(sd, [](const std::string& k) { return k.find(".point_linear.") != std::string::npos; });
  };
  mbv3.load = [](const StateDict& sd, const SupernetOptions& o) -> std::unique_ptr<DynamicModel> {
    return OfaMbv3Supernet::from_state_dict(sd, o);
  };
  ModelFamily resnet;
  resnet.name = ofa_resnet50::kFamily;
  resnet.description = "OFA ResNet-50 (keys input_stem.*, blocks.N.conv1.*)";
  resnet.detect = [](const StateDict& sd) { return ofa_resnet50::looks_like(sd); };
  resnet.load = [](const StateDict& sd, const SupernetOptions& o) -> std::unique_ptr<DynamicModel> {
    return OfaResNet50Supernet::from_state_dict(sd, o);
  };
  return {mbv3, resnet};
}

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::vector<ModelFamily>& registry() {
  static std::vector<ModelFamily> r = builtin_families();
  return r;
}

}  // namespace

void register_model_family(ModelFamily family) {
  if (family.name.empty() || !family.detect || !family.load)
    throw Error(ErrorCode::InvalidArgument, "register_model_family: a family needs a name, a detector and a loader");
  std::lock_guard<std::mutex> lock(registry_mutex());
  for (auto& f : registry())
    if (f.name == family.name) {
      f = std::move(family);
      return;
    }
  registry().push_back(std::move(family));
}

std::vector<ModelFamily> model_families() {
  std::lock_guard<std::mutex> lock(registry_mutex());
  return registry();
}

std::string detect_model_family(const StateDict& sd) {
  for (const auto& f : model_families())
    if (f.detect(sd)) return f.name;
  return "";
}

std::unique_ptr<DynamicModel> model_from_state_dict(const StateDict& sd, const SupernetOptions& opts, const std::string& family) {
  const std::vector<ModelFamily> families = model_families();
  std::vector<std::string> names;
  for (const auto& f : families) {
    names.push_back(f.name);
    if (family.empty() ? f.detect(sd) : f.name == family) return f.load(sd, opts);
  }
  if (!family.empty())
    throw Error(ErrorCode::NotFound, fmt::format("model family '{}' is not registered (known: {})", family, fmt::join(names, ", ")));
  std::vector<std::string> first;
  for (size_t i = 0; i < sd.entries.size() && i < 4; ++i) first.push_back(sd.entries[i].first);
  std::vector<std::string> wanted;
  for (const auto& f : families) wanted.push_back(f.description);
  throw Error(ErrorCode::Unsupported,
              fmt::format("checkpoint layout not recognised: {} tensors, first keys [{}]; known families: {}", sd.size(),
                          fmt::join(first, ", "), fmt::join(wanted, "; ")));
}

std::unique_ptr<DynamicModel> load_model(const std::string& path, const SupernetOptions& opts, const std::string& family) {
  return model_from_state_dict(load_checkpoint(path), opts, family);
}

}  // namespace dynn
