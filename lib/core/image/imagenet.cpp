#include "dynn/image/imagenet.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "dynn/error.hpp"

namespace dynn {

const char* imagenet_class_name(int index) {
  if (index < 0 || index >= kImageNetClasses)
    throw Error(ErrorCode::InvalidArgument, fmt::format("imagenet_class_name: index {} is not in 0..{}", index, kImageNetClasses - 1));
  return imagenet_class_names_table()[index];
}

std::vector<float> softmax(const float* logits, size_t n) {
  std::vector<float> p(n);
  if (n == 0) return p;
  float m = *std::max_element(logits, logits + n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i]) - m);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<float>(std::exp(static_cast<double>(logits[i]) - m) / sum);
  return p;
}

std::vector<std::pair<int, float>> top_k(const float* values, size_t n, size_t k) {
  std::vector<int> idx(n);
  for (size_t i = 0; i < n; ++i) idx[i] = static_cast<int>(i);
  k = std::min(k, n);
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), [&](int a, int b) {
    // NaN sorts last, so the ordering stays strict-weak.
    const float va = std::isnan(values[a]) ? -INFINITY : values[a], vb = std::isnan(values[b]) ? -INFINITY : values[b];
    if (va != vb) return va > vb;
    return a < b;
  });
  std::vector<std::pair<int, float>> out;
  for (size_t i = 0; i < k; ++i) out.emplace_back(idx[i], values[idx[i]]);
  return out;
}

}  // namespace dynn
