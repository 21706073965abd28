// dynn-platform: prints what Platform::detect finds (or a simulated board): knobs with their
// values and writability, sensors with one reading each, CPU clusters, and what is absent.
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "dynn/error.hpp"
#include "dynn/platform.hpp"

namespace {
void usage(std::FILE* f) {
  std::fprintf(f,
               "usage: dynn-platform [--json] [--root DIR | --sim NAME] [--nvml-writes]\n"
               "  --json         print JSON instead of a table\n"
               "  --root DIR     read sysfs/procfs under DIR instead of / (fake trees, chroots)\n"
               "  --sim NAME     describe a simulated board: xavier-nx, odroid-xu3\n"
               "  --no-nvml      do not load libnvidia-ml.so.1\n"
               "  --help         this text\n"
               "Reading never changes a setting. Exit status: 0 ok, 2 bad usage, 1 error.\n");
}
}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  dynn::DetectOptions opt;
  std::string sim;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--no-nvml") {
      opt.use_nvml = false;
    } else if ((a == "--root" || a == "--sim") && i + 1 < argc) {
      (a == "--root" ? opt.root : sim) = argv[++i];
    } else {
      std::fprintf(stderr, "dynn-platform: unknown or incomplete argument '%s'\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }
  try {
    std::unique_ptr<dynn::Platform> p;
    if (!sim.empty()) p = dynn::SimulatedPlatform::create(sim);
    else p = dynn::Platform::detect(opt);
    std::cout << (json ? p->report_json() : p->report()) << std::endl;
  } catch (const dynn::Error& e) {
    std::fprintf(stderr, "dynn-platform: %s\n", e.what());
    return 1;
  }
  return 0;
}
