// OFA's channel rounding, shared by every OFA family (MobileNetV3, ResNet-50).
#pragma once

namespace dynn {

// OFA's make_divisible: max(min_val, int(v + d/2) // d * d), +d when that is below 0.9 v.
// min_val <= 0 means "divisor". Throws InvalidArgument for v <= 0 or divisor <= 0.
int make_divisible(double v, int divisor = 8, int min_val = 0);

}  // namespace dynn
