// Umbrella header of the profiling API: operating points and profiles, Pareto fronts, exact MACs.
#pragma once

#include "dynn/ofa_mbv3_arch.hpp"
#include "dynn/profile/accuracy_predictor.hpp"
#include "dynn/profile/operating_point.hpp"
#include "dynn/profile/latency_table.hpp"
#include "dynn/profile/levels.hpp"
#include "dynn/profile/pareto.hpp"
#include "dynn/profile/profile.hpp"
#include "dynn/profile/profiler.hpp"
#include "dynn/profile/search.hpp"
