// dynn-classify: ImageNet top-k classes of images with one OFA sub-network.
#include <chrono>
#include <thread>
#include <iostream>

#include <nlohmann/json.hpp>

#include "../common/cli.hpp"
#include "../common/model.hpp"
#include "dynn/image.hpp"
#include "dynn/profile/profiler.hpp"
#include "dynn/runtime/telemetry.hpp"

namespace {

const char* kUsage = R"(usage: dynn-classify [options] IMAGE|FOLDER...

Classifies images (JPEG, PPM/PGM; folders are searched recursively) with one sub-network of an
OFA supernet (MobileNetV3 or ResNet-50, detected from the checkpoint), using OFA's evaluation
transform (Pillow-exact resize, centre crop), and prints the top classes with their probabilities.

options:
  --weights FILE     OFA checkpoint (e.g. ofa_mbv3_d234_e346_k357_w1.2, ofa_resnet50); default: a
                     deterministic random-initialised MobileNetV3 w1.2 (predictions then mean nothing)
  --subnet SPEC      L0..L5 (Dynamic-OFA levels), largest[@r], smallest[@r],
                     "ks=<20 digits> e=<20 digits> d=<5 digits> r=<r>" or arch JSON (default L5);
                     ResNet-50: largest[@r], smallest[@r] or {"d":[..],"e":[..],"w":[..],"r":..}
                     (default largest@224)
  --levels FILE      Dynamic-OFA levels JSON (default: ../shared nets_6, else the embedded copy)
  --bn-stats FILE    Dynamic-OFA per-level BN statistics (nets_6_bn_stats.pt) for the L<n> sub-networks
  --top K            classes per image (default 5)
  --threads N        intra-op threads (default: all CPUs)
  --seed N           seed of the random supernet (default 2024)
  --json FILE        also write the results as JSON
  --no-progress      no progress bar
  --help             this text
)";

}  // namespace

int main(int argc, char** argv) {
  return demo::run_tool("dynn-classify", [&] {
    demo::Args a(argc, argv, {"weights", "subnet", "levels", "bn-stats", "top", "threads", "seed", "json"}, {"help", "no-progress"});
    if (a.has("help")) {
      std::cout << kUsage;
      return 0;
    }
    if (a.positional.empty()) throw dynn::Error(dynn::ErrorCode::InvalidArgument, "no images given (see --help)");
    const int top = a.integer("top", 5, 1, 1000);
    const int threads = a.threads("threads");
    if (a.has("json")) demo::check_output_file(a.get("json"), "--json");
    // The family decides how --subnet reads; the spec is checked before the (slow) model build.
    dynn::StateDict sd;
    const std::string family = demo::checkpoint_family(a.get("weights"), &sd);
    int level = -1;
    int r = 0;
    dynn::SubnetConfig cfg;
    dynn::Subnet other_subnet;
    demo::Levels levels;
    demo::check_dynamic_ofa_options(a, family);
    if (family != dynn::SubnetConfig::kFamily) {
      other_subnet = demo::parse_other_subnet(a.get("subnet", "largest"), family);
    } else {
      levels = demo::load_levels(a.get("levels"));
      cfg = demo::parse_subnet(a.get("subnet", "L5"), levels.set, &level);
      r = cfg.r;
    }
    auto ds = dynn::ImageDataset::from_paths(a.positional);
    auto model = demo::make_model(a.get("weights"), threads, static_cast<uint64_t>(a.integer("seed", 2024, 0, 1 << 30)),
                                  true, "dynn-classify", a.has("weights") ? &sd : nullptr);
    std::cerr << "supernet: " << model.description << "\n";
    dynn::DynamicModel* any = model.other.get();
    if (any) {
      any->set_subnet(other_subnet);
      const dynn::SubnetInfo info = any->subnet_info(any->current_subnet());
      r = info.resolution;
      std::cerr << fmt::format("sub-network: {} ({:.2f} GMACs, {:.2f} M parameters)\n", info.json, info.macs / 1e9, info.parameters / 1e6);
    } else {
      if (a.has("bn-stats")) demo::apply_level_bn_stats(*model.net, levels.set, a.get("bn-stats"));
      std::cerr << "sub-network: " << (level >= 0 ? fmt::format("L{} ", level) : "") << cfg.to_string()
                << (model.net->has_bn_stats(cfg) ? " (per-level BN statistics)" : "") << "\n";
      model.net->set_subnet(cfg);
    }

    dynn::ImageLoader loader(ds, dynn::EvalTransform(r));
    const int classes = any ? any->num_classes() : model.net->num_classes();
    std::vector<float> input, logits(static_cast<size_t>(classes));
    std::vector<double> ms;
    nlohmann::json out = nlohmann::json::array();
    demo::Progress bar("classify", ds.size(), !a.has("no-progress") && ds.size() > 20);
    int label = -1;
    std::string path;
    while (loader.next_one(input, label, &path)) {
      auto t0 = std::chrono::steady_clock::now();
      if (any) any->infer(input.data(), 1, 3, r, r, logits.data(), logits.size());
      else model.net->infer(input.data(), 1, 3, r, r, logits.data(), logits.size());
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      auto prob = dynn::softmax(logits.data(), logits.size());
      auto best = dynn::top_k(prob.data(), prob.size(), static_cast<size_t>(top));
      bar.finish();
      std::cout << path << "\n";
      nlohmann::json j{{"path", path}, {"latency_ms", ms.back()}, {"top", nlohmann::json::array()}};
      for (size_t i = 0; i < best.size(); ++i) {
        std::string name = classes == dynn::kImageNetClasses ? dynn::imagenet_class_name(best[i].first) : fmt::format("class {}", best[i].first);
        std::cout << fmt::format("  {}. {:6.2f}%  {} ({})\n", i + 1, 100 * best[i].second, name, best[i].first);
        j["top"].push_back({{"class", best[i].first}, {"name", name}, {"probability", best[i].second}});
      }
      out.push_back(j);
      bar.update(loader.position());
    }
    bar.finish();
    demo::Table t{{"images", "classified", "skipped", "latency median", "p90", "sub-network"}, {}};
    std::string med = "-", p90 = "-";
    if (!ms.empty()) {
      auto s = dynn::summarize_samples(ms, 0);
      med = fmt::format("{:.1f} ms", s.median_ms);
      p90 = fmt::format("{:.1f} ms", s.p90_ms);
    }
    t.rows.push_back({std::to_string(ds.size()), std::to_string(loader.stats().loaded), std::to_string(loader.stats().skipped), med, p90,
                      level >= 0 ? fmt::format("L{} r={}", level, r) : fmt::format("r={}", r)});
    std::cout << "\n" << t.str();
    if (model.random) std::cout << "note: random weights (no --weights): the classes above are not meaningful\n";
    if (a.has("json")) dynn::write_text_file(a.get("json"), out.dump(1) + "\n");
    if (loader.stats().loaded == 0) {
      std::cerr << fmt::format("dynn-classify: error: none of the {} image(s) could be read\n", ds.size());
      return demo::kExitInput;
    }
    return 0;
  });
}
