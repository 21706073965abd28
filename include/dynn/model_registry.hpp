// The model registry: family name -> detector, loader and description. load_model(path) reads a
// checkpoint, finds the family from its keys and shapes (never from the file name) and loads it;
// a layout no family recognises gets an error that names what was found. Adding a family is one
// register_model_family call (docs/families.md). Torch-free header; the loaders live in dynn::dynn.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dynn/checkpoint.hpp"
#include "dynn/model.hpp"

namespace dynn {

struct ModelFamily {
  std::string name;         // "ofa_mbv3", "ofa_resnet50"
  std::string description;  // one line, with the key pattern it detects
  std::function<bool(const StateDict&)> detect;
  std::function<std::unique_ptr<DynamicModel>(const StateDict&, const SupernetOptions&)> load;
};

// Adds (or replaces, by name) a family; the built-in ones are registered on first use.
void register_model_family(ModelFamily family);
std::vector<ModelFamily> model_families();

// The name of the first registered family whose detector accepts sd; "" when none does.
std::string detect_model_family(const StateDict& sd);

// Loads a checkpoint of any registered family. family "" detects it; a name forces that family
// (Error(NotFound) for an unknown name). Error(Unsupported) when no family recognises the keys,
// naming the first keys found and what each family looks for.
std::unique_ptr<DynamicModel> load_model(const std::string& path, const SupernetOptions& opts = {}, const std::string& family = "");
std::unique_ptr<DynamicModel> model_from_state_dict(const StateDict& sd, const SupernetOptions& opts = {},
                                             const std::string& family = "");

}  // namespace dynn
