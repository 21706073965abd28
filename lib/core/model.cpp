#include "dynn/model.hpp"

#include <fmt/format.h>

#include "dynn/error.hpp"

namespace dynn {

void check_thread_count(int n, const std::string& who) {
  if (n < 1 || n > kMaxThreads)
    throw Error(ErrorCode::InvalidArgument, fmt::format("{}: thread count {} must be in 1..{}", who, n, kMaxThreads));
}

}  // namespace dynn
