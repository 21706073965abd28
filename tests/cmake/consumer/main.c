#include <dynn/dynn.h>
#include <stdio.h>

int main(void) {
  printf("dynn %s via the C ABI\n", dynn_version());
  return dynn_version_number() == DYNN_VERSION_NUMBER ? 0 : 1;
}
