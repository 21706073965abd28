#include "dynn/threads.hpp"

#include "dynn/model.hpp"

#include <dlfcn.h>

#include <ATen/Parallel.h>
#include <fmt/format.h>

#include "dynn/error.hpp"

namespace dynn {
namespace {
// OpenBLAS is whatever the system BLAS alternative is; look its setter up at run time so the
// library does not link against it.
void limit_blas_threads() {
  using SetFn = void (*)(int);
  static SetFn fn = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (fn) fn(1);
}
}  // namespace

void set_num_threads(int n) {
  check_thread_count(n, "set_num_threads");
  limit_blas_threads();
  at::set_num_threads(n);
}

int get_num_threads() { return at::get_num_threads(); }

}  // namespace dynn
