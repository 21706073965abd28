// NVML, its one home: the dlopen loader (load_nvml) and what Platform::detect builds from it (the
// GPU sensors, the locked-clock and power-limit knobs).
#include "dynn/platform/nvml.hpp"

#include <dlfcn.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/platform/linux_backends.hpp"
#include "dynn/error.hpp"

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

namespace linux_backends {

namespace fs = std::filesystem;

namespace {

// NVML locked graphics clocks: min and max share one lock (nvmlDeviceSetGpuLockedClocks).
struct NvmlLock {
  std::shared_ptr<const NvmlApi> api;
  void* dev = nullptr;
  unsigned lo = 0, hi = 0;          // supported range
  unsigned cur_lo = 0, cur_hi = 0;  // what we locked (== lo/hi when unlocked)
  std::string err(int rc) const { return api->error_string ? api->error_string(rc) : fmt::format("NVML error {}", rc); }
};

class NvmlClockKnob : public Knob {
 public:
  NvmlClockKnob(KnobSpec spec, std::shared_ptr<NvmlLock> lock, bool is_max, bool allow_writes)
      : Knob(std::move(spec)), m_lock(std::move(lock)), m_is_max(is_max) {
    if (!m_lock->api->device_set_gpu_locked_clocks || !m_lock->api->device_reset_gpu_locked_clocks)
      mark_unwritable("NVML has no nvmlDeviceSetGpuLockedClocks (driver too old)");
    else if (!allow_writes)
      mark_unwritable("read-only by default: NVML setters change a shared GPU; set DetectOptions::allow_nvml_writes");
  }

 protected:
  int64_t read_numeric() const override { return m_is_max ? m_lock->cur_hi : m_lock->cur_lo; }
  void write_numeric(int64_t v) override {
    unsigned lo = m_lock->cur_lo, hi = m_lock->cur_hi;
    (m_is_max ? hi : lo) = static_cast<unsigned>(v);
    if (lo > hi) (m_is_max ? lo : hi) = static_cast<unsigned>(v);
    int rc = (lo == m_lock->lo && hi == m_lock->hi) ? m_lock->api->device_reset_gpu_locked_clocks(m_lock->dev)
                                                     : m_lock->api->device_set_gpu_locked_clocks(m_lock->dev, lo, hi);
    if (rc != 0) throw Error(rc == 4 ? ErrorCode::PermissionDenied : ErrorCode::Backend,
                             fmt::format("nvmlDeviceSetGpuLockedClocks({}, {}): {}", lo, hi, m_lock->err(rc)));
    m_lock->cur_lo = lo;
    m_lock->cur_hi = hi;
  }

 private:
  std::shared_ptr<NvmlLock> m_lock;
  bool m_is_max;
};

class NvmlPowerLimitKnob : public Knob {
 public:
  NvmlPowerLimitKnob(KnobSpec spec, std::shared_ptr<NvmlLock> dev, bool allow_writes) : Knob(std::move(spec)), m_dev(std::move(dev)) {
    if (!m_dev->api->device_set_power_management_limit) mark_unwritable("NVML has no nvmlDeviceSetPowerManagementLimit");
    else if (!allow_writes)
      mark_unwritable("read-only by default: NVML setters change a shared GPU; set DetectOptions::allow_nvml_writes");
  }

 protected:
  int64_t read_numeric() const override {
    unsigned mw = 0;
    if (int rc = m_dev->api->device_get_power_management_limit(m_dev->dev, &mw); rc != 0)
      throw Error(ErrorCode::Backend, "nvmlDeviceGetPowerManagementLimit: " + m_dev->err(rc));
    return mw;
  }
  void write_numeric(int64_t v) override {
    if (int rc = m_dev->api->device_set_power_management_limit(m_dev->dev, static_cast<unsigned>(v)); rc != 0)
      throw Error(rc == 4 ? ErrorCode::PermissionDenied : ErrorCode::Backend,
                  fmt::format("nvmlDeviceSetPowerManagementLimit({}): {}", v, m_dev->err(rc)));
  }

 private:
  std::shared_ptr<NvmlLock> m_dev;
};

}  // namespace

int detect_nvml(Ctx& c, std::vector<Sensor*>& energies) {
  std::shared_ptr<const NvmlApi> api = c.opt.nvml_api;
  if (!api) {
    if (!c.opt.use_nvml || c.root != fs::path("/")) return 0;
    std::string why;
    api = load_nvml(&why);
    if (!api) {
      c.p.add_note(why);
      return 0;
    }
  }
  auto err = [api](int rc) { return api->error_string ? std::string(api->error_string(rc)) : fmt::format("NVML error {}", rc); };
  unsigned count = 0;
  if (int rc = api->device_get_count(&count); rc != 0) {
    c.p.add_note("nvmlDeviceGetCount failed: " + err(rc));
    return 0;
  }
  for (unsigned i = 0; i < count; ++i) {
    void* dev = nullptr;
    if (int rc = api->device_get_handle_by_index(i, &dev); rc != 0) {
      c.p.add_note(fmt::format("NVML device {}: {}", i, err(rc)));
      continue;
    }
    std::string id = fmt::format("cuda{}", i);
    auto add = [&](const std::string& name, const std::string& unit, SensorKind kind, const std::string& desc, auto fn, bool present) {
      if (!present) {
        c.p.add_note(fmt::format("{}: NVML lacks the call", name));
        return static_cast<Sensor*>(nullptr);
      }
      auto s = std::make_unique<FunctionSensor>(name, unit, kind, desc, fn);
      if (kind == SensorKind::Counter) s->set_stale_after(c.opt.counter_stale_after_s);
      auto& ref = c.p.add_sensor(std::move(s));
      if (!ref.try_read()) c.p.add_note(fmt::format("{}: {}", name, ref.last_error()));
      return &ref;
    };
    add("power." + id, "W", SensorKind::Instant, "nvmlDeviceGetPowerUsage (mW, averaged)", [api, dev, err] {
      unsigned mw = 0;
      if (int rc = api->device_get_power_usage(dev, &mw); rc != 0) throw Error(ErrorCode::Backend, "nvmlDeviceGetPowerUsage: " + err(rc));
      return mw * 1e-3;
    }, api->device_get_power_usage != nullptr);
    if (auto* e = add("energy." + id, "J", SensorKind::Counter, "nvmlDeviceGetTotalEnergyConsumption (mJ since driver load)", [api, dev, err] {
          unsigned long long mj = 0;
          if (int rc = api->device_get_total_energy_consumption(dev, &mj); rc != 0)
            throw Error(ErrorCode::Backend, "nvmlDeviceGetTotalEnergyConsumption: " + err(rc));
          return static_cast<double>(mj) * 1e-3;
        }, api->device_get_total_energy_consumption != nullptr))
      energies.push_back(e);
    for (auto [suffix, type] : {std::pair<const char*, int>{"", 0}, {".mem", 2}}) {
      add("freq." + id + suffix, "MHz", SensorKind::Instant, type == 0 ? "graphics clock (nvmlDeviceGetClockInfo)" : "memory clock (nvmlDeviceGetClockInfo)",
          [api, dev, err, type = type] {
            unsigned mhz = 0;
            if (int rc = api->device_get_clock_info(dev, type, &mhz); rc != 0) throw Error(ErrorCode::Backend, "nvmlDeviceGetClockInfo: " + err(rc));
            return static_cast<double>(mhz);
          }, api->device_get_clock_info != nullptr);
    }
    add("temp." + id, "degC", SensorKind::Instant, "GPU die temperature (nvmlDeviceGetTemperature)", [api, dev, err] {
      unsigned t = 0;
      if (int rc = api->device_get_temperature(dev, 0, &t); rc != 0) throw Error(ErrorCode::Backend, "nvmlDeviceGetTemperature: " + err(rc));
      return static_cast<double>(t);
    }, api->device_get_temperature != nullptr);
    add("util." + id, "%", SensorKind::Instant, "GPU utilisation (nvmlDeviceGetUtilizationRates)", [api, dev, err] {
      NvmlUtilization u{};
      if (int rc = api->device_get_utilization_rates(dev, &u); rc != 0) throw Error(ErrorCode::Backend, "nvmlDeviceGetUtilizationRates: " + err(rc));
      return static_cast<double>(u.gpu);
    }, api->device_get_utilization_rates != nullptr);

    // Locked-clock knobs: values = graphics clocks supported at the highest memory clock.
    auto lock = std::make_shared<NvmlLock>();
    lock->api = api;
    lock->dev = dev;
    std::vector<int64_t> clocks;
    if (api->device_get_supported_memory_clocks && api->device_get_supported_graphics_clocks) {
      unsigned n = 64, mem[64];
      if (api->device_get_supported_memory_clocks(dev, &n, mem) == 0 && n > 0) {
        unsigned top = *std::max_element(mem, mem + std::min(n, 64u));
        unsigned g[512], gn = 512;
        if (api->device_get_supported_graphics_clocks(dev, top, &gn, g) == 0)
          for (unsigned k = 0; k < std::min(gn, 512u); ++k) clocks.push_back(g[k]);
      }
    }
    if (!clocks.empty()) {
      std::sort(clocks.begin(), clocks.end());
      lock->lo = lock->cur_lo = static_cast<unsigned>(clocks.front());
      lock->hi = lock->cur_hi = static_cast<unsigned>(clocks.back());
      KnobSpec mn{id + ".min_clock", "MHz", "locked graphics clock, lower bound (nvmlDeviceSetGpuLockedClocks; reset when back to full range)",
                  KnobType::Numeric, clocks, {}, {}, {}};
      KnobSpec mx = mn;
      mx.name = id + ".max_clock";
      mx.description = "locked graphics clock, upper bound (nvmlDeviceSetGpuLockedClocks)";
      c.p.add_knob(std::make_unique<NvmlClockKnob>(mn, lock, false, c.opt.allow_nvml_writes));
      c.p.add_knob(std::make_unique<NvmlClockKnob>(mx, lock, true, c.opt.allow_nvml_writes));
    } else {
      c.p.add_note(id + ": no supported graphics clock list from NVML; no clock knobs");
    }
    unsigned pl_lo = 0, pl_hi = 0, pl = 0;
    if (api->device_get_power_management_limit && api->device_get_power_management_limit_constraints &&
        api->device_get_power_management_limit_constraints(dev, &pl_lo, &pl_hi) == 0 && api->device_get_power_management_limit(dev, &pl) == 0) {
      KnobSpec ps{id + ".power_limit", "mW", "board power limit (nvmlDeviceSetPowerManagementLimit)", KnobType::Numeric, {}, pl_lo, pl_hi, {}};
      c.p.add_knob(std::make_unique<NvmlPowerLimitKnob>(ps, lock, c.opt.allow_nvml_writes));
    }
  }
  return static_cast<int>(count);
}

}  // namespace linux_backends

}  // namespace dynn
