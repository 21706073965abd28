// main() of every Catch2 test binary. Beyond Catch2's own main:
//  - a test case tagged [shared], run on its own (CTest runs one case per process), exits 77
//    ("skipped" for CTest, SKIP_RETURN_CODE 77) when the shared reference material is absent
//    (no <DYNN_SHARED_DIR>/docs/ofa_spec.md; DYNN_SHARED_DIR from the environment, else the
//    configured default). When it is present, a missing file is a failure (test_support.hpp).
//  - dynn::test::skip (test_skip.hpp): a case that skips itself exits 77 the same way.
//  - the exit status is 0 or 1, never Catch2's count of failed assertions: 77 failed assertions
//    must not read as a skip; a filter that matches no test case fails.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "test_skip.hpp"
#include "test_support.hpp"

namespace {

constexpr int kSkipExitCode = 77;
bool g_single_case = false;  // this process runs exactly one test case
std::string g_skip_reason;   // set by dynn::test::skip

bool has_tag(const Catch::TestCase& tc, const std::string& lower_tag) {
  const auto& tags = tc.getTestCaseInfo().lcaseTags;
  return std::find(tags.begin(), tags.end(), lower_tag) != tags.end();
}

}  // namespace

namespace dynn::test {
void skip(const std::string& reason) {
  WARN("SKIPPED: " << reason);
  SUCCEED("skipped");  // no --warn NoAssertions failure for a case that skipped itself
  if (g_skip_reason.empty()) g_skip_reason = reason;
}
}  // namespace dynn::test

int main(int argc, char* argv[]) {
  Catch::Session session;
  if (int rc = session.applyCommandLine(argc, argv)) return rc;
  Catch::Config& cfg = session.config();
  const bool listing = cfg.listTests() || cfg.listTestNamesOnly() || cfg.listTags() || cfg.listReporters();
  if (!listing) {
    const auto selected = Catch::filterTests(Catch::getAllTestCasesSorted(cfg), cfg.testSpec(), cfg);
    if (selected.empty()) {
      // A filter that selects nothing is a registration bug (a renamed case, a bad escape), never a pass.
      std::cerr << "no test case matches the given filter" << std::endl;
      return 1;
    }
    g_single_case = selected.size() == 1;
    if (g_single_case && has_tag(selected.front(), "shared")) {
      if (!dynn::test::shared_present()) {
        std::cout << "SKIPPED: '" << selected.front().getTestCaseInfo().name
                  << "' needs the shared reference material, not found at '" << dynn::test::shared_dir().string()
                  << "' (set DYNN_SHARED_DIR or configure with -DDYNN_SHARED_DIR=...)" << std::endl;
        return kSkipExitCode;
      }
    }
  }
  const int rc = session.run();
  if (listing) return rc;  // Catch2 reports the number of listed items (catch_discover_tests reads it)
  if (rc != 0) return 1;
  if (g_single_case && !g_skip_reason.empty()) {
    std::cout << "SKIPPED: " << g_skip_reason << std::endl;
    return kSkipExitCode;
  }
  return 0;
}
