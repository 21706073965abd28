// A tour of the supernet API: load (or make) a supernet, prepare a few sub-networks, switch
// between them and run each. docs/supernet.md walks through it.
//
//   dynn-supernet-tour [checkpoint.pth]
#include <dynn/torch.hpp>

#include <chrono>
#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
  using namespace dynn;
  using Clock = std::chrono::steady_clock;
  try {
    // A published OFA checkpoint, or a deterministic random w1.0 supernet when none is given.
    std::unique_ptr<OfaMbv3Supernet> net = argc > 1 ? OfaMbv3Supernet::load(argv[1]) : OfaMbv3Supernet::random(1.0, 42);
    std::printf("supernet: width %.1f, %zu parameters, %d classes\n", net->arch().width_mult,
                net->arch().parameter_count, net->num_classes());

    std::vector<SubnetConfig> levels = {SubnetConfig::uniform(3, 3, 2, 128), SubnetConfig::uniform(5, 4, 3, 160),
                                        SubnetConfig::uniform(7, 6, 4, 224)};
    net->prepare(levels);  // fold BN and pack weights once, ahead of time

    for (const auto& cfg : levels) {
      auto t0 = Clock::now();
      net->set_subnet(cfg);  // an atomic pointer swap for a prepared sub-network
      const double switch_us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();

      std::vector<float> image(3 * cfg.r * cfg.r, 0.25f), logits(static_cast<size_t>(net->num_classes()));
      t0 = Clock::now();
      net->infer(image.data(), 1, 3, cfg.r, cfg.r, logits.data(), logits.size());
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      size_t best = 0;
      for (size_t i = 1; i < logits.size(); ++i)
        if (logits[i] > logits[best]) best = i;
      std::printf("switched to %s in %.1f us; inference %.1f ms; top class %zu\n", cfg.to_string().c_str(), switch_us, ms, best);
    }
    const ModelMemory m = net->memory();
    std::printf("memory: supernet %.1f MB, %zu prepared sub-networks %.1f MB\n", m.supernet_bytes / 1e6, m.prepared_count,
                m.prepared_bytes / 1e6);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
