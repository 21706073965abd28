// dynn.h must compile alone as C++.
#include <dynn/dynn.h>
int dynn_header_test_cxx() { return DYNN_OK; }
