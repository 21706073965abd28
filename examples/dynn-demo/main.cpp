// dynn-demo: the main demo. An image classification loop under the runtime manager with a latency
// target that changes during the run and an interference phase, on this machine (threads and
// affinity as knobs, a competing CPU load started by the demo) or on the simulated Jetson Xavier NX
// (DVFS and energy in virtual time, the simulator's interference event).
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "../common/cli.hpp"
#include "../common/model.hpp"
#include "dynn/image.hpp"
#include "dynn/platform.hpp"
#include "dynn/platform/simulated.hpp"
#include "dynn/profile/accuracy_predictor.hpp"
#include "dynn/profile/profiler.hpp"
#include "dynn/runtime.hpp"

namespace fs = std::filesystem;

namespace {

const char* kUsage = R"(usage: dynn-demo [options]

The main dynn demo: classifies images in a loop under the runtime manager, which picks the
sub-network (a Dynamic-OFA level) and the hardware knobs at every inference to meet a latency
target. The run has four phases: a relaxed target, a tight one, a medium one under interference
(a competing CPU load the demo starts, or the simulator's GPU co-runner), and the medium one
without it. Under interference the levels that met the target no longer do: the manager has to
move to smaller levels and other thread counts to stay on target, and where even the smallest
level misses, to sub-networks smaller than the levels, which it builds, prepares in the
background and profiles while it runs (the manager's search, docs/runtime.md).
It prints a live status line and a final table, and writes the trace (CSV) and a plot (SVG).

With no arguments it runs on this machine with a deterministic random-initialised w1.2 supernet
and generated images; accuracies are then the published Dynamic-OFA figures of each level.

options:
  --platform P       real (default: this machine; knobs: threads, affinity) or sim:xavier-nx
                     (simulated Jetson Xavier NX: GPU DVFS, energy, virtual time)
  --weights FILE     OFA checkpoint of either family, detected: OFA MobileNetV3
                     (ofa_mbv3_d234_e346_k357_w1.2; default a random w1.2) or OFA ResNet-50 (its
                     levels are then the family's ladder of six sub-networks; no published accuracy)
  --images PATH      images to classify: an ImageNet folder (class sub-folders), a flat folder
                     (with --gt FILE for labels) or files; default: generated images
  --gt FILE          ground truth of a flat --images folder (see dynn-eval --help)
  --levels FILE      Dynamic-OFA levels JSON (default: ../shared nets_7, its CPU levels, on real;
                     nets_6, its GPU levels, on sim; else an embedded copy of nets_6)
  --bn-stats FILE    per-level BN statistics (default with --weights: the ../shared <levels>_bn_stats.pt)
  --controller NAME  pareto (default on real, and for levels without published accuracy), energy
                     (default on sim), feedback, dynamic-ofa, ...
  --controller-params JSON   parameters of the controller
  --steps N          inferences (default 1200 real, 600 sim)
  --targets A,B,C,D  latency targets (ms) of the four phases (default: from a calibration run)
  --no-interference  skip the competing load / interference event
  --no-search        only the levels: no sub-networks below them (the manager's search)
  --threads N        most intra-op threads (real; default all CPUs)
  --accuracy-floor F sim: accuracy target (fraction, default 0.77) for the energy controller
                     (none by default for levels without published accuracy)
  --no-compute       sim: do not run the network on this CPU (simulated timing only; faster)
  --out DIR          where trace.csv, trace.svg and summary.json go (default dynn-demo-out)
  --seed N           random supernet and generated images (default 2024)
  --write-images DIR write the generated images as an ImageNet-style folder and exit
  --count N          images to generate (default 48)
  --quiet            no live status line
  --help             this text
)";

// ------------------------------------------------------------------ generated images
// Photo-like synthetic images (gradients, discs, noise) of several sizes, as JPEG bytes, so the
// demo exercises the real decoder and transform. Deterministic for a seed.
struct Encoded {
  std::string name;
  std::vector<uint8_t> bytes;
  int label = -1;
};

std::vector<Encoded> generate_images(int count, uint64_t seed, bool progress) {
  demo::Progress bar("generate images", static_cast<size_t>(count), progress && count > 200);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> noise(0, 10);
  const std::pair<int, int> sizes[] = {{500, 375}, {375, 500}, {320, 240}, {256, 256}, {640, 427}, {300, 200}};
  std::vector<Encoded> out;
  for (int i = 0; i < count; ++i) {
    auto [w, h] = sizes[static_cast<size_t>(i) % 6];
    dynn::Image img(w, h, 3);
    double f[3][3];
    for (auto& c : f)
      for (auto& v : c) v = u(rng) * 6;
    struct Disc {
      double x, y, r;
      uint8_t c[3];
    };
    std::vector<Disc> discs(5);
    for (auto& d : discs) {
      d.x = u(rng) * w, d.y = u(rng) * h, d.r = 5 + u(rng) * std::min(w, h) / 3.0;
      for (auto& c : d.c) c = static_cast<uint8_t>(u(rng) * 255);
    }
    for (int y = 0; y < h; ++y) {
      uint8_t* row = img.row(y);
      for (int x = 0; x < w; ++x) {
        const Disc* hit = nullptr;
        for (const auto& d : discs)
          if ((x - d.x) * (x - d.x) + (y - d.y) * (y - d.y) < d.r * d.r) hit = &d;
        for (int c = 0; c < 3; ++c) {
          double v = hit ? hit->c[c] : 128 + 90 * std::sin(f[c][0] * x / w + f[c][1] * y / h + f[c][2]);
          row[3 * x + c] = static_cast<uint8_t>(std::clamp(v + noise(rng), 0.0, 255.0));
        }
      }
    }
    out.push_back({fmt::format("synthetic_{:03d}.jpg", i), dynn::encode_jpeg(img, 90), i % 10});
    bar.update(static_cast<size_t>(i + 1));
  }
  return out;
}

// ------------------------------------------------------------------ competing load (real runs)
// The CPUs of a 64-bit mask as a cpu_set_t (affinity masks of the platform's "affinity" knob).
cpu_set_t cpu_set_of(uint64_t mask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c = 0; c < 64; ++c)
    if (mask >> c & 1) CPU_SET(c, &set);
  return set;
}

// Child processes that spin, one per `count`; they die with the demo (PR_SET_PDEATHSIG). Each may
// run on every CPU of `allowed`, like another application would: a child would otherwise inherit
// the CPUs the demo's affinity knob pinned it to at that moment.
class CpuLoad {
 public:
  explicit CpuLoad(uint64_t allowed) : m_allowed(allowed) {}
  ~CpuLoad() { stop(); }
  void start(int count) {
    for (int i = 0; i < count; ++i) {
      pid_t pid = ::fork();
      if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        const cpu_set_t set = cpu_set_of(m_allowed);
        ::sched_setaffinity(0, sizeof set, &set);
        volatile uint64_t x = 0;
        for (;;) x = x + 1;
      }
      if (pid > 0) m_pids.push_back(pid);
    }
  }
  void stop() {
    for (pid_t p : m_pids) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    m_pids.clear();
  }
  bool running() const { return !m_pids.empty(); }

 private:
  uint64_t m_allowed;
  std::vector<pid_t> m_pids;
};

// Pins every thread of this process (the inference thread and the intra-op pool) to a mask; the
// "affinity" knob is bound to this so it moves the whole model, not only the calling thread.
void pin_process(uint64_t mask) {
  const cpu_set_t set = cpu_set_of(mask);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc/self/task", ec)) {
    pid_t tid = static_cast<pid_t>(std::stol(e.path().filename().string()));
    ::sched_setaffinity(tid, sizeof set, &set);  // a thread that just exited is no error
  }
}

struct Phase {
  std::string name;
  double target_ms = 0;
  bool interference = false;
  size_t begin = 0, end = 0;  // steps
};

// The demo's levels, of either family: Dynamic-OFA's published levels (OFA MobileNetV3: top-1 and
// the recorded Jetson GPU latency), else the family's ladder, whose accuracy is not known: its
// accuracy field is then a rank (bigger = more accurate), so the controllers prefer larger
// sub-networks, and it is reported as such, never as a figure.
struct DemoLevel {
  int level = 0;
  dynn::Subnet subnet;
  double accuracy = 0;  // published top-1, or the rank proxy
  double gpu_ms = 0;    // recorded Jetson Xavier NX GPU latency (0: none; the simulator uses MACs)
};
struct DemoLevels {
  std::vector<DemoLevel> items;
  std::string origin;
  bool published = false;
  dynn::LevelSet dofa;  // the Dynamic-OFA file the levels came from (published)
};

DemoLevels demo_levels(const std::string& family, const std::string& path, const std::string& set) {
  DemoLevels d;
  if (family == dynn::SubnetConfig::kFamily) {
    const demo::Levels l = demo::load_levels(path, set);
    for (const auto& x : l.set.levels) d.items.push_back({x.level, x.subnet, x.top1_percent / 100, x.latency_ms});
    d.origin = l.origin;
    d.published = true;
    d.dofa = l.set;
    return d;
  }
  const auto ladder = dynn::subnet_family(family).ladder();
  for (size_t i = 0; i < ladder.size(); ++i)
    d.items.push_back({static_cast<int>(i), ladder[i], static_cast<double>(i + 1) / static_cast<double>(ladder.size() + 1), 0});
  d.origin = fmt::format("the {} ladder (dynn::SubnetFamily::ladder)", family);
  return d;
}

// The calibrated profile as the demo's operating points: each carries its level and the level's
// accuracy; fastest_per_level gets the fastest point of each level (for the targets).
std::vector<dynn::OperatingPoint> calibrated_points(const dynn::Profile& profile, const DemoLevels& levels,
                                                   std::vector<double>& fastest_per_level) {
  std::vector<dynn::OperatingPoint> points;
  for (dynn::OperatingPoint p : profile.points) {
    const auto it = std::find_if(levels.items.begin(), levels.items.end(), [&](const DemoLevel& l) { return l.subnet == p.subnet; });
    if (it == levels.items.end()) throw dynn::Error(dynn::ErrorCode::Internal, fmt::format("calibrated point '{}' matches no level", p.id));
    const size_t li = static_cast<size_t>(it - levels.items.begin());
    p.accuracy = it->accuracy;
    p.accuracy_source = levels.published ? dynn::AccuracySource::Published : dynn::AccuracySource::Unknown;
    p.level = it->level;
    fastest_per_level[li] = std::min(fastest_per_level[li], p.latency_ms);
    points.push_back(std::move(p));
  }
  return points;
}

std::string fmt_ms(double v) { return std::isfinite(v) ? fmt::format("{:.1f}", v) : "-"; }

}  // namespace

int main(int argc, char** argv) {
  return demo::run_tool("dynn-demo", [&] {
    demo::Args a(argc, argv,
                 {"platform", "weights", "images", "gt", "levels", "bn-stats", "controller", "controller-params", "steps", "targets", "threads",
                  "out", "seed", "write-images", "count", "accuracy-floor"},
                 {"help", "no-interference", "no-compute", "quiet", "no-search"});
    if (a.has("help")) {
      std::cout << kUsage;
      return 0;
    }
    if (!a.positional.empty())
      throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("unexpected argument '{}' (see --help)", a.positional[0]));
    const uint64_t seed = static_cast<uint64_t>(a.integer("seed", static_cast<int>(demo::kDefaultSeed), 0, 1 << 30));
    const int count = a.integer("count", 48, 1, 100000);

    if (a.has("write-images")) {
      fs::path dir = a.get("write-images");
      demo::check_output_dir(dir.string(), "--write-images");
      auto imgs = generate_images(count, seed, !a.has("quiet"));
      for (const auto& e : imgs) {
        fs::path sub = dir / fmt::format("class{:03d}", e.label);
        fs::create_directories(sub);
        dynn::write_text_file((sub / e.name).string(), std::string(e.bytes.begin(), e.bytes.end()));
      }
      std::cout << fmt::format("wrote {} generated JPEGs in {} class folders under {}\n", imgs.size(), std::min(count, 10), dir.string());
      return 0;
    }

    const std::string platform_name = a.get("platform", "real");
    const bool sim = platform_name.rfind("sim:", 0) == 0;
    if (!sim && platform_name != "real")
      throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("--platform '{}': expected real or sim:xavier-nx", platform_name));
    if (sim && platform_name != "sim:xavier-nx")
      throw dynn::Error(dynn::ErrorCode::InvalidArgument,
                        fmt::format("--platform '{}': the demo's simulated board is sim:xavier-nx (Dynamic-OFA's levels were measured there)", platform_name));
    const size_t steps = static_cast<size_t>(a.integer("steps", sim ? 600 : 1200, 8, 10000000));
    const bool quiet = a.has("quiet");
    const bool compute = !(sim && a.has("no-compute"));
    const int ncpu = demo::usable_cpus();
    const int max_threads = a.threads("threads");
    const fs::path out = a.get("out", "dynn-demo-out");
    // Every option is checked before the model is built and calibrated (tens of seconds).
    demo::check_output_dir(out.string(), "--out");
    std::vector<double> targets;
    if (a.has("targets")) {
      const std::string s = a.get("targets");
      for (size_t pos = 0; pos <= s.size();) {
        size_t c = s.find(',', pos);
        if (c == std::string::npos) c = s.size();
        const std::string item = s.substr(pos, c - pos);
        targets.push_back(dynn::parse_double(item, fmt::format("--targets item '{}' (latency in ms)", item), 1e-3, 1e6));
        pos = c + 1;
      }
      if (targets.size() != 4) throw dynn::Error(dynn::ErrorCode::InvalidArgument, "--targets needs four values (ms), one per phase");
    }
    dynn::StateDict sd;
    const std::string family = demo::checkpoint_family(a.get("weights"), &sd);
    const bool mbv3 = family == dynn::SubnetConfig::kFamily;
    demo::check_dynamic_ofa_options(a, family);
    // On the simulator the energy controller trades energy against published accuracies; levels
    // with only a size rank get pareto (the largest that meets the target).
    const std::string cname = a.get("controller", sim && mbv3 ? "energy" : "pareto");
    // A CPU shared with other processes jitters by tens of percent; pareto's default margin (3x the
    // jitter) would then keep it far below the target, so the demo uses 1.5x unless told otherwise.
    const std::string cparams = a.get("controller-params", cname == "pareto" && !sim ? R"({"jitter_k": 1.5})" : "{}");
    auto controller = dynn::make_controller(cname, cparams);  // unknown names and bad parameters fail here
    const double accuracy_floor = a.number("accuracy-floor", 0.77, 0, 1);
    auto t_start = std::chrono::steady_clock::now();

    // ---- model, levels, images
    const std::string level_set = sim ? "nets_6" : "nets_7";  // Dynamic-OFA's GPU / CPU levels
    const DemoLevels levels = demo_levels(family, a.get("levels"), level_set);
    demo::Model model;
    if (compute) model = demo::make_model(a.get("weights"), max_threads, seed, true, "dynn-demo", a.has("weights") ? &sd : nullptr);
    dynn::DynamicModel* net_any = compute ? &model.dynamic() : nullptr;
    std::string bn_path = a.get("bn-stats");
    if (bn_path.empty() && !model.random && model.net && std::fabs(model.net->arch().width_mult - 1.2) < 1e-6)
      bn_path = demo::shared_file("data/dynamic_ofa/" + (a.has("levels") || levels.origin.rfind("embedded", 0) == 0 ? std::string("nets_6") : level_set) +
                                  "_bn_stats.pt");
    if (!bn_path.empty() && model.net) demo::apply_level_bn_stats(*model.net, levels.dofa, bn_path);

    std::vector<Encoded> generated;
    std::unique_ptr<dynn::ImageDataset> dataset;
    if (a.has("images")) {
      std::string p = a.get("images");
      std::error_code ec;
      bool has_class_dirs = false;
      if (fs::is_directory(p, ec) && !a.has("gt"))
        for (const auto& e : fs::directory_iterator(p, ec)) has_class_dirs = has_class_dirs || e.is_directory();
      dataset = std::make_unique<dynn::ImageDataset>(a.has("gt") ? dynn::ImageDataset::from_flat_folder(p, a.get("gt"))
                                                     : has_class_dirs ? dynn::ImageDataset::from_folder(p)
                                                                      : dynn::ImageDataset::from_paths({p}));
    } else {
      generated = generate_images(count, seed, !quiet);
    }
    const bool labelled = dataset && dataset->labelled() && !model.random && net_any && net_any->num_classes() == 1000;

    std::cout << "dynn-demo\n";
    std::cout << "  platform:  " << (sim ? "simulated Jetson Xavier NX (virtual time; GPU DVFS, energy)" : "this machine (real time; knobs threads, affinity)")
              << "\n";
    std::cout << "  model:     " << (net_any ? model.description : std::string("not run (--no-compute)")) << "\n";
    if (!bn_path.empty() && model.net) std::cout << "  BN stats:  " << bn_path << " (per level)\n";
    std::cout << "  images:    "
              << (dataset ? fmt::format("{} from {}{}", dataset->size(), a.get("images"), labelled ? " (labelled: top-1 measured)" : "")
                          : fmt::format("{} generated synthetic JPEGs (seed {}), decoded and transformed every step", generated.size(), seed))
              << "\n";
    std::cout << "  levels:    " << levels.items.size() << (levels.published ? " Dynamic-OFA levels from " : " levels: ") << levels.origin << "\n";
    if (levels.published)
      std::cout << "  accuracy:  published ImageNet top-1 of each level (Dynamic-OFA's levels file, measured by its authors\n"
                   "             with the released w1.2 weights), quoted, not measured by this run\n";
    else
      std::cout << "  accuracy:  not known for these " << family << " sub-networks (no published levels or predictor): the\n"
                   "             controllers rank them by size (bigger = preferred); no accuracy is reported\n";

    // ---- platform and operating points
    std::shared_ptr<dynn::Platform> platform;
    dynn::SimulatedPlatform* simp = nullptr;
    std::shared_ptr<dynn::DynamicModel> runner;
    std::vector<dynn::OperatingPoint> points;
    std::vector<std::string> knobs;
    std::unique_ptr<CpuLoad> load;
    dynn::CallbackKnob* threads_knob = nullptr;
    dynn::CallbackKnob* affinity_knob = nullptr;
    std::vector<double> fastest_per_level(levels.items.size(), INFINITY);

    if (sim) {
      auto s = std::make_shared<dynn::SimulatedPlatform>(dynn::SimBoard::xavier_nx());
      simp = s.get();
      platform = s;
      // The simulator's clock is the one the manager reads: an inference takes the simulated Jetson
      // time of the level (Dynamic-OFA's recorded GPU latency at the reference clocks, scaled by
      // DVFS and interference). The network still runs on this CPU for real predictions.
      std::shared_ptr<dynn::DynamicModel> net;
      if (net_any) net = std::shared_ptr<dynn::DynamicModel>(net_any, [](dynn::DynamicModel*) {});
      dynn::SimulatedModel::Options so;
      so.device = "gpu";
      so.family = family;
      if (!levels.published) {
        // No recorded latency: the simulator times the sub-networks from their MACs, at the MAC
        // rate of the board's MobileNetV3 tables (docs/simulator.md) where ../shared has them.
        const std::string cpu_lut = demo::shared_file("data/dynamic_ofa/latency_lut_jetson_xavier_nx_cpu");
        const std::string gpu_lut = demo::shared_file("data/dynamic_ofa/latency_lut_jetson_xavier_nx_gpu");
        if (cpu_lut.empty() || gpu_lut.empty())
          throw dynn::Error(dynn::ErrorCode::NotFound, "the simulated board needs Dynamic-OFA's Xavier NX latency tables (../shared/data/dynamic_ofa) "
                                                       "to time a family without recorded levels");
        dynn::load_latency_tables(*simp, cpu_lut, gpu_lut);
      }
      auto sm = std::make_shared<dynn::SimulatedModel>(*simp, net, so);
      for (const auto& l : levels.items)
        if (l.gpu_ms > 0) sm->set_reference(l.subnet, "gpu", l.gpu_ms);
      runner = sm;
      // Points: level x GPU clock (the three top OPPs and one mid one), device GPU.
      auto hz = platform->knob("gpu.freq").values();
      std::vector<int64_t> clocks;
      for (size_t k : {hz.size() / 2, hz.size() - 3, hz.size() - 2, hz.size() - 1})
        if (k < hz.size() && std::find(clocks.begin(), clocks.end(), hz[k]) == clocks.end()) clocks.push_back(hz[k]);
      knobs = {"gpu.freq", "device"};
      // Calibration times a net-less twin (same recorded latencies): the simulator's answer does
      // not depend on running the network on this CPU.
      dynn::SimulatedModel twin(*simp, nullptr, so);
      for (const auto& l : levels.items)  // the run's reference latencies (from MACs: the model's own)
        twin.set_reference(l.subnet, "gpu", sm->reference_ms(l.subnet, "gpu"));
      std::vector<dynn::ProfileTask> tasks;
      for (const auto& l : levels.items)
        for (int64_t f : clocks)
          tasks.push_back({fmt::format("L{}@{}MHz", l.level, f / 1000000), l.subnet, "gpu", {{"gpu.freq", f}, {"device", 0}}});
      std::cout << "calibrating " << tasks.size() << " operating points on the simulator ...\n";
      dynn::ProfilerOptions po;
      po.warmup = 0;
      po.repetitions = 3;
      po.outlier_k = 0;
      points = calibrated_points(dynn::profile_model(twin, *platform, tasks, po), levels, fastest_per_level);
      simp->advance(5);  // settle before the run
    } else {
      platform = std::shared_ptr<dynn::Platform>(dynn::Platform::detect());
      runner = std::shared_ptr<dynn::DynamicModel>(net_any, [](dynn::DynamicModel*) {});
      // Thread counts: 1 and all (and half on bigger machines); affinity: the first t allowed CPUs.
      uint64_t allowed = static_cast<uint64_t>(platform->knob("affinity").max_value().value_or(1));
      std::vector<int> cpus;
      for (int c = 0; c < 64; ++c)
        if (allowed >> c & 1) cpus.push_back(c);
      std::vector<int> tcounts{std::min<int>(max_threads, static_cast<int>(cpus.size()))};
      if (tcounts[0] >= 4) tcounts.push_back(tcounts[0] / 2);
      if (tcounts[0] > 1) tcounts.push_back(1);
      threads_knob = dynamic_cast<dynn::CallbackKnob*>(&platform->knob("threads"));
      affinity_knob = dynamic_cast<dynn::CallbackKnob*>(&platform->knob("affinity"));
      dynn::DynamicModel* net = net_any;
      if (threads_knob) threads_knob->bind([net] { return static_cast<int64_t>(net->num_threads()); }, [net](int64_t v) { net->set_num_threads(static_cast<int>(v)); });
      auto current_mask = std::make_shared<int64_t>(static_cast<int64_t>(allowed));
      if (affinity_knob)
        affinity_knob->bind([current_mask] { return *current_mask; }, [current_mask](int64_t v) {
          pin_process(static_cast<uint64_t>(v));
          *current_mask = v;
        });
      knobs = {"threads", "affinity"};
      net->prepare([&] {
        std::vector<dynn::Subnet> v;
        for (const auto& l : levels.items) v.push_back(l.subnet);
        return v;
      }());
      std::vector<dynn::ProfileTask> tasks;
      for (const auto& l : levels.items)
        for (int t : tcounts) {
          uint64_t mask = 0;
          for (int k = 0; k < t; ++k) mask |= uint64_t{1} << cpus[static_cast<size_t>(k)];
          tasks.push_back({fmt::format("L{}/t{}", l.level, t), l.subnet, "cpu", {{"threads", t}, {"affinity", static_cast<int64_t>(mask)}}});
        }
      std::cout << "calibrating " << tasks.size() << " operating points on this machine ...\n";
      demo::Progress bar("calibrate", tasks.size(), !quiet);
      dynn::ProfilerOptions po;
      po.warmup = 3;
      po.repetitions = 7;
      po.outlier_k = 0;
      dynn::ModelProfilerHooks hooks;
      hooks.on_progress = [&](const dynn::ProfilerProgress& pr) { bar.update(pr.done, pr.current); };
      points = calibrated_points(dynn::profile_model(*net, *platform, tasks, po, hooks), levels, fastest_per_level);
      bar.finish();
      load = std::make_unique<CpuLoad>(allowed);
    }

    // ---- phases and targets
    const size_t nl = fastest_per_level.size();
    auto between = [&](size_t lo, size_t hi) {
      lo = std::min(lo, nl - 1), hi = std::min(hi, nl - 1);
      return 0.5 * (fastest_per_level[lo] + fastest_per_level[hi]);
    };
    // The interference phase keeps the medium target: adapting (smaller levels, other threads) can
    // meet it under the load, which a target no level meets even unloaded could not show.
    if (targets.empty()) targets = {1.15 * fastest_per_level[nl - 1], between(2, 3), between(3, 4), between(3, 4)};
    const bool interference = !a.has("no-interference");
    std::vector<Phase> phases{{"relaxed", targets[0], false},
                              {"tight", targets[1], false},
                              {interference ? "medium + interference" : "medium (no interference)", targets[2], interference},
                              {"medium", targets[3], false}};
    for (size_t i = 0; i < 4; ++i) phases[i].begin = steps * i / 4, phases[i].end = steps * (i + 1) / 4;

    // ---- runtime manager
    dynn::AppOptions app;
    app.name = "classify";
    app.model = runner;
    app.points = points;
    app.controller = std::move(controller);
    app.knobs = knobs;
    app.targets.latency_ms = phases[0].target_ms;
    // On the simulator the energy controller minimises energy; an accuracy floor keeps it from
    // settling on the smallest level whenever that is cheapest (it drops the floor when infeasible).
    // Without published accuracies the levels only have a rank, which a floor cannot be set in.
    if (sim && (levels.published || a.has("accuracy-floor"))) app.targets.accuracy = accuracy_floor;
    // Below the smallest level: the manager's search (in the step that asks on the simulator, so a
    // run in virtual time stays deterministic). OFA's accuracy predictor, where ../shared has it,
    // picks which parts of a network to remove (it knows only OFA MobileNetV3).
    app.search.enabled = !a.has("no-search");
    app.search.background = !sim;
    // Two starved steps, not the default three: a phase is 300 steps, and each one waited is a miss.
    app.search.patience = 2;
    std::string predictor_path;
    if (mbv3 && app.search.enabled) predictor_path = demo::shared_file("data/dynamic_ofa/acc_predictor.pth");
    if (!predictor_path.empty()) {
      // Copies share the immutable weights, so the search's thread can hold its own.
      const dynn::AccuracyPredictor predictor = dynn::AccuracyPredictor::load(predictor_path);
      app.search.accuracy = [predictor](const dynn::Subnet& s) { return predictor.predict(s); };
    }
    dynn::ManagerOptions mo;
    mo.telemetry_reserve = steps;
    auto manager = std::make_unique<dynn::RuntimeManager>(platform, std::move(app), mo);
    {
      // An energy column only where the calibration measured energy (said once below otherwise).
      const bool point_energy = std::any_of(points.begin(), points.end(), [](const dynn::OperatingPoint& p) { return p.energy_mj.has_value(); });
      demo::Table pt{{"operating point", "latency ms", "p90 ms"}, {}};
      if (point_energy) pt.header.push_back("energy mJ");
      pt.header.push_back(levels.published ? "top-1 (published)" : "MMACs");
      for (const auto& p : points) {
        std::vector<std::string> row{p.id, fmt::format("{:.2f}", p.latency_ms), fmt::format("{:.2f}", p.latency_p90_ms)};
        if (point_energy) row.push_back(p.energy_mj ? fmt::format("{:.0f}", *p.energy_mj) : "-");
        row.push_back(levels.published ? demo::pct(p.accuracy, 2) : fmt::format("{:.0f}", p.macs / 1e6));
        pt.rows.push_back(std::move(row));
      }
      std::cout << pt.str();
    }
    std::cout << fmt::format("controller '{}' {} over {} operating points; {} steps in 4 phases, targets {} ms\n\n", cname, cparams, points.size(), steps,
                             fmt::format("{:.1f}", fmt::join(targets, " / ")));

    // ---- the loop
    std::vector<float> input, logits(1000);
    dynn::ImageLoader* loader = nullptr;
    std::unique_ptr<dynn::ImageLoader> loader_own;
    if (dataset) {
      loader_own = std::make_unique<dynn::ImageLoader>(*dataset, dynn::EvalTransform(224));
      loader = loader_own.get();
    }
    size_t decoded_skipped = 0;
    std::vector<size_t> correct(4, 0), judged(4, 0);
    const bool tty = ::isatty(2) != 0;
    double last_draw = -1;
    size_t phase = 0;
    auto wall = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count(); };
    const double loop_start = wall();
    for (size_t step = 0; step < steps; ++step) {
      while (phase + 1 < phases.size() && step >= phases[phase + 1].begin) {
        if (phases[phase].interference) {
          if (sim) simp->clear_interference();
          else load->stop();
        }
        ++phase;
      }
      if (step == phases[phase].begin) {
        dynn::Targets t = manager->targets();
        t.latency_ms = phases[phase].target_ms;
        manager->set_targets(t);
        if (phases[phase].interference) {
          if (sim) simp->add_interference({dynn::SimInterference::Target::Gpu, simp->now(), 1e9, 0.14, 0});  // 0.14: Dynamic-OFA's GPU co-runner (x1.16)
          else load->start(std::max(1, ncpu / 2));
        }
      }
      const dynn::OperatingPoint& p = manager->plan();
      const int r = p.subnet.resolution();
      int label = -1;
      if (loader) {
        loader->set_transform(dynn::EvalTransform(r));
        if (!loader->next_one(input, label)) {
          loader->reset();
          if (!loader->next_one(input, label))
            throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("no readable image in {}", a.get("images")));
        }
      } else {
        const auto& e = generated[step % generated.size()];
        input = dynn::EvalTransform(r)(dynn::decode_image(e.bytes.data(), e.bytes.size(), e.name));
      }
      auto res = manager->infer(input.data(), 1, 3, r, r, logits.data(), logits.size());
      if (labelled && label >= 0) {
        ++judged[phase];
        correct[phase] += dynn::top_k(logits.data(), 1000, 1)[0].first == label;
      }
      double now = wall();
      if (!quiet && (tty ? (now - last_draw > 0.1 || step + 1 == steps) : ((step + 1) % std::max<size_t>(1, steps / 8) == 0))) {
        last_draw = now;
        auto s = manager->telemetry().summary(phases[phase].begin);
        std::string line = fmt::format("[{}/4 {:<22}] step {:>4}/{}  target {:>6.1f} ms | {:<14} {:>7.1f} ms {} | on target {:>5.1f}% | acc {:.2f}%",
                                       phase + 1, phases[phase].name, step + 1, steps, phases[phase].target_ms, manager->point(res.point).id,
                                       res.latency_ms, res.met ? "ok  " : "MISS", 100 * s.within_target, 100 * s.mean_accuracy);
        if (sim) line += fmt::format(" | {:.0f} mJ", res.energy_mj);
        if (tty)
          std::fprintf(stderr, "\r\033[K%s", line.c_str());
        else
          std::fprintf(stderr, "%s\n", line.c_str());
      }
    }
    if (load) load->stop();
    if (sim) simp->clear_interference();
    if (!quiet && tty) std::fprintf(stderr, "\n");
    if (loader) decoded_skipped = loader->stats().skipped;
    const double loop_s = wall() - loop_start;

    // ---- results
    const auto& tel = manager->telemetry();
    fs::create_directories(out);
    tel.write_csv((out / "trace.csv").string());
    tel.write_svg((out / "trace.svg").string(),
                  fmt::format("dynn-demo: {} on {}, controller {}", !net_any ? "simulated supernet" : model.random ? "random w1.2 supernet" : family + " supernet",
                              sim ? "simulated Xavier NX" : "this machine", cname));
    const bool has_energy = std::isfinite(tel.summary().mean_energy_mj);  // no column of n/a where nothing measures it
    demo::Table t{{"phase", "steps", "target ms", "on target", "mean ms", "p99 ms", "mean acc*"}, {}};
    if (has_energy) t.header.push_back("energy mJ");
    t.header.insert(t.header.end(), {"switches", "mostly on"});
    if (labelled) t.header.push_back("measured top-1");
    nlohmann::json js{{"platform", platform_name}, {"controller", cname}, {"steps", steps}, {"model", model.description},
                      {"levels_origin", levels.origin}, {"loop_seconds", loop_s}, {"phases", nlohmann::json::array()}};
    // What the controller did in a phase: the point it ran on most, and for what share of the steps.
    auto mostly_on = [&](size_t b, size_t e) {
      std::map<int, size_t> n;
      for (size_t i = b; i < std::min(e, tel.size()); ++i) ++n[tel.rows()[i].point];
      const auto top = std::max_element(n.begin(), n.end(), [](const auto& x, const auto& y) { return x.second < y.second; });
      return top == n.end() ? std::string("-")
                            : fmt::format("{} ({:.0f}%)", manager->point(top->first).id, 100.0 * static_cast<double>(top->second) / static_cast<double>(e - b));
    };
    auto add_row = [&](const std::string& name, size_t b, size_t e, double target, int ph) {
      auto s = tel.summary(b, e);
      std::vector<std::string> row{name, std::to_string(s.count), target > 0 ? fmt::format("{:.1f}", target) : "-", demo::pct(s.within_target),
                                   fmt_ms(s.mean_latency_ms), fmt_ms(s.p99_latency_ms),
                                   levels.published ? demo::pct(s.mean_accuracy, 2) : std::string("-")};
      if (has_energy) row.push_back(std::isfinite(s.mean_energy_mj) ? fmt::format("{:.0f}", s.mean_energy_mj) : "-");
      row.insert(row.end(), {std::to_string(s.switches), mostly_on(b, e)});
      size_t c = 0, j = 0;
      for (int k = 0; k < 4; ++k)
        if (ph < 0 || ph == k) c += correct[static_cast<size_t>(k)], j += judged[static_cast<size_t>(k)];
      if (labelled) row.push_back(j ? demo::pct(static_cast<double>(c) / static_cast<double>(j)) : "-");
      t.rows.push_back(row);
      js["phases"].push_back({{"phase", name}, {"steps", s.count}, {"target_ms", target}, {"within_target", s.within_target},
                              {"mean_latency_ms", s.mean_latency_ms}, {"p99_latency_ms", s.p99_latency_ms},
                              {"mean_accuracy", levels.published ? nlohmann::json(s.mean_accuracy) : nlohmann::json()},
                              {"mean_energy_mj", std::isfinite(s.mean_energy_mj) ? nlohmann::json(s.mean_energy_mj) : nlohmann::json()},
                              {"switches", s.switches}, {"mostly_on", mostly_on(b, e)}});
    };
    for (size_t i = 0; i < phases.size(); ++i) add_row(phases[i].name, phases[i].begin, phases[i].end, phases[i].target_ms, static_cast<int>(i));
    add_row("whole run", 0, steps, 0, -1);
    std::cout << "\n" << t.str();
    const dynn::SearchStatus search = manager->search_status();
    if (search.searches > 0) {
      std::cout << fmt::format("search below the levels: {} search{}, {} sub-network{} added as {} points ({} profiled online); last: {}\n",
                               search.searches, search.searches == 1 ? "" : "es", search.subnets_added, search.subnets_added == 1 ? "" : "s",
                               search.points_added, search.points_profiled, search.last);
      for (size_t i = points.size(); i < manager->context().points.size(); ++i) {
        const auto& p = manager->point(static_cast<int>(i));
        std::cout << fmt::format("  {:<18} {:>7.2f} ms  {:>5.0f} MMACs  {}\n", p.id, p.latency_ms, p.macs / 1e6, p.subnet.to_string());
      }
    } else {
      std::cout << (a.has("no-search") ? "search below the levels: off (--no-search)\n" : "search below the levels: none started (the controller never reported that no point can meet the target)\n");
    }
    js["search"] = {{"searches", search.searches}, {"subnets_added", search.subnets_added}, {"points_added", search.points_added},
                    {"points_profiled", search.points_profiled}, {"last", search.last}};
    if (levels.published)
      std::cout << "* mean accuracy: published ImageNet top-1 of the level each inference ran on (Dynamic-OFA, " << levels.origin << ")"
                << (search.points_added ? ";\n  a sub-network the search found counts just below the level it came from (or as OFA's predictor says, if lower)" : "")
                << "\n";
    else
      std::cout << "* mean accuracy: not known for " << family << " sub-networks here (the controllers ranked the levels by size)\n";
    if (!sim)
      std::cout << (has_energy ? "  energy: from this machine's energy counter (RAPL or INA3221, docs/platform.md), per inference\n"
                               : "  energy: not measured: this machine has no readable energy counter (RAPL, INA3221: docs/platform.md)\n");
    if (sim) std::cout << "  energy: simulated whole-module energy per inference (docs/simulator.md)\n";
    if (model.random) std::cout << "  the network ran with random weights: its predictions are not meaningful (use --weights and --images)\n";
    if (decoded_skipped) std::cout << fmt::format("  {} unreadable image(s) skipped\n", decoded_skipped);
    std::cout << fmt::format("wrote {}, {} and {} ({} steps in {:.1f} s{})\n", (out / "trace.csv").string(), (out / "trace.svg").string(),
                             (out / "summary.json").string(), steps, loop_s, sim ? fmt::format(", {:.1f} s simulated", simp->now()) : "");
    dynn::write_text_file((out / "summary.json").string(), js.dump(1) + "\n");

    // Knobs back, callbacks unbound before the model goes.
    manager.reset();
    if (threads_knob) threads_knob->unbind();
    if (affinity_knob) affinity_knob->unbind();
    return 0;
  });
}
