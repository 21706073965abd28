#include "dynn/make_divisible.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "dynn/error.hpp"

namespace dynn {

int make_divisible(double v, int divisor, int min_val) {
  if (!(v > 0) || !std::isfinite(v) || v > 1e9)
    throw Error(ErrorCode::InvalidArgument, fmt::format("make_divisible: value {} must be positive and finite", v));
  if (divisor <= 0) throw Error(ErrorCode::InvalidArgument, fmt::format("make_divisible: divisor {} must be positive", divisor));
  if (min_val <= 0) min_val = divisor;
  // int() truncates toward zero; v > 0, so this is a floor, exactly as in Python.
  const long long t = static_cast<long long>(v + divisor / 2.0);
  long long new_v = std::max<long long>(min_val, t / divisor * divisor);
  if (static_cast<double>(new_v) < 0.9 * v) new_v += divisor;
  return static_cast<int>(new_v);
}

}  // namespace dynn
