#include "dynn/platform/nvml.hpp"

#include <dlfcn.h>

#include <fmt/format.h>

namespace dynn {

namespace {
struct Loaded {
  NvmlApi api;
  void* handle = nullptr;
};
}  // namespace

std::shared_ptr<const NvmlApi> load_nvml(std::string* why, const std::string& path) {
  auto say = [&](const std::string& m) {
    if (why) *why = m;
    return nullptr;
  };
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = ::dlerror();
    return say(fmt::format("NVML not available: dlopen({}) failed: {}", path, e ? e : "unknown error"));
  }
  auto loaded = std::make_unique<Loaded>();
  loaded->handle = h;
  NvmlApi& a = loaded->api;
  std::string missing;
  auto sym = [&](auto& fn, const char* name, bool required) {
    void* p = ::dlsym(h, name);
    if (!p && required) missing += std::string(missing.empty() ? "" : ", ") + name;
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
  };
  sym(a.init, "nvmlInit_v2", true);
  sym(a.shutdown, "nvmlShutdown", true);
  sym(a.error_string, "nvmlErrorString", false);
  sym(a.device_get_count, "nvmlDeviceGetCount_v2", true);
  sym(a.device_get_handle_by_index, "nvmlDeviceGetHandleByIndex_v2", true);
  sym(a.device_get_name, "nvmlDeviceGetName", false);
  sym(a.device_get_power_usage, "nvmlDeviceGetPowerUsage", false);
  sym(a.device_get_total_energy_consumption, "nvmlDeviceGetTotalEnergyConsumption", false);
  sym(a.device_get_clock_info, "nvmlDeviceGetClockInfo", false);
  sym(a.device_get_temperature, "nvmlDeviceGetTemperature", false);
  sym(a.device_get_utilization_rates, "nvmlDeviceGetUtilizationRates", false);
  sym(a.device_get_supported_memory_clocks, "nvmlDeviceGetSupportedMemoryClocks", false);
  sym(a.device_get_supported_graphics_clocks, "nvmlDeviceGetSupportedGraphicsClocks", false);
  sym(a.device_set_gpu_locked_clocks, "nvmlDeviceSetGpuLockedClocks", false);
  sym(a.device_reset_gpu_locked_clocks, "nvmlDeviceResetGpuLockedClocks", false);
  sym(a.device_get_power_management_limit, "nvmlDeviceGetPowerManagementLimit", false);
  sym(a.device_get_power_management_limit_constraints, "nvmlDeviceGetPowerManagementLimitConstraints", false);
  sym(a.device_set_power_management_limit, "nvmlDeviceSetPowerManagementLimit", false);
  if (!missing.empty()) {
    ::dlclose(h);
    return say(fmt::format("NVML at {} lacks required symbols: {}", path, missing));
  }
  if (int rc = a.init(); rc != 0) {
    std::string msg = a.error_string ? a.error_string(rc) : std::to_string(rc);
    ::dlclose(h);
    return say(fmt::format("nvmlInit_v2 failed: {}", msg));
  }
  // Aliasing shared_ptr: callers see the table, the deleter shuts NVML down and closes the library.
  std::shared_ptr<Loaded> owner(loaded.release(), [](Loaded* l) {
    if (l->api.shutdown) l->api.shutdown();
    ::dlclose(l->handle);
    delete l;
  });
  return std::shared_ptr<const NvmlApi>(owner, &owner->api);
}

}  // namespace dynn
