// dynn-eval: ImageNet top-1 / top-5 and latency of sub-networks of any family over an image folder.
#include <chrono>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "../common/cli.hpp"
#include "../common/model.hpp"
#include "dynn/image.hpp"
#include "dynn/profile/profiler.hpp"
#include "dynn/runtime/telemetry.hpp"

namespace {

const char* kUsage = R"(usage: dynn-eval --images DIR [--gt FILE] [options]

Evaluates sub-networks of a supernet (OFA MobileNetV3 or OFA ResNet-50, detected from the
checkpoint) on labelled images with OFA's evaluation transform: top-1 / top-5 accuracy and
per-image latency (median, p90), one row per sub-network.

images:
  --images DIR       ImageNet layout: one sub-folder per class (WNID), labels = sorted folder
                     names (as torchvision's ImageFolder); or, with --gt, a flat folder
  --gt FILE          ground truth for a flat folder: one 0-based label per line in sorted file
                     name order, or "<file name> <label>" lines (labels in sorted-WNID order)
  --limit N          evaluate N images spread evenly over the set (default all)
sub-networks (repeatable; default: every level, for ResNet-50 smallest and largest):
  --subnet SPEC      largest[@r], smallest[@r] or the family's JSON; OFA MobileNetV3 also takes
                     L0..L5 and "ks=... e=... d=... r=..."
  --levels FILE      Dynamic-OFA levels JSON (default: ../shared nets_6, else the embedded copy)
model:
  --weights FILE     OFA checkpoint of either family; default a deterministic random-initialised
                     w1.2 OFA MobileNetV3 supernet
  --bn-stats FILE    Dynamic-OFA per-level BN statistics (nets_6_bn_stats.pt), used for the levels
  --calib DIR        re-calibrate BN statistics of every sub-network on these images first
                     (OFA's set_running_statistics; same folder forms as --images)
  --calib-gt FILE    ground truth when --calib is a flat folder (labels are not used)
  --calib-images N   calibration images (default 2000, OFA's number), --calib-batch B (default 16)
run:
  --batch N          images per inference (default 1; latency is per image = batch time / N)
  --warmup N         inferences before timing each sub-network (default 3)
  --threads N        intra-op threads (default: all CPUs)
  --seed N           seed of the random supernet (default 2024)
  --json FILE        write the results as JSON
  --no-progress      no progress bars
  --help             this text
)";

dynn::ImageDataset open_dataset(const std::string& dir, const std::string& gt) {
  return gt.empty() ? dynn::ImageDataset::from_folder(dir) : dynn::ImageDataset::from_flat_folder(dir, gt);
}

struct Row {
  std::string name;
  dynn::Subnet subnet;
  int level = -1;
  double published = -1;  // published top-1 (fraction) of a level
  size_t images = 0, top1 = 0, top5 = 0, skipped = 0;
  dynn::SampleStats lat;
  bool calibrated = false, level_bn = false;
};

}  // namespace

int main(int argc, char** argv) {
  return demo::run_tool("dynn-eval", [&] {
    demo::Args a(argc, argv,
                 {"images", "gt", "limit", "subnet", "levels", "weights", "bn-stats", "calib", "calib-gt", "calib-images", "calib-batch",
                  "batch", "warmup", "threads", "seed", "json"},
                 {"help", "no-progress"});
    if (a.has("help")) {
      std::cout << kUsage;
      return 0;
    }
    if (!a.positional.empty())
      throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("unexpected argument '{}' (see --help)", a.positional[0]));
    if (!a.has("images")) throw dynn::Error(dynn::ErrorCode::InvalidArgument, "--images DIR is required (see --help)");
    const int batch = a.integer("batch", 1, 1, 1024);
    const int warmup = a.integer("warmup", 3, 0, 1000);
    const int threads = a.threads("threads");
    if (a.has("json")) demo::check_output_file(a.get("json"), "--json");
    const bool progress = !a.has("no-progress");
    auto ds = open_dataset(a.get("images"), a.get("gt")).subset(static_cast<size_t>(a.integer("limit", 0, 0, 1 << 30)));
    if (!ds.labelled()) throw dynn::Error(dynn::ErrorCode::InvalidArgument, "the images have no labels");
    dynn::StateDict sd;
    const std::string family = demo::checkpoint_family(a.get("weights"), &sd);
    const bool mbv3 = family == dynn::SubnetConfig::kFamily;
    demo::check_dynamic_ofa_options(a, family);
    auto levels = demo::load_levels(a.get("levels"));
    std::vector<Row> rows;
    std::vector<std::string> specs = a.all("subnet");
    if (specs.empty() && mbv3)
      for (const auto& l : levels.set.levels) specs.push_back(fmt::format("L{}", l.level));
    if (specs.empty()) specs = {"smallest", "largest"};
    for (const auto& s : specs) {
      Row r;
      r.name = s;
      r.subnet = demo::parse_any_subnet(s, family, levels.set, &r.level);
      for (const auto& l : levels.set.levels)
        if (mbv3 && l.level == r.level) r.published = l.top1_percent / 100;
      rows.push_back(r);
    }
    auto model = demo::make_model(a.get("weights"), threads, static_cast<uint64_t>(a.integer("seed", 2024, 0, 1 << 30)), true, "dynn-eval",
                                  a.has("weights") ? &sd : nullptr);
    dynn::DynamicModel& net = model.dynamic();
    std::cerr << "supernet: " << model.description << "\n";
    std::cerr << fmt::format("images: {} ({} classes) from {}\n", ds.size(), ds.classes.size(), a.get("images"));
    if (a.has("bn-stats")) demo::apply_level_bn_stats(*model.net, levels.set, a.get("bn-stats"));
    for (auto& r : rows) r.level_bn = net.has_bn_stats(r.subnet);

    if (a.has("calib")) {
      auto cds = open_dataset(a.get("calib"), a.get("calib-gt")).subset(static_cast<size_t>(a.integer("calib-images", 2000, 1, 1 << 30)));
      const int cb = a.integer("calib-batch", 16, 1, 1024);
      for (auto& r : rows) {
        dynn::ImageLoader cl(cds, dynn::EvalTransform(r.subnet.resolution()));
        demo::Progress bar("calibrate " + r.name, cds.size(), progress);
        std::vector<int> labels;
        net.recalibrate_bn(r.subnet, [&](std::vector<float>& data, int64_t& n) {
          bool more = cl.next(data, labels, n, cb);
          bar.update(cl.position());
          return more;
        });
        bar.finish();
        r.calibrated = true;
      }
    }

    const int classes = net.num_classes();
    for (auto& r : rows) {
      net.set_subnet(r.subnet);
      const int res = r.subnet.resolution();
      dynn::ImageLoader loader(ds, dynn::EvalTransform(res));
      std::vector<float> data, logits(static_cast<size_t>(classes) * static_cast<size_t>(batch));
      std::vector<int> labels;
      int64_t n = 0;
      std::vector<double> ms;
      demo::Progress bar("eval " + r.name, ds.size(), progress);
      int warm = warmup;
      while (loader.next(data, labels, n, batch)) {
        if (warm > 0) {  // warm-up on the first batch, not counted in latency
          for (; warm > 0; --warm) net.infer(data.data(), n, 3, res, res, logits.data(), logits.size());
        }
        auto t0 = std::chrono::steady_clock::now();
        net.infer(data.data(), n, 3, res, res, logits.data(), logits.size());
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(n));
        for (int64_t i = 0; i < n; ++i) {
          auto best = dynn::top_k(logits.data() + i * classes, static_cast<size_t>(classes), 5);
          r.top1 += best[0].first == labels[static_cast<size_t>(i)];
          for (const auto& b : best) r.top5 += b.first == labels[static_cast<size_t>(i)];
          ++r.images;
        }
        bar.update(loader.position(), fmt::format("top-1 {:.1f}%", 100.0 * static_cast<double>(r.top1) / static_cast<double>(r.images)));
      }
      bar.finish();
      r.skipped = loader.stats().skipped;
      if (!ms.empty()) r.lat = dynn::summarize_samples(ms, 0);
    }

    demo::Table t{{"sub-network", "r", "BN", "images", "top-1", "top-5", "median ms", "p90 ms", "published top-1"}, {}};
    nlohmann::json js{{"supernet", model.description}, {"images", a.get("images")}, {"batch", batch}, {"threads", threads},
                      {"levels_origin", levels.origin}, {"results", nlohmann::json::array()}};
    // A row without a single evaluated image has no figures: "-" in the table, null in the JSON.
    auto figure = [](bool have, double v) { return have ? nlohmann::json(v) : nlohmann::json(); };
    for (const auto& r : rows) {
      const bool have = r.images > 0;
      const double n = have ? static_cast<double>(r.images) : 1.0;
      std::string bn = r.calibrated ? "recalibrated" : r.level_bn ? "level stats" : "supernet";
      t.rows.push_back({r.name, std::to_string(r.subnet.resolution()), bn, std::to_string(r.images), have ? demo::pct(static_cast<double>(r.top1) / n, 2) : "-",
                        have ? demo::pct(static_cast<double>(r.top5) / n, 2) : "-", have ? fmt::format("{:.2f}", r.lat.median_ms) : "-",
                        have ? fmt::format("{:.2f}", r.lat.p90_ms) : "-", r.published >= 0 ? demo::pct(r.published, 2) : "-"});
      js["results"].push_back({{"name", r.name}, {"family", r.subnet.family()}, {"subnet", r.subnet.to_string()},
                               {"resolution", r.subnet.resolution()}, {"bn", bn}, {"images", r.images},
                               {"skipped", r.skipped}, {"top1", figure(have, static_cast<double>(r.top1) / n)},
                               {"top5", figure(have, static_cast<double>(r.top5) / n)}, {"latency_median_ms", figure(have, r.lat.median_ms)},
                               {"latency_p90_ms", figure(have, r.lat.p90_ms)},
                               {"published_top1", r.published >= 0 ? nlohmann::json(r.published) : nlohmann::json()}});
    }
    std::cout << t.str();
    size_t skipped = rows.empty() ? 0 : rows.front().skipped;
    if (skipped) std::cout << fmt::format("{} unreadable image(s) skipped (see the warnings above)\n", skipped);
    if (mbv3)
      std::cout << "published top-1: ImageNet top-1 recorded by Dynamic-OFA with the released weights (" << levels.origin
                << "), quoted for comparison, not measured here\n";
    if (model.random) std::cout << "note: random weights (no --weights): accuracies above are chance level\n";
    if (a.has("json")) dynn::write_text_file(a.get("json"), js.dump(1) + "\n");
    const bool any = std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.images > 0; });
    if (!any) {
      std::cerr << fmt::format("dynn-eval: error: none of the {} image(s) in {} could be read\n", ds.size(), a.get("images"));
      return demo::kExitInput;
    }
    return 0;
  });
}
