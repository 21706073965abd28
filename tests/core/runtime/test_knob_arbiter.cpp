// The knob-arbitration rule on its own (lib/core/runtime/knob_arbiter.hpp).
#include <catch2/catch.hpp>

#include "core/runtime/knob_arbiter.hpp"
#include "dynn/platform/knob.hpp"

using namespace dynn;
using dynn::runtime_detail::KnobArbiter;

namespace {
KnobSpec numeric(const std::string& name, const std::string& unit) {
  return KnobSpec{name, unit, "", KnobType::Numeric, {}, 0, 100000, {}};
}
}  // namespace

TEST_CASE("knob arbiter: a frequency gets the highest request, other knobs the app's own", "[runtime]") {
  Platform plat("arbiter");
  plat.add_knob(std::make_unique<CallbackKnob>(numeric("gpu.freq", "MHz"), 1000));
  plat.add_knob(std::make_unique<CallbackKnob>(numeric("cpu.max_freq", "kHz"), 1000));
  plat.add_knob(std::make_unique<CallbackKnob>(numeric("batch", ""), 1));
  KnobArbiter arb(plat, plat.add_claimant("test"));
  const Knob& gpu = plat.knob("gpu.freq");
  CHECK(arb.request(0, gpu, 500) == 500);
  CHECK(arb.request(1, gpu, 300) == 500);  // app 1 may not slow app 0's clock
  CHECK(arb.request(0, gpu, 200) == 300);  // app 0 lowered its request: app 1's is now the highest
  CHECK(arb.request(1, gpu, 100) == 200);
  // Every frequency unit, not a name pattern.
  const Knob& cpu = plat.knob("cpu.max_freq");
  CHECK(arb.request(0, cpu, 800) == 800);
  CHECK(arb.request(1, cpu, 900) == 900);
  // Not a frequency: each request stands for itself.
  const Knob& batch = plat.knob("batch");
  CHECK(arb.request(0, batch, 8) == 8);
  CHECK(arb.request(1, batch, 2) == 2);
  CHECK(arb.request(0, batch, 4) == 4);
}

TEST_CASE("knob arbiter: a write that changes nothing is skipped unless someone else wrote since", "[runtime]") {
  Platform plat("arbiter");
  plat.add_knob(std::make_unique<CallbackKnob>(numeric("gpu.freq", "MHz"), 1000));
  KnobArbiter arb(plat, plat.add_claimant("test"));
  Knob& k = plat.knob("gpu.freq");
  const uint64_t w0 = k.write_count();
  arb.write(k, 500);
  CHECK(k.get() == 500);
  CHECK(k.write_count() == w0 + 1);
  arb.write(k, 500);
  CHECK(k.write_count() == w0 + 1);  // skipped
  arb.write(k, 600);
  CHECK(k.get() == 600);
  CHECK(k.write_count() == w0 + 2);
  k.set(700);  // the application (or another manager) changes it
  arb.write(k, 600);
  CHECK(k.get() == 600);  // written again
  CHECK(k.write_count() == w0 + 4);
  k.restore();  // a restore counts as someone else's write too
  arb.write(k, 600);
  CHECK(k.get() == 600);
}
