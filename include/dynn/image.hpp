// Umbrella header of the image API (dynn::core, torch-free): decoding, OFA's evaluation
// transform, ImageNet folders and class names. See docs/examples.md.
#pragma once

#include "dynn/image/dataset.hpp"
#include "dynn/image/image.hpp"
#include "dynn/image/imagenet.hpp"
