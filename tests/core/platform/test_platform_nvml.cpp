// NVML backend against a fake function table (the real library is dlopen'ed, never linked).
#include <algorithm>

#include "dynn/error.hpp"
#include "dynn/platform.hpp"
#include "test_support.hpp"

namespace {

struct FakeGpu {
  unsigned power_mw = 75000;
  unsigned long long energy_mj = 1000000;
  unsigned lock_min = 0, lock_max = 0;  // 0 = unlocked
  int set_calls = 0, reset_calls = 0;
  unsigned limit_mw = 250000;
  int set_rc = 0;
} g_gpu;
int g_dev_token = 0;

int f_init() { return 0; }
int f_shutdown() { return 0; }
const char* f_err(int rc) { return rc == 4 ? "Insufficient Permissions" : rc == 3 ? "Not Supported" : "Unknown Error"; }
int f_count(unsigned* n) { *n = 1; return 0; }
int f_handle(unsigned i, void** d) { if (i != 0) return 2; *d = &g_dev_token; return 0; }
int f_power(void*, unsigned* mw) { *mw = g_gpu.power_mw; return 0; }
int f_energy(void*, unsigned long long* mj) { *mj = g_gpu.energy_mj; return 0; }
int f_clock(void*, int type, unsigned* mhz) { *mhz = type == 2 ? 5001 : 1410; return 0; }
int f_temp(void*, int, unsigned*) { return 3; }  // not supported on this fake board
int f_util(void*, dynn::NvmlUtilization* u) { u->gpu = 37; u->memory = 10; return 0; }
int f_mem_clocks(void*, unsigned* n, unsigned* c) { c[0] = 5001; c[1] = 810; *n = 2; return 0; }
int f_gfx_clocks(void*, unsigned mem, unsigned* n, unsigned* c) {
  if (mem != 5001) return 2;
  const unsigned v[] = {1410, 1200, 900, 600, 210};
  std::copy(v, v + 5, c);
  *n = 5;
  return 0;
}
int f_lock(void*, unsigned lo, unsigned hi) { if (g_gpu.set_rc) return g_gpu.set_rc; g_gpu.lock_min = lo; g_gpu.lock_max = hi; ++g_gpu.set_calls; return 0; }
int f_reset(void*) { g_gpu.lock_min = g_gpu.lock_max = 0; ++g_gpu.reset_calls; return 0; }
int f_limit(void*, unsigned* mw) { *mw = g_gpu.limit_mw; return 0; }
int f_limits(void*, unsigned* lo, unsigned* hi) { *lo = 100000; *hi = 300000; return 0; }
int f_set_limit(void*, unsigned mw) { g_gpu.limit_mw = mw; return 0; }

std::shared_ptr<const dynn::NvmlApi> fake_nvml() {
  auto a = std::make_shared<dynn::NvmlApi>();
  a->init = f_init;
  a->shutdown = f_shutdown;
  a->error_string = f_err;
  a->device_get_count = f_count;
  a->device_get_handle_by_index = f_handle;
  a->device_get_power_usage = f_power;
  a->device_get_total_energy_consumption = f_energy;
  a->device_get_clock_info = f_clock;
  a->device_get_temperature = f_temp;
  a->device_get_utilization_rates = f_util;
  a->device_get_supported_memory_clocks = f_mem_clocks;
  a->device_get_supported_graphics_clocks = f_gfx_clocks;
  a->device_set_gpu_locked_clocks = f_lock;
  a->device_reset_gpu_locked_clocks = f_reset;
  a->device_get_power_management_limit = f_limit;
  a->device_get_power_management_limit_constraints = f_limits;
  a->device_set_power_management_limit = f_set_limit;
  return a;
}

std::unique_ptr<dynn::Platform> detect_with(bool writes, const dynn::test::TempDir& root) {
  dynn::DetectOptions o;
  o.root = root.path.string();
  o.nvml_api = fake_nvml();
  o.allow_nvml_writes = writes;
  return dynn::Platform::detect(o);
}

}  // namespace

TEST_CASE("NVML sensors and read-only-by-default clock knobs", "[platform][nvml]") {
  g_gpu = FakeGpu{};
  dynn::test::TempDir root("nvml-ro");
  auto p = detect_with(false, root);
  CHECK(p->sensor("power.cuda0").read() == Approx(75.0));
  CHECK(p->sensor("energy.cuda0").read() == Approx(1000.0));
  CHECK(p->sensor("freq.cuda0").read() == Approx(1410));
  CHECK(p->sensor("freq.cuda0.mem").read() == Approx(5001));
  CHECK(p->sensor("util.cuda0").read() == Approx(37));
  CHECK_FALSE(p->sensor("temp.cuda0").try_read());
  CHECK(p->sensor("temp.cuda0").last_error().find("Not Supported") != std::string::npos);
  CHECK(p->sensor("energy.total").read() == Approx(1000.0));
  CHECK(p->knob("device").values() == std::vector<int64_t>{-1, 0});

  auto& mx = p->knob("cuda0.max_clock");
  CHECK(mx.values() == std::vector<int64_t>{210, 600, 900, 1200, 1410});
  CHECK(mx.get() == 1410);
  CHECK_FALSE(mx.writable());
  CHECK(mx.unwritable_reason().find("allow_nvml_writes") != std::string::npos);
  try {
    mx.set(900);
    FAIL("expected PermissionDenied");
  } catch (const dynn::Error& e) {
    CHECK(e.code() == dynn::ErrorCode::PermissionDenied);
  }
  CHECK(g_gpu.set_calls == 0);
  CHECK_FALSE(p->knob("cuda0.power_limit").writable());
}

TEST_CASE("NVML writes when allowed: locked clocks and power limit are reset on destruction", "[platform][nvml]") {
  g_gpu = FakeGpu{};
  dynn::test::TempDir root("nvml-rw");
  {
    auto p = detect_with(true, root);
    p->knob("cuda0.max_clock").set(900);
    CHECK(g_gpu.lock_min == 210);
    CHECK(g_gpu.lock_max == 900);
    p->knob("cuda0.min_clock").set(600);
    CHECK(g_gpu.lock_min == 600);
    CHECK_THROWS_AS(p->knob("cuda0.max_clock").set(1000), dynn::Error);  // not a supported clock
    p->knob("cuda0.power_limit").set(150000);
    CHECK(g_gpu.limit_mw == 150000);
    CHECK_THROWS_AS(p->knob("cuda0.power_limit").set(400000), dynn::Error);
  }
  CHECK(g_gpu.lock_min == 0);  // back to unlocked through nvmlDeviceResetGpuLockedClocks
  CHECK(g_gpu.reset_calls >= 1);
  CHECK(g_gpu.limit_mw == 250000);

  // The driver refuses (not root): clear error, knob marked, power limit still writable.
  g_gpu = FakeGpu{};
  g_gpu.set_rc = 4;
  auto p = detect_with(true, root);
  try {
    p->knob("cuda0.max_clock").set(600);
    FAIL("expected an error");
  } catch (const dynn::Error& e) {
    CHECK(e.code() == dynn::ErrorCode::PermissionDenied);
    CHECK(std::string(e.what()).find("Insufficient Permissions") != std::string::npos);
  }
  CHECK_FALSE(p->knob("cuda0.max_clock").writable());
  p->knob("cuda0.power_limit").set(200000);
  CHECK(g_gpu.limit_mw == 200000);
}

TEST_CASE("load_nvml reports a missing library instead of failing", "[platform][nvml]") {
  std::string why;
  auto api = dynn::load_nvml(&why, "libdoes-not-exist-nvml.so.1");
  CHECK(api == nullptr);
  CHECK(why.find("libdoes-not-exist-nvml.so.1") != std::string::npos);
}
