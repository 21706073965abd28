// NVML (NVIDIA Management Library) as a table of function pointers, filled at run time by
// dlopen("libnvidia-ml.so.1"); dynn never links the driver. Tests fill the table with fakes.
// Signatures mirror nvml.h with enums as int and nvmlDevice_t as void*; return 0 = NVML_SUCCESS.
#pragma once

#include <memory>
#include <string>

namespace dynn {

struct NvmlUtilization {  // layout of nvmlUtilization_t
  unsigned int gpu;
  unsigned int memory;
};

struct NvmlApi {
  int (*init)() = nullptr;      // nvmlInit_v2
  int (*shutdown)() = nullptr;  // nvmlShutdown
  const char* (*error_string)(int) = nullptr;
  int (*device_get_count)(unsigned int*) = nullptr;                        // nvmlDeviceGetCount_v2
  int (*device_get_handle_by_index)(unsigned int, void**) = nullptr;       // ..._v2
  int (*device_get_name)(void*, char*, unsigned int) = nullptr;
  int (*device_get_power_usage)(void*, unsigned int* mw) = nullptr;
  int (*device_get_total_energy_consumption)(void*, unsigned long long* mj) = nullptr;
  int (*device_get_clock_info)(void*, int clock_type, unsigned int* mhz) = nullptr;  // 0 graphics, 1 SM, 2 mem
  int (*device_get_temperature)(void*, int sensor, unsigned int* c) = nullptr;       // 0 = GPU die
  int (*device_get_utilization_rates)(void*, NvmlUtilization*) = nullptr;
  int (*device_get_supported_memory_clocks)(void*, unsigned int* count, unsigned int* mhz) = nullptr;
  int (*device_get_supported_graphics_clocks)(void*, unsigned int mem_mhz, unsigned int* count, unsigned int* mhz) = nullptr;
  int (*device_set_gpu_locked_clocks)(void*, unsigned int min_mhz, unsigned int max_mhz) = nullptr;
  int (*device_reset_gpu_locked_clocks)(void*) = nullptr;
  int (*device_get_power_management_limit)(void*, unsigned int* mw) = nullptr;
  int (*device_get_power_management_limit_constraints)(void*, unsigned int* min_mw, unsigned int* max_mw) = nullptr;
  int (*device_set_power_management_limit)(void*, unsigned int mw) = nullptr;
};

// Loads libnvidia-ml.so.1 (or `path`) and calls nvmlInit. Returns nullptr and sets *why when the
// library or a required symbol is missing or init fails. The handle shuts NVML down and dlcloses
// when the last reference goes.
std::shared_ptr<const NvmlApi> load_nvml(std::string* why = nullptr, const std::string& path = "libnvidia-ml.so.1");

}  // namespace dynn
