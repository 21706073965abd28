// dynn-platform: prints what Platform::detect finds (or a simulated board): knobs with their
// values and writability, sensors with one reading each, CPU clusters, and what is absent.
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "../common/cli.hpp"
#include "dynn/error.hpp"
#include "dynn/platform.hpp"

namespace {
void usage(std::FILE* f) {
  std::fprintf(f,
               "usage: dynn-platform [--json] [--root DIR | --sim NAME] [--nvml-writes] | --restore FILE [--force]\n"
               "  --json         print JSON instead of a table\n"
               "  --root DIR     read sysfs/procfs under DIR instead of / (fake trees, chroots)\n"
               "  --sim NAME     describe a simulated board: xavier-nx, odroid-xu3\n"
               "  --no-nvml      do not load libnvidia-ml.so.1\n"
               "  --nvml-writes  report NVML clock knobs as writable (they touch a shared GPU)\n"
               "  --restore FILE put back the settings recorded by a dynn process that was killed\n"
               "                 (kill -9) before it could (--force: even if that process still runs)\n"
               "  --help         this text\n"
               "Reading never changes a setting. Exit status: 0 ok, 2 bad usage or unreadable tree, 1 other errors.\n");
}
}  // namespace

int main(int argc, char** argv) {
  return demo::run_tool("dynn-platform", [&] {
    demo::Args a(argc, argv, {"root", "sim", "restore"}, {"help", "json", "no-nvml", "nvml-writes", "force"});
    if (a.has("help")) {
      usage(stdout);
      return 0;
    }
    if (!a.positional.empty()) {
      usage(stderr);
      throw dynn::Error(dynn::ErrorCode::InvalidArgument, fmt::format("unexpected argument '{}'", a.positional[0]));
    }
    if (a.has("restore")) {
      // Settings a process that died without restoring (kill -9) left changed.
      const size_t n = dynn::apply_restore_record(a.get("restore"), a.has("force"));
      std::cout << fmt::format("restored {} setting(s) from {}\n", n, a.get("restore"));
      return 0;
    }
    if (a.has("force")) throw dynn::Error(dynn::ErrorCode::InvalidArgument, "--force goes with --restore FILE");
    if (a.has("sim") && (a.has("root") || a.has("no-nvml") || a.has("nvml-writes")))
      throw dynn::Error(dynn::ErrorCode::InvalidArgument, "--sim describes a simulated board: --root, --no-nvml and --nvml-writes do not apply");
    if (a.has("no-nvml") && a.has("nvml-writes")) throw dynn::Error(dynn::ErrorCode::InvalidArgument, "--nvml-writes needs NVML (drop --no-nvml)");
    dynn::DetectOptions opt;
    if (a.has("root")) opt.root = a.get("root");
    opt.use_nvml = !a.has("no-nvml");
    opt.allow_nvml_writes = a.has("nvml-writes");
    std::unique_ptr<dynn::Platform> p;
    if (a.has("sim")) p = dynn::SimulatedPlatform::create(a.get("sim"));
    else p = dynn::Platform::detect(opt);
    std::cout << (a.has("json") ? p->report_json() : p->report()) << std::endl;
    return 0;
  });
}
