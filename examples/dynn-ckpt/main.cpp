// dynn-ckpt: list the tensors of a torch.save checkpoint (zip or legacy) without Python or
// LibTorch, and optionally re-save it as a zip container.
//   dynn-ckpt <file> [--values N] [--convert out.pth]
#include <cstdio>
#include <string>

#include "../common/cli.hpp"
#include "dynn/checkpoint.hpp"
#include "dynn/error.hpp"

namespace {
const char* kUsage =
    "usage: dynn-ckpt <checkpoint> [--values N] [--convert out.pth]\n"
    "Lists key, dtype, shape and location of every tensor of a torch.save file\n"
    "(zip or legacy container); --values prints the first N values of each;\n"
    "--convert writes the state dict as a torch.save zip archive.\n"
    "Exit status: 0 ok, 2 bad usage or unreadable checkpoint, 1 other errors.\n";
}  // namespace

int main(int argc, char** argv) {
  return demo::run_tool("dynn-ckpt", [&] {
    demo::Args a(argc, argv, {"values", "convert"}, {"help"});
    if (a.has("help")) {
      std::printf("%s", kUsage);
      return 0;
    }
    if (a.positional.size() != 1) {
      std::fprintf(stderr, "%s", kUsage);
      throw dynn::Error(dynn::ErrorCode::InvalidArgument,
                        a.positional.empty() ? "no checkpoint given" : fmt::format("one checkpoint expected, got {}", a.positional.size()));
    }
    const std::string path = a.positional[0];
    const int values = a.integer("values", 0, 0, 1 << 30);
    const std::string convert = a.get("convert");
    if (a.has("convert")) demo::check_output_file(convert, "--convert");
    dynn::CheckpointInfo info;
    const dynn::StateDict sd = dynn::load_checkpoint(path, &info);
    std::printf("%s: %s container, %s, %zu tensors\n", path.c_str(), info.container.c_str(),
                info.wrapped ? "under 'state_dict'" : "bare state dict", sd.size());
    int64_t total = 0;
    for (const auto& [key, t] : sd.entries) {
      total += t.numel();
      std::printf("%-70s %-8s %-18s %s", key.c_str(), dynn::dtype_name(t.dtype), t.shape_string().c_str(), t.location.c_str());
      if (values > 0) {
        const auto v = t.to_double();
        for (size_t k = 0; k < v.size() && k < static_cast<size_t>(values); ++k) std::printf(" %.6g", v[k]);
      }
      std::printf("\n");
    }
    std::printf("total elements: %lld\n", static_cast<long long>(total));
    if (!convert.empty()) {
      dynn::save_checkpoint(convert, sd);
      std::printf("wrote %s\n", convert.c_str());
    }
    return 0;
  });
}
