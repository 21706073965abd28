// Strict JSON for every file and text format dynn reads (profiles, levels, sub-network configs,
// latency tables, controller parameters, C ABI settings): duplicate object keys are an error (the
// default parser keeps the last silently), nesting is bounded, and numbers are read checked
// (no 64-bit wrap, no fractions where an integer is meant). Internal to lib/core and capi.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "dynn/error.hpp"

namespace dynn::json_strict {

// Error(Parse) "<what>: ..." for malformed JSON (1e999 included), a duplicate key (named, with the
// path of its object), nesting deeper than 64, or an integer literal beyond 64 bits (named as
// written with its path; nlohmann would keep a rounded double). Parsing stops at the first.
nlohmann::json parse(std::string_view text, std::string_view what);

// An integer in [lo, hi] written as an integer (224, not 224.0 or 2.24e2): Error(code) naming
// `what` and the value as written otherwise, also for unsigned values above INT64_MAX.
int64_t integer(const nlohmann::json& v, std::string_view what, int64_t lo, int64_t hi,
                ErrorCode code = ErrorCode::InvalidArgument);
// {"knob": integer, ...} (a HardwareSetting): the one codec of knob settings in every format;
// non-objects, non-integer or wrapped values are Error(code) naming the knob.
std::map<std::string, int64_t> integer_map(const nlohmann::json& v, std::string_view what,
                                           ErrorCode code = ErrorCode::InvalidArgument);
// A finite number in [lo, hi].
double number(const nlohmann::json& v, std::string_view what, double lo, double hi,
              ErrorCode code = ErrorCode::InvalidArgument);

}  // namespace dynn::json_strict
