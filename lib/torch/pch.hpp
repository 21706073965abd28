// Precompiled header for the LibTorch targets: ATen is by far the slowest include to parse.
#pragma once
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/script.h>
