/* What every C ABI test shares: assertion macros, the shared reference material, the exit status.
 * Header-only (each test is one C file); static inline, so a test may leave some unused. */
#ifndef DYNN_CAPI_TEST_H
#define DYNN_CAPI_TEST_H

#include <dynn/dynn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int failures = 0;
static int skipped_parts = 0;

#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: expected %s (last error: %s)\n", __FILE__, __LINE__, #cond, dynn_last_error()); ++failures; } } while (0)
#define EXPECT_ERR(call, code) do { dynn_status s_ = (call); if (s_ != (code)) fprintf(stderr, "  got %d\n", s_); EXPECT(s_ == (code)); EXPECT(strlen(dynn_last_error()) > 0); } while (0)
#define EXPECT_OK(call) do { dynn_status s_ = (call); if (s_ != DYNN_OK) fprintf(stderr, "  got %d\n", s_); EXPECT(s_ == DYNN_OK); } while (0)

/* DYNN_SHARED_DIR from the environment, else the configured default. */
static inline const char* shared_dir(void) {
  const char* s = getenv("DYNN_SHARED_DIR");
  return s && *s ? s : DYNN_SHARED_DIR_DEFAULT;
}

/* 1 when the shared reference material is absent: the caller skips its part (and the test exits
 * 77 = skipped at the end). When it is present, a file of it that fails to load is a failure. */
static inline int shared_missing(const char* part) {
  char spec[1024];
  struct stat st;
  snprintf(spec, sizeof spec, "%s/docs/ofa_spec.md", shared_dir());
  if (stat(spec, &st) == 0) return 0;
  printf("%s skipped: the shared reference material is not at '%s' (set DYNN_SHARED_DIR)\n", part, shared_dir());
  ++skipped_parts;
  return 1;
}

/* Exit status: 1 on any failure, else 77 (skipped, for CTest) if a part was skipped, else 0. */
static inline int test_result(void) {
  if (failures) {
    fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  return skipped_parts ? 77 : 0;
}

#endif
