// Thread settings of the LibTorch inference backend (dynn::dynn, not dynn::core). The count is
// OpenMP's, which is per calling thread; each OfaMbv3Supernet applies its own count when it runs.
#pragma once

namespace dynn {

// Intra-op threads for LibTorch/oneDNN (n >= 1). BLAS (OpenBLAS, resolved at run time) is kept to
// one thread so its pool does not fight the OpenMP one on small machines. Throws Error on n < 1.
void set_num_threads(int n);
int get_num_threads();

}  // namespace dynn
