// dynn-ckpt: list the tensors of a torch.save checkpoint (zip or legacy) without Python or
// LibTorch, and optionally re-save it as a zip container.
//   dynn-ckpt <file> [--values N] [--convert out.pth]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "dynn/checkpoint.hpp"
#include "dynn/error.hpp"

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::printf("usage: dynn-ckpt <checkpoint> [--values N] [--convert out.pth]\n"
                "Lists key, dtype, shape and location of every tensor of a torch.save file\n"
                "(zip or legacy container); --values prints the first N values of each;\n"
                "--convert writes the state dict as a torch.save zip archive.\n");
    return argc < 2 ? 2 : 0;
  }
  int values = 0;
  std::string convert;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--values") && i + 1 < argc) values = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--convert") && i + 1 < argc) convert = argv[++i];
    else {
      std::fprintf(stderr, "dynn-ckpt: unknown argument '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  try {
    dynn::CheckpointInfo info;
    const dynn::StateDict sd = dynn::load_checkpoint(argv[1], &info);
    std::printf("%s: %s container, %s, %zu tensors\n", argv[1], info.container.c_str(),
                info.wrapped ? "under 'state_dict'" : "bare state dict", sd.size());
    int64_t total = 0;
    for (const auto& [key, t] : sd.entries) {
      total += t.numel();
      std::printf("%-70s %-8s %-18s %s", key.c_str(), dynn::dtype_name(t.dtype), t.shape_string().c_str(),
                  t.location.c_str());
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
  } catch (const dynn::Error& e) {
    std::fprintf(stderr, "dynn-ckpt: %s (%s)\n", e.what(), dynn::error_code_name(e.code()));
    return 1;
  }
  return 0;
}
