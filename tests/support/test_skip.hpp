// Real skips for the Catch2 tests (Catch2 2.13 has no SKIP). CTest runs one Catch2 test case per
// process (catch_discover_tests); a process that ends with exit status 77 is reported "skipped"
// (SKIP_RETURN_CODE 77). tests/support/catch_main.cpp implements this.
#pragma once

#include <string>

namespace dynn::test {

// Skips the running test case; the caller returns right after:
//   if (cpus < 2) return dynn::test::skip("one CPU: thread counts cannot be told apart");
// When the process runs this test case alone (as CTest runs it), the process exits with 77 after
// the case finished (unless an assertion failed before the skip: then it fails as usual). When
// several cases run in one process (the binary run by hand), the reason is shown as a warning.
void skip(const std::string& reason);

}  // namespace dynn::test
