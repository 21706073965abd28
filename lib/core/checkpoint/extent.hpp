// Internal: the bounds check of a tensor view against its storage, shared by the reader
// (checkpoint_read.cpp), the writer (checkpoint_write.cpp) and TensorData's conversions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dynn::ckpt {

// Checks that the elements addressed by (offset, shape, stride) lie inside a storage of
// `storage_numel` elements, without overflow, and that numel does not exceed the storage (so a
// stride-0 view cannot make to_float() allocate more than the file holds). Returns "" when fine.
std::string extent_error(const std::vector<int64_t>& shape, const std::vector<int64_t>& stride, int64_t offset,
                         int64_t storage_numel);

}  // namespace dynn::ckpt
