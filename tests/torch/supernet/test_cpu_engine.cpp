// The XNNPACK CPU engine ("fast" on CPU): batch re-binding, its thread pool and the CPU affinity
// of its workers, per-layer timing, memory figures (tests/cpu tests lib/cpu on its own). Exactness against the reference is in
// test_supernet.cpp (fixtures and random supernets, every engine).
#include <ATen/ATen.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <dirent.h>

#include <fstream>
#include <set>
#include <thread>

#include "dynn/error.hpp"
#include "dynn/profile/latency_table.hpp"
#include "dynn/torch.hpp"
#include "ofa_fixtures.hpp"
#include "test_skip.hpp"
#include "torch/ofa_mbv3/internal.hpp"

using namespace dynn;
using dynn::test::check_logits;

namespace {

std::vector<float> random_input(int64_t n, int r, uint64_t seed) {
  at::manual_seed(seed);
  at::Tensor t = at::randn({n, 3, r, r});
  return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
}

std::set<long> thread_ids() {
  std::set<long> ids;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ids.insert(std::stol(e->d_name));
    closedir(d);
  }
  return ids;
}

std::string allowed_cpus(long tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("Cpus_allowed_list:", 0) == 0) return line.substr(line.find_first_not_of(" \t", 18));
  return "?";
}

}  // namespace

TEST_CASE("the CPU engine is XNNPACK where it initialises, and re-binds for every batch size", "[supernet][cpu_engine]") {
  REQUIRE(cpu::available());
  auto net = OfaMbv3Supernet::random(1.0, 3);
  REQUIRE(net->impl().kind == ofa::EngineKind::Xnnpack);
  const SubnetConfig cfg = SubnetConfig::smallest(144);
  net->set_subnet(cfg);
  const auto x = random_input(4, 144, 5);
  std::vector<float> one(4000), four(4000), again(1000);
  for (int i = 0; i < 4; ++i)
    net->infer(x.data() + static_cast<size_t>(i) * 3 * 144 * 144, 1, 3, 144, 144, one.data() + 1000 * i, 1000);
  net->infer(x.data(), 4, 3, 144, 144, four.data(), four.size());
  check_logits(four, one, 1000, "batch 4 vs four batch-1 runs");
  net->infer(x.data(), 1, 3, 144, 144, again.data(), again.size());  // back to batch 1
  check_logits(again, std::vector<float>(one.begin(), one.begin() + 1000), 1000, "batch 1 after batch 4");
  at::Tensor xt = at::from_blob(const_cast<float*>(x.data()), {4, 3, 144, 144}, at::kFloat);
  const at::Tensor ref = forward_reference(*net, cfg, xt).contiguous();
  check_logits(four, std::vector<float>(ref.data_ptr<float>(), ref.data_ptr<float>() + ref.numel()), 1000, "reference");
}

TEST_CASE("the CPU engine's workers run where the calling thread is pinned", "[supernet][cpu_engine]") {
  cpu_set_t all;
  CPU_ZERO(&all);
  REQUIRE(sched_getaffinity(0, sizeof all, &all) == 0);
  if (CPU_COUNT(&all) < 2) return dynn::test::skip("one CPU: a pinned pool cannot be told from an unpinned one");
  int last = -1;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &all)) last = c;
  auto net = OfaMbv3Supernet::random(1.0, 3);
  net->set_subnet(SubnetConfig::smallest(128));
  const auto x = random_input(1, 128, 1);
  std::vector<float> y(1000);
  // Pin this thread to its last CPU, then run with 3 threads: the pool's new workers (at least two)
  // must be pinned there too.
  std::thread t([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(last, &one);
    REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
    const auto before = thread_ids();
    net->set_num_threads(3);
    net->infer(x.data(), 1, 3, 128, 128, y.data(), y.size());
    std::set<long> added;
    for (long id : thread_ids())
      if (!before.count(id)) added.insert(id);
    CHECK(added.size() >= 2);
    for (long id : added) CHECK(allowed_cpus(id) == std::to_string(last));
  });
  t.join();
  CHECK(net->num_threads() == 3);
}

TEST_CASE("per-layer times and memory figures of the CPU engine", "[supernet][cpu_engine]") {
  auto net = OfaMbv3Supernet::random(1.0, 4);
  const SubnetConfig cfg = SubnetConfig::largest(160);
  net->set_subnet(cfg);
  std::vector<float> x(3 * 160 * 160, 0.1f), y(1000);
  std::vector<double> layers;
  SubnetConfig ran;
  net->infer(x.data(), 1, 3, 160, 160, y.data(), y.size(), &ran, &layers);
  // first conv, first block, 20 blocks, final expand, pool, feature mix, classifier
  CHECK(layers.size() == 2 + 20 + 4);
  for (double s : layers) CHECK(s >= 0.0);
  const auto mem = net->memory();
  auto plan = net->impl().plans.current();
  REQUIRE(plan->xnn);
  const size_t weights = plan->xnn->weight_floats() * sizeof(float);
  CHECK(weights > 5u << 20);          // w1.0 largest: ~7.6 M floats, 5.1 M without the shared head
  CHECK(mem.prepared_bytes >= weights);  // packed copies of them at least
  CHECK(mem.workspace_bytes >= 160u * 160 * 3 * sizeof(float));
  // The head (960 x 1280 feature mix, 1280 x 1000 classifier + bias) is packed once for all plans.
  const size_t head = (960u * 1280 + 1280u * 1000 + 1000) * sizeof(float);
  CHECK(mem.shared_bytes >= head);
  CHECK(mem.shared_bytes < head + head / 4);
  net->prepare({SubnetConfig::smallest(128)});
  CHECK(net->memory().shared_bytes == mem.shared_bytes);  // a second plan adds no head
  CHECK(net->memory().prepared_bytes < mem.prepared_bytes + weights);
}
