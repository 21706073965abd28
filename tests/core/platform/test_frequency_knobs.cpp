// One rule for "is this knob a frequency?" (knob.hpp): by unit, for arbitration, plots and governors.
#include <catch2/catch.hpp>

#include <cmath>

#include "dynn/platform/knob.hpp"

using namespace dynn;

TEST_CASE("frequency knobs are recognised by their unit, not their name", "[platform]") {
  CHECK(is_frequency_unit("kHz"));
  CHECK(is_frequency_unit("Hz"));
  CHECK(is_frequency_unit("MHz"));
  CHECK_FALSE(is_frequency_unit("threads"));
  CHECK_FALSE(is_frequency_unit("khz"));
  CHECK(frequency_mhz(1190400, "kHz") == Approx(1190.4));
  CHECK(frequency_mhz(1109250000, "Hz") == Approx(1109.25));
  CHECK(frequency_mhz(1377, "MHz") == 1377);
  CHECK(std::isnan(frequency_mhz(4, "threads")));
  CHECK(is_pinned_frequency_knob("cpufreq.policy0.freq", "kHz"));
  CHECK(is_pinned_frequency_knob("gpu.freq", "Hz"));
  CHECK_FALSE(is_pinned_frequency_knob("gpu.max_freq", "Hz"));
  CHECK_FALSE(is_pinned_frequency_knob("gpu.freq", "threads"));
  CHECK_FALSE(is_pinned_frequency_knob(".freq", "kHz"));
}
