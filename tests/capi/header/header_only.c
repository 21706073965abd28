/* dynn.h must compile alone as strict C99. */
#include <dynn/dynn.h>
int dynn_header_test_c(void) { return DYNN_OK; }
