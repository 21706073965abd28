// The prepared-plan cache both supernet families use (lib/core/plan_cache.hpp).
#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "core/plan_cache.hpp"

namespace {

struct Plan {
  int key = 0;
  size_t bytes = 0;
};

struct NamedPlan {  // key under another member name, as OfaMbv3's Prepared::cfg
  std::string cfg;
  size_t bytes = 0;
};

using Cache = dynn::detail::PlanCache<int, Plan>;

std::shared_ptr<const Plan> build(Cache& c, int key, size_t bytes, int* builds = nullptr) {
  return c.get_or_build(key, [&] {
    if (builds) ++*builds;
    return std::make_shared<Plan>(Plan{key, bytes});
  });
}

}  // namespace

TEST_CASE("plan cache: built once, least recently used out past the budget, never the current one", "[plan_cache]") {
  Cache c(300);
  int builds = 0;
  c.set_current(build(c, 1, 100, &builds));
  build(c, 2, 100, &builds);
  build(c, 3, 100, &builds);
  CHECK(builds == 3);
  CHECK(build(c, 2, 100, &builds)->key == 2);  // cached: not built again, now the most recent
  CHECK(builds == 3);
  CHECK(c.bytes() == 300);
  build(c, 4, 100, &builds);  // over the budget: 3 is the least recent that is not current
  CHECK(c.count() == 3);
  CHECK(c.bytes() == 300);
  CHECK(c.contains(1));  // current, although least recently used
  CHECK(c.contains(2));
  CHECK_FALSE(c.contains(3));
  CHECK(c.contains(4));
  // A plan bigger than the whole budget is kept while it is the newest.
  build(c, 5, 1000, &builds);
  CHECK(c.contains(5));
  CHECK(c.contains(1));
  CHECK(c.count() == 2);
}

TEST_CASE("plan cache: clear keeps the current plan, clear_all drops it too", "[plan_cache]") {
  Cache c(1000);
  c.set_current(build(c, 1, 10));
  build(c, 2, 20);
  c.clear();
  CHECK(c.count() == 1);
  CHECK(c.bytes() == 10);
  CHECK(c.contains(1));
  CHECK_FALSE(c.contains(2));
  c.erase(1);  // erasing the current plan leaves it current (in use) but not cached
  CHECK(c.count() == 0);
  CHECK(c.current()->key == 1);
  build(c, 1, 10);
  c.clear_all();
  CHECK(c.count() == 0);
  CHECK(c.bytes() == 0);
  REQUIRE(c.current());
  CHECK(c.current()->key == 1);  // until set_current replaces it
  int builds = 0;
  build(c, 1, 10, &builds);
  CHECK(builds == 1);  // built again
}

TEST_CASE("plan cache: the key can live in another member", "[plan_cache]") {
  dynn::detail::PlanCache<std::string, NamedPlan, &NamedPlan::cfg> c(15);
  c.set_current(c.get_or_build("a", [] { return std::make_shared<NamedPlan>(NamedPlan{"a", 10}); }));
  c.get_or_build("b", [] { return std::make_shared<NamedPlan>(NamedPlan{"b", 10}); });
  c.get_or_build("c", [] { return std::make_shared<NamedPlan>(NamedPlan{"c", 10}); });
  CHECK(c.contains("a"));
  CHECK_FALSE(c.contains("b"));
  CHECK(c.contains("c"));
  c.clear();
  CHECK(c.count() == 1);
  CHECK(c.contains("a"));
}

TEST_CASE("plan cache: switching and building from several threads", "[plan_cache]") {
  Cache c(5 * 64);
  c.set_current(build(c, 0, 64));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  // Readers load the current plan and check it is whole while writers build, switch and evict.
  std::thread reader([&] {
    while (!stop.load()) {
      auto p = c.current();
      if (!p || p->bytes != 64 || p->key < 0 || p->key >= 16) ++bad;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 2; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const int key = (i * 7 + t * 3) % 16;
        auto p = build(c, key, 64);
        if (p->key != key) ++bad;
        if (i % 3 == 0) c.set_current(p);
        if (i % 97 == 0) c.clear();
      }
    });
  for (auto& w : writers) w.join();
  stop = true;
  reader.join();
  CHECK(bad.load() == 0);
  CHECK(c.bytes() <= 5 * 64 + 64);  // the budget, plus the current one when it is not the newest
  CHECK(c.bytes() == 64 * c.count());
}
