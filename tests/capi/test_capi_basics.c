/* Basic C ABI behaviour: versions, status strings, last error, argument checks. */
#include "capi_test.h"
#include <stdio.h>
#include <string.h>


int main(void) {
  EXPECT(dynn_version() != NULL);
  {
    /* The library's version is the one CMake generated into dynn/version_config.h from project(). */
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", DYNN_VERSION_MAJOR, DYNN_VERSION_MINOR, DYNN_VERSION_PATCH);
    EXPECT(strcmp(DYNN_VERSION_STRING, want) == 0);
    EXPECT(dynn_version() != NULL && strcmp(dynn_version(), DYNN_VERSION_STRING) == 0);
  }
  EXPECT(dynn_version_number() == DYNN_VERSION_NUMBER);
  EXPECT(strcmp(dynn_status_string(DYNN_OK), "ok") == 0);
  EXPECT(strcmp(dynn_status_string(DYNN_EINVAL), "invalid argument") == 0);
  EXPECT(strcmp(dynn_status_string(12345), "unknown status") == 0);
#define EXPECT_STATUS_TEXT(code, name, text) EXPECT(code < 0 && strcmp(dynn_status_string(code), text) == 0);
  DYNN_STATUS_CODES(EXPECT_STATUS_TEXT)
#undef EXPECT_STATUS_TEXT
  EXPECT(dynn_last_error() != NULL);

  EXPECT(dynn_set_num_threads(0) == DYNN_EINVAL);
  EXPECT(strstr(dynn_last_error(), "1..1024") != NULL);
  EXPECT(dynn_set_num_threads(-5) == DYNN_EINVAL);
  EXPECT(dynn_set_num_threads(1) == DYNN_OK);
  EXPECT(strcmp(dynn_last_error(), "") == 0);
  return test_result();
}
