// The one device vocabulary (dynn/device.hpp): every spelling a profile, a model or the "device"
// knob may use, and the errors for the rest.
#include <catch2/catch.hpp>

#include "dynn/device.hpp"
#include "dynn/error.hpp"

using namespace dynn;

TEST_CASE("device: cpu, gpu, gpu:N, cuda, cuda:N parse to one canonical form", "[device]") {
  CHECK(Device::parse("cpu") == Device::cpu());
  CHECK(Device::parse("gpu") == Device::gpu(0));
  CHECK(Device::parse("cuda") == Device::gpu(0));
  CHECK(Device::parse("cuda:0") == Device::gpu(0));
  CHECK(Device::parse("gpu:0") == Device::gpu(0));
  CHECK(Device::parse("cuda:3") == Device::gpu(3));
  CHECK(Device::parse("cuda:0").to_string() == "gpu");
  CHECK(Device::parse("cuda:2").to_string() == "gpu:2");
  CHECK(Device::parse("cpu").to_string() == "cpu");
  CHECK(Device::parse("gpu:2").knob_value() == 2);
  CHECK(Device::cpu().knob_value() == -1);
  CHECK(Device::from_knob_value(-1) == Device::cpu());
  CHECK(Device::from_knob_value(1) == Device::gpu(1));
  for (const auto& d : {Device::cpu(), Device::gpu(0), Device::gpu(7)}) CHECK(Device::parse(d.to_string()) == d);
}

TEST_CASE("device: other spellings are refused, naming the text and the accepted forms", "[device]") {
  for (const char* bad : {"", "CPU", "gpu:", "cuda:", "cuda:-1", "cuda:x", "cuda0", "gpu:1024", "gpu:00001", "npu", "cpu:0", "cuda:1 "}) {
    INFO(bad);
    try {
      Device::parse(bad);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::InvalidArgument);
      CHECK_THAT(e.what(), Catch::Contains(std::string("'") + bad + "'") && Catch::Contains("cuda:N"));
    }
  }
  CHECK_THROWS_AS(Device::from_knob_value(-2), Error);
  CHECK_THROWS_AS(Device::from_knob_value(5000), Error);
}
