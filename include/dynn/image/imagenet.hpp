// The 1000 ImageNet-1k class names, built in (torchvision's list; origin in
// lib/core/image/imagenet_classes.cpp), and top-k helpers for logits.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace dynn {

constexpr int kImageNetClasses = 1000;

// Name of class `index` (0..999 in sorted-WNID order: 0 "tench", 1 "goldfish", ...). Throws
// InvalidArgument naming the index when it is out of range.
const char* imagenet_class_name(int index);
// All 1000, in index order.
const char* const* imagenet_class_names_table();

// Softmax of one row of logits (numerically stable, double accumulation).
std::vector<float> softmax(const float* logits, size_t n);
// The k largest entries as (index, value), largest first; ties by the lower index.
std::vector<std::pair<int, float>> top_k(const float* values, size_t n, size_t k);

}  // namespace dynn
