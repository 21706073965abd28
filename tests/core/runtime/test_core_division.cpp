// The core-division policy on its own (lib/core/runtime/core_division.hpp).
#include <catch2/catch.hpp>

#include "core/runtime/core_division.hpp"

using namespace dynn::runtime_detail;

TEST_CASE("core division: even first, then one core from the most slack to the least", "[runtime]") {
  const std::vector<int> cpus = {0, 1, 2, 3, 4, 5};
  std::vector<CoreShare> s(2);
  auto m = divide_cores(cpus, s);
  REQUIRE(m.size() == 2);
  CHECK(m[0] == 0b000111);
  CHECK(m[1] == 0b111000);
  // App 0 misses (1.2 x target), app 1 idles (0.5): app 0 takes a core.
  s[0] = {1, m[0], 4, 4 * 1.2};
  s[1] = {1, m[1], 4, 4 * 0.5};
  m = divide_cores(cpus, s);
  CHECK(popcount64(m[0]) == 4);
  CHECK(popcount64(m[1]) == 2);
  CHECK((m[0] & m[1]) == 0);
  // Both near target: nothing moves.
  s[0] = {1, m[0], 4, 4 * 0.9};
  s[1] = {1, m[1], 4, 4 * 0.9};
  CHECK(divide_cores(cpus, s) == m);
  // The donor keeps its minimum.
  s[0] = {1, m[0], 4, 4 * 2.0};
  s[1] = {2, m[1], 4, 4 * 0.1};
  CHECK(popcount64(divide_cores(cpus, s)[1]) == 2);
}

TEST_CASE("core division: too few CPUs for every minimum leaves affinity alone", "[runtime]") {
  std::vector<CoreShare> s(3);
  s[0].min_cores = 2;
  CHECK(divide_cores({0, 1, 2}, s).empty());
  CHECK(divide_cores({0, 1, 2, 3}, s).size() == 3);
  CHECK(divide_cores({}, {}).empty());
  // Odd counts: the first apps get the remainder; CPU ids need not be contiguous.
  auto m = divide_cores({0, 2, 4, 6, 8}, std::vector<CoreShare>(2));
  CHECK(m[0] == ((1u << 0) | (1u << 2) | (1u << 4)));
  CHECK(m[1] == ((1u << 6) | (1u << 8)));
}
