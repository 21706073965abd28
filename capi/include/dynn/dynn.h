/*
 * dynn C ABI: dynamic DNNs kept on target while the hardware under them changes.
 *
 * Conventions (see docs/c_api.md):
 *  - Every fallible function returns a dynn_status: DYNN_OK (0) or a negative error code. After a
 *    failure, dynn_last_error() returns a message for the calling thread. Test the code, not the text.
 *  - Handles are opaque. Each X_create/X_load has an X_free that accepts NULL.
 *  - Out-parameters are written only on success. Memory the library returns is owned by it.
 *  - Params structs come from dynn_X_default_params(); their first field is struct_size, so fields
 *    can be appended in later versions without breaking callers built against this header.
 *  - Strings and arrays go out through caller buffers (buf, size, needed) / (values, capacity,
 *    count); a small buffer gives DYNN_EBUFS and the size needed. Out-structs: set struct_size.
 *  - No C++ exception ever crosses this boundary.
 *  - Thread-safety: one thread per handle unless a function says otherwise; immutable objects
 *    (dynn_bn_stats, dynn_latency_table, dynn_accuracy_predictor) may be shared. dynn_last_error is
 *    per thread; logging (dynn_log_set) is global and thread-safe.
 *
 * Usage sketch:
 *   dynn_platform* plat; dynn_profile* prof; dynn_controller* ctl; dynn_manager* mgr;
 *   dynn_platform_create_simulated("xavier-nx", NULL, &plat);      // or dynn_platform_detect(NULL, &plat)
 *   dynn_profile_load_levels("nets_6_levels.json", "gpu", &prof);  // or dynn_profile_load(path, &prof)
 *   dynn_controller_create("pareto", "{\"margin\": 0.05}", &ctl); // or dynn_controller_create_custom
 *   dynn_manager_params mp = dynn_manager_default_params(); mp.targets.latency_ms = 60;
 *   dynn_manager_create(plat, prof, ctl, supernet_or_NULL, &mp, &mgr);
 *   loop: dynn_manager_plan(mgr, &point, &subnet); dynn_manager_infer(mgr, img, 1, 3, r, r, logits, 1000, &res);
 *   dynn_manager_telemetry_write(mgr, "run.csv", DYNN_TELEMETRY_CSV); dynn_manager_free(mgr); ...
 */
#ifndef DYNN_DYNN_H
#define DYNN_DYNN_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(DYNN_BUILD)
#    define DYNN_API __declspec(dllexport)
#  else
#    define DYNN_API __declspec(dllimport)
#  endif
#else
#  define DYNN_API __attribute__((visibility("default")))
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define DYNN_NODISCARD __attribute__((warn_unused_result))
#else
#  define DYNN_NODISCARD
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define DYNN_VERSION_MAJOR 0
#define DYNN_VERSION_MINOR 1
#define DYNN_VERSION_PATCH 0
#define DYNN_VERSION_NUMBER (DYNN_VERSION_MAJOR * 10000 + DYNN_VERSION_MINOR * 100 + DYNN_VERSION_PATCH)

/* ---- status codes and errors -------------------------------------------------------------- */
typedef int dynn_status;
/* DYNN_OK (0) and the negative codes DYNN_ERROR, DYNN_EINVAL, ... with their meaning: */
#include "dynn/status_codes.h"

/* Library version as "MAJOR.MINOR.PATCH" (static storage) and as MAJOR*10000+MINOR*100+PATCH. */
DYNN_API const char* dynn_version(void);
DYNN_API int dynn_version_number(void);

/* Static text for a status code; never NULL, never allocates. Thread-safe. */
DYNN_API const char* dynn_status_string(dynn_status status);

/* Message of the last failure on the calling thread (thread-local, owned by the library, valid
 * until the next dynn call on this thread). Never NULL; "" when there was no failure. */
DYNN_API const char* dynn_last_error(void);

/* Intra-op thread count of the inference backend for the whole process (n >= 1). Also keeps BLAS
 * from spawning a competing pool. Thread-safe, but don't call it while inference runs. */
DYNN_API DYNN_NODISCARD dynn_status dynn_set_num_threads(int n);

/* ---- supernet ------------------------------------------------------------------------------ */
/* A dynamic OFA MobileNetV3 supernet. Thread-safety: dynn_supernet_set_subnet and
 * dynn_supernet_prepare may be called while another thread runs dynn_supernet_infer on the same
 * handle (an in-flight inference finishes on the sub-network it started with); everything else is
 * one thread per handle. */
typedef struct dynn_supernet dynn_supernet;

typedef struct dynn_supernet_params {
  size_t struct_size;     /* sizeof(dynn_supernet_params) of the caller's header */
  const char* device;     /* "cpu" (default) or "cuda:N"; NULL means "cpu" */
  int num_threads;        /* intra-op threads; 0 leaves the process setting as it is */
  size_t cache_bytes;     /* byte budget for prepared sub-networks; 0 means the default (512 MiB) */
  const char* engine;     /* "fast" (default: BN folded, oneDNN prepacked) or "reference" (exact OFA arithmetic) */
} dynn_supernet_params;

/* Defaults, with struct_size set. */
DYNN_API dynn_supernet_params dynn_supernet_default_params(void);

/* Loads an OFA MobileNetV3 checkpoint (torch.save zip or legacy container, bare state dict or
 * {'state_dict': ...}; w1.0, w1.2 or another width multiplier). params may be NULL (defaults).
 * On success *out owns the supernet; free it with dynn_supernet_free. */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_load(const char* path, const dynn_supernet_params* params,
                                                       dynn_supernet** out);

/* A deterministic random-initialised supernet (same values on every machine for a seed). */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_create_random(double width_mult, uint64_t seed,
                                                                const dynn_supernet_params* params,
                                                                dynn_supernet** out);

/* Frees a supernet; NULL is fine. No inference may be running on it. */
DYNN_API void dynn_supernet_free(dynn_supernet* net);

/* Switches the sub-network for inferences that start from now on, given as an OFA arch dict
 * {"ks":[20],"e":[20],"d":[5],"r":224} (also "r":[224], "image_size", "wid":null) or the compact
 * form "ks=... e=... d=... r=224". Prepares it first if needed (milliseconds), else microseconds. */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_set_subnet(dynn_supernet* net, const char* arch_json);

/* Prepares sub-networks ahead of time (e.g. a controller's levels). */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_prepare(dynn_supernet* net, const char* const* arch_jsons, size_t count);

/* Writes the current sub-network as arch JSON into buf (NUL-terminated). *needed (optional)
 * receives the size including the NUL; DYNN_EBUFS when size is too small. */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_current_subnet(const dynn_supernet* net, char* buf, size_t size,
                                                                 size_t* needed);

/* Number of output classes (1000 for ImageNet supernets); 0 for NULL. */
DYNN_API int dynn_supernet_num_classes(const dynn_supernet* net);

/* Runs the current sub-network on input [n,c,h,w] (NCHW float32, normalised; c == 3, h == w ==
 * the sub-network's resolution) and writes n*num_classes logits. capacity is the logits buffer
 * size in floats; *written (optional) receives the count. Buffers are the caller's. An input
 * holding NaN or inf is DYNN_EINVAL (checked before any work). When another thread may switch to
 * another resolution meanwhile, use dynn_supernet_infer_config. */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_infer(dynn_supernet* net, const float* input, int64_t n, int64_t c,
                                                        int64_t h, int64_t w, float* logits, size_t capacity,
                                                        size_t* written);

/* ---- logging ------------------------------------------------------------------------------- */
/* Messages the library cannot return as a status (a knob it failed to restore while a handle was
 * freed, a fallback it took). Global to the process. Default: "dynn: <message>" on stderr for
 * DYNN_LOG_WARN and above. */
#define DYNN_LOG_DEBUG 0
#define DYNN_LOG_INFO 1
#define DYNN_LOG_WARN 2
#define DYNN_LOG_ERROR 3
#define DYNN_LOG_OFF 4

/* level: DYNN_LOG_*; message: NUL-terminated, valid only during the call. */
typedef void (*dynn_log_fn)(int level, const char* message, void* user_data);

/* Routes library messages to fn(level, message, user_data); fn NULL restores stderr. Global.
 * Thread-safe: may be called from any thread; calls of fn never overlap (an internal mutex is held
 * during each), fn may be called from any thread that uses dynn, and fn must not call dynn_log_*. */
DYNN_API void dynn_log_set(dynn_log_fn fn, void* user_data);
/* Drops messages below level (DYNN_LOG_DEBUG..DYNN_LOG_OFF; DYNN_LOG_OFF silences). Global,
 * thread-safe. DYNN_EINVAL for another value. */
DYNN_API DYNN_NODISCARD dynn_status dynn_log_set_level(int level);

/* ---- sub-network configurations ------------------------------------------------------------- */
/* An OFA MobileNetV3 sub-network (the OFA "arch dict"): kernel size and expand ratio per block
 * (indexed by absolute block position, also for blocks that depth skips), depth per stage and the
 * input resolution. A plain value type; its layout is fixed for this ABI major version. */
#define DYNN_OFA_NUM_BLOCKS 20
#define DYNN_OFA_NUM_STAGES 5
typedef struct dynn_subnet {
  int32_t ks[DYNN_OFA_NUM_BLOCKS]; /* 3, 5 or 7 */
  int32_t e[DYNN_OFA_NUM_BLOCKS];  /* 3, 4 or 6 */
  int32_t d[DYNN_OFA_NUM_STAGES];  /* 2, 3 or 4 */
  int32_t r;                       /* input resolution (square) */
} dynn_subnet;

/* Parses arch JSON or the compact "ks=... e=... d=... r=224" form into *out (validated).
 * DYNN_EINVAL naming the field on a bad value. Thread-safe. */
DYNN_API DYNN_NODISCARD dynn_status dynn_subnet_parse(const char* text, dynn_subnet* out);
/* Every block kernel ks, expand e, every stage depth d, resolution r. Thread-safe. */
DYNN_API DYNN_NODISCARD dynn_status dynn_subnet_uniform(int ks, int e, int d, int r, dynn_subnet* out);
/* DYNN_OK when cfg is a valid sub-network, else DYNN_EINVAL naming the field and index. */
DYNN_API DYNN_NODISCARD dynn_status dynn_subnet_validate(const dynn_subnet* cfg);
/* Arch JSON {"ks":[..],"e":[..],"d":[..],"r":224} into buf (NUL-terminated; *needed optional, gets
 * the size with the NUL; DYNN_EBUFS when size is too small). */
DYNN_API DYNN_NODISCARD dynn_status dynn_subnet_to_json(const dynn_subnet* cfg, char* buf, size_t size, size_t* needed);
/* Exact multiply-accumulates per image of cfg in the supernet of width multiplier width_mult
 * (1.0, 1.2, ...), OFA's count convention. Thread-safe. */
DYNN_API DYNN_NODISCARD dynn_status dynn_subnet_macs(const dynn_subnet* cfg, double width_mult, int64_t* out);

/* ---- supernet: sub-networks as arrays, BN statistics, threads, device, memory ---------------- */
/* As dynn_supernet_set_subnet, from a struct. Same thread-safety. */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_set_subnet_config(dynn_supernet* net, const dynn_subnet* cfg);
/* As dynn_supernet_prepare, from an array of count structs. */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_prepare_configs(dynn_supernet* net, const dynn_subnet* cfgs, size_t count);
/* The sub-network in force now. */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_get_subnet(const dynn_supernet* net, dynn_subnet* out);
/* As dynn_supernet_infer, on sub-network cfg (prepared first if needed) instead of the current one,
 * without switching: the input is checked against cfg, so another thread's switch to a different
 * resolution never makes this call fail. Safe concurrently with every other supernet call but
 * free and set_device. */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_infer_config(dynn_supernet* net, const dynn_subnet* cfg,
                                                               const float* input, int64_t n, int64_t c, int64_t h,
                                                               int64_t w, float* logits, size_t capacity,
                                                               size_t* written);

/* Intra-op threads of the backend (1..1024). LibTorch's pool is process-wide: setting it on one
 * handle sets it for every supernet of the process, and get reports the count in force. */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_set_threads(dynn_supernet* net, int n);
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_get_threads(const dynn_supernet* net, int* out);
/* Moves the supernet to "cpu" or "cuda:N" (DYNN_EUNSUPPORTED when the build has no CUDA). No
 * inference may run meanwhile. */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_set_device(dynn_supernet* net, const char* device);
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_get_device(const dynn_supernet* net, char* buf, size_t size, size_t* needed);

/* Out-struct: set struct_size, the library fills the fields that fit. */
typedef struct dynn_supernet_info {
  size_t struct_size;
  double width_mult;        /* inferred from the weights (0 when not a standard multiplier) */
  int32_t num_classes;
  int32_t reserved;         /* 0 */
  uint64_t parameter_count;
  uint64_t supernet_bytes;  /* shared weights (one copy for all sub-networks) */
  uint64_t prepared_bytes;  /* prepared sub-networks in the cache now */
  uint64_t cache_budget;    /* their byte budget */
  uint64_t prepared_count;
} dynn_supernet_info;
/* Size and memory use (the memory figures change as sub-networks are prepared). */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_get_info(const dynn_supernet* net, dynn_supernet_info* out);

/* Dynamic-OFA per-level BN statistics (nets_6_bn_stats.pt: "level<L>/<bn>/running_mean|var").
 * Immutable once loaded: may be shared between threads. */
typedef struct dynn_bn_stats dynn_bn_stats;
DYNN_API DYNN_NODISCARD dynn_status dynn_bn_stats_load(const char* path, dynn_bn_stats** out);
DYNN_API void dynn_bn_stats_free(dynn_bn_stats* stats);
/* The levels the file holds: *count levels; level ids (ascending) into levels[0..capacity). With
 * levels NULL only *count is written; DYNN_EBUFS when capacity < count. */
DYNN_API DYNN_NODISCARD dynn_status dynn_bn_stats_levels(const dynn_bn_stats* stats, int32_t* levels, size_t capacity,
                                                         size_t* count);
/* Uses level `level`'s statistics whenever sub-network cfg runs (the shared supernet buffers are
 * not modified). DYNN_ENOTFOUND for an absent level, DYNN_EINVAL when the BN names/lengths don't
 * match cfg (wrong level for cfg, or a supernet of another width). One thread per handle. */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_apply_bn_stats(dynn_supernet* net, const dynn_subnet* cfg,
                                                                 const dynn_bn_stats* stats, int level);
/* Back to the shared running statistics for cfg (no-op when none were set). */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_clear_bn_stats(dynn_supernet* net, const dynn_subnet* cfg);
/* *out = 1 when cfg has its own statistics, else 0. */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_has_bn_stats(const dynn_supernet* net, const dynn_subnet* cfg, int* out);

/* ---- platform ------------------------------------------------------------------------------ */
/* The knobs and sensors of one machine (real, via sysfs/procfs/NVML), or a simulated board in
 * virtual time. Every knob value the library changes is saved first and put back by
 * dynn_platform_restore, and when the last user (the handle, and any manager created on it) goes.
 * Thread-safety: one thread per platform, and not while a manager created on it is stepping. */
typedef struct dynn_platform dynn_platform;

/* The running machine, read under root (NULL or "/" for the real one; a directory holding a fake
 * sys/ and proc/ tree for tests). Absent hardware is not an error: it is just not listed.
 * DYNN_ENOTFOUND when root is not a directory. */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_detect(const char* root, dynn_platform** out);

typedef struct dynn_sim_params {
  size_t struct_size;
  double ambient_c;           /* NaN: the board's default */
  double thermal_resistance;  /* K/W, NaN: the board's default (4.5 ~ a Xavier NX without fan) */
  double latency_noise;       /* relative std of a seeded multiplicative jitter; 0 = none */
  uint64_t seed;
  const char* cpu_lut_dir;    /* per-layer latency tables (Dynamic-OFA format) or NULL */
  const char* gpu_lut_dir;    /* NULL for CPU-only boards or no GPU table */
} dynn_sim_params;
DYNN_API dynn_sim_params dynn_sim_default_params(void);

/* A simulated board by name: "xavier-nx" or "odroid-xu3" (DYNN_ENOTFOUND lists them). params may
 * be NULL. Deterministic: the same calls give the same numbers. */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_create_simulated(const char* name, const dynn_sim_params* params,
                                                                   dynn_platform** out);
/* Releases the handle; the platform (and knob restoration) goes when no manager uses it any more. */
DYNN_API void dynn_platform_free(dynn_platform* platform);
/* 1 when simulated, 0 when real or NULL. */
DYNN_API int dynn_platform_is_simulated(const dynn_platform* platform);
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_name(const dynn_platform* platform, char* buf, size_t size, size_t* needed);
/* Platform time in seconds: steady wall clock (real) or virtual time (simulated). */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_now(const dynn_platform* platform, double* out);
/* Lets seconds pass with no inference (real: sleeps; simulated: advances virtual time). */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_idle(dynn_platform* platform, double seconds);
/* Knobs and sensors with values as JSON text (the dynn-platform --json report). */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_report_json(dynn_platform* platform, char* buf, size_t size, size_t* needed);

/* Knobs, by index 0..count-1 (stable for the platform's life). */
#define DYNN_KNOB_NUMERIC 0
#define DYNN_KNOB_TEXT 1
typedef struct dynn_knob_info {
  size_t struct_size;
  int32_t type;        /* DYNN_KNOB_NUMERIC / DYNN_KNOB_TEXT */
  int32_t readable;    /* 1: the backing file/call exists and answered */
  int32_t writable;    /* 1: may be set now; else dynn_platform_knob_string(..DYNN_KNOB_UNWRITABLE_REASON..) */
  int32_t changed;     /* 1: the library changed it and has not restored it yet */
  int32_t has_min, has_max;
  int64_t min, max;    /* allowed range (list front/back, or range), valid when has_min/has_max */
  size_t num_values;       /* allowed numeric values (0: any value in the range) */
  size_t num_text_values;  /* allowed words of a text knob (0: any) */
} dynn_knob_info;
/* Which text dynn_platform_knob_string returns. */
#define DYNN_KNOB_NAME 0
#define DYNN_KNOB_UNIT 1
#define DYNN_KNOB_DESCRIPTION 2
#define DYNN_KNOB_ALLOWED 3            /* allowed values in words: "1..6", "115200, 192000" */
#define DYNN_KNOB_UNWRITABLE_REASON 4  /* "" when writable */
#define DYNN_KNOB_UNAVAILABLE_REASON 5 /* "" when readable */
#define DYNN_KNOB_VALUE 6              /* current value as text, "<unavailable: ...>" when unreadable */

DYNN_API DYNN_NODISCARD dynn_status dynn_platform_num_knobs(const dynn_platform* platform, size_t* out);
/* Index of the knob called name; DYNN_ENOTFOUND (listing the names) when absent. */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_find_knob(const dynn_platform* platform, const char* name, size_t* index);
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_knob_info(const dynn_platform* platform, size_t index, dynn_knob_info* out);
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_knob_string(const dynn_platform* platform, size_t index, int which,
                                                              char* buf, size_t size, size_t* needed);
/* Allowed numeric values (ascending) into values[0..capacity); *count gets their number. values NULL:
 * only the count. DYNN_EBUFS when capacity is too small. */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_knob_values(const dynn_platform* platform, size_t index, int64_t* values,
                                                              size_t capacity, size_t* count);
/* Allowed word j (0..num_text_values-1) of a text knob. */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_knob_text_value(const dynn_platform* platform, size_t index, size_t j,
                                                                  char* buf, size_t size, size_t* needed);
/* Current value. DYNN_EUNSUPPORTED for the wrong type or an unreadable knob; DYNN_EIO/EPARSE when
 * the backend read fails. */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_knob_get(const dynn_platform* platform, size_t index, int64_t* out);
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_knob_get_text(const dynn_platform* platform, size_t index, char* buf,
                                                                size_t size, size_t* needed);
/* Validates, saves the current value (first change only) and writes. DYNN_EINVAL names the value
 * and the allowed ones; DYNN_EPERM / DYNN_EUNSUPPORTED when not writable (with the reason). */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_knob_set(dynn_platform* platform, size_t index, int64_t value);
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_knob_set_text(dynn_platform* platform, size_t index, const char* value);
/* Several numeric knobs at once, as JSON {"gpu.freq": 803250000, "threads": 2}: everything is
 * checked first (nothing is written when one name or value is bad), then written in order. */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_apply(dynn_platform* platform, const char* setting_json);
/* Puts back every value the library changed, newest first. DYNN_EIO naming the knobs that failed. */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_restore(dynn_platform* platform);

/* Opt-in, process-wide: sysfs settings (cpufreq/devfreq governor, min/max/pinned frequency) that
 * any platform changed are also put back when the process ends on SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT, SIGABRT (abort()) or exit() without freeing its handles; the handler only writes the
 * saved originals (async-signal-safe), then re-raises the signal under its previous disposition.
 * record_path (NULL or "": none) keeps the originals in a file while any is changed, for
 * dynn_restore_record_apply after a kill -9. Idempotent. Not covered: SIGKILL, _exit(), NVML,
 * affinity and callback knobs (those are restored by dynn_platform_restore / free). */
DYNN_API DYNN_NODISCARD dynn_status dynn_restore_on_exit_install(const char* record_path);
/* Writes back the originals in a record left by a process that died before restoring them, then
 * removes it; *written (optional) receives the number of settings written. DYNN_EBUSY when that
 * process still runs and force is 0; only cpufreq/devfreq attributes are ever written. */
DYNN_API DYNN_NODISCARD dynn_status dynn_restore_record_apply(const char* path, int force, size_t* written);

/* Sensors, by index. Units are fixed per quantity: W, J, degC, MHz, %. */
#define DYNN_SENSOR_INSTANT 0
#define DYNN_SENSOR_COUNTER 1 /* only grows (energy): take differences */
typedef struct dynn_sensor_info {
  size_t struct_size;
  int32_t kind;       /* DYNN_SENSOR_INSTANT / DYNN_SENSOR_COUNTER */
  int32_t available;  /* 0 after repeated failures or when the backend is absent */
} dynn_sensor_info;
#define DYNN_SENSOR_NAME 0
#define DYNN_SENSOR_UNIT 1
#define DYNN_SENSOR_DESCRIPTION 2
#define DYNN_SENSOR_UNAVAILABLE_REASON 3 /* "" when available */
#define DYNN_SENSOR_LAST_ERROR 4         /* the last failed read's message */

DYNN_API DYNN_NODISCARD dynn_status dynn_platform_num_sensors(const dynn_platform* platform, size_t* out);
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_find_sensor(const dynn_platform* platform, const char* name, size_t* index);
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_sensor_info(const dynn_platform* platform, size_t index, dynn_sensor_info* out);
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_sensor_string(const dynn_platform* platform, size_t index, int which,
                                                                char* buf, size_t size, size_t* needed);
/* One reading in the sensor's unit. DYNN_EUNSUPPORTED when unavailable; DYNN_EIO / DYNN_EPARSE /
 * DYNN_EPERM when the backend fails or answers garbage. */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_sensor_read(dynn_platform* platform, size_t index, double* out);

/* Simulated platforms only (DYNN_EUNSUPPORTED on a real one). */
typedef struct dynn_sim_inference {
  size_t struct_size;
  double start_s, latency_s;
  double energy_j;      /* whole-board energy during the inference */
  double avg_power_w;
  double reference_ms;  /* latency-table value at the reference settings */
  double cpu_mhz, gpu_mhz;
  double peak_temp_c;
  int32_t throttled;
  int32_t reserved;
} dynn_sim_inference;
/* Loads per-layer latency tables (gpu_dir may be NULL). */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_sim_load_latency_tables(dynn_platform* platform, const char* cpu_dir,
                                                                          const char* gpu_dir);
/* Runs one inference of cfg now (latency from the tables, under the current knobs, interference and
 * temperature) and advances virtual time. device: "cpu", "gpu", or NULL/"" for the "device" knob.
 * out may be NULL. */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_sim_run(dynn_platform* platform, const dynn_subnet* cfg,
                                                          const char* device, dynn_sim_inference* out);
/* The same for work given by its latency (ms) at the reference settings. */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_sim_run_work(dynn_platform* platform, double reference_ms,
                                                               const char* device, dynn_sim_inference* out);
#define DYNN_SIM_CPU 0
#define DYNN_SIM_GPU 1
/* Another application takes share (0..1] of the CPUs in cpu_mask (0 = all) or of the GPU during
 * [start_s, start_s + duration_s) of virtual time. */
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_sim_add_interference(dynn_platform* platform, int target, double start_s,
                                                                       double duration_s, double share, uint64_t cpu_mask);
DYNN_API DYNN_NODISCARD dynn_status dynn_platform_sim_clear_interference(dynn_platform* platform);

/* ---- profiles: operating points ------------------------------------------------------------ */
/* A set of operating points (sub-network x device x hardware setting, with latency, power, energy,
 * accuracy). Thread-safety: concurrent reads are fine; a write (add, load into) needs exclusivity. */
typedef struct dynn_profile dynn_profile;

#define DYNN_ACCURACY_UNKNOWN 0
#define DYNN_ACCURACY_MEASURED 1
#define DYNN_ACCURACY_PREDICTED 2
#define DYNN_ACCURACY_PUBLISHED 3

/* An operating point's numbers; its id, device and hardware setting are strings
 * (dynn_profile_point_string). In-struct for dynn_profile_add_point, out-struct for the getters. */
typedef struct dynn_operating_point {
  size_t struct_size;
  dynn_subnet subnet;
  double latency_ms;       /* median */
  double latency_p90_ms;
  double power_w;          /* NaN when not measured */
  double energy_mj;        /* per inference; NaN when not measured */
  double accuracy;         /* top-1 as a fraction 0..1 */
  double macs;             /* multiply-accumulates per image */
  int32_t level;           /* index along a Pareto set, -1 when none */
  int32_t accuracy_source; /* DYNN_ACCURACY_* */
} dynn_operating_point;
#define DYNN_POINT_ID 0
#define DYNN_POINT_DEVICE 1
#define DYNN_POINT_HARDWARE 2 /* JSON object {"knob": value, ...} */

/* An empty profile. */
DYNN_API DYNN_NODISCARD dynn_status dynn_profile_create(dynn_profile** out);
/* A Profile JSON file ("format":"dynn-profile"), validated; errors name the field and point. */
DYNN_API DYNN_NODISCARD dynn_status dynn_profile_load(const char* path, dynn_profile** out);
DYNN_API DYNN_NODISCARD dynn_status dynn_profile_from_json(const char* json, dynn_profile** out);
/* A Dynamic-OFA levels file (nets_6_levels.json) as points "L<level>" on device (NULL: "gpu") with
 * the recorded latency, published accuracy and MACs. */
DYNN_API DYNN_NODISCARD dynn_status dynn_profile_load_levels(const char* path, const char* device, dynn_profile** out);
DYNN_API void dynn_profile_free(dynn_profile* profile);
/* Writes the profile as JSON (atomically: path.tmp, then rename). */
DYNN_API DYNN_NODISCARD dynn_status dynn_profile_save(const dynn_profile* profile, const char* path);
DYNN_API DYNN_NODISCARD dynn_status dynn_profile_to_json(const dynn_profile* profile, char* buf, size_t size, size_t* needed);
DYNN_API DYNN_NODISCARD dynn_status dynn_profile_num_points(const dynn_profile* profile, size_t* out);
DYNN_API DYNN_NODISCARD dynn_status dynn_profile_get_point(const dynn_profile* profile, size_t index, dynn_operating_point* out);
DYNN_API DYNN_NODISCARD dynn_status dynn_profile_point_string(const dynn_profile* profile, size_t index, int which, char* buf,
                                                              size_t size, size_t* needed);
/* Index of the point with this id; DYNN_ENOTFOUND otherwise. */
DYNN_API DYNN_NODISCARD dynn_status dynn_profile_find_point(const dynn_profile* profile, const char* id, size_t* index);
/* Adds a point (copied). id must be new and non-empty; device NULL = "cpu"; hardware_json NULL = {}. */
DYNN_API DYNN_NODISCARD dynn_status dynn_profile_add_point(dynn_profile* profile, const dynn_operating_point* point,
                                                           const char* id, const char* device, const char* hardware_json);
/* Indices of the Pareto-optimal points under objectives, a comma-separated list of "latency",
 * "latency_p90", "accuracy", "energy", "power", "macs" (e.g. "latency,accuracy"), in point order.
 * indices NULL: only *count. DYNN_EBUFS when capacity < count. */
DYNN_API DYNN_NODISCARD dynn_status dynn_profile_pareto_front(const dynn_profile* profile, const char* objectives,
                                                              size_t* indices, size_t capacity, size_t* count);

/* Per-layer latency look-up tables (OFA / Dynamic-OFA format). Immutable: shareable. */
typedef struct dynn_latency_table dynn_latency_table;
/* Every "{r}_lookup_table.json" in dir, for the supernet of width multiplier width_mult (the
 * published tables: 1.2). */
DYNN_API DYNN_NODISCARD dynn_status dynn_latency_table_load(const char* dir, double width_mult, dynn_latency_table** out);
DYNN_API void dynn_latency_table_free(dynn_latency_table* table);
/* Predicted latency (ms): the sum of the layers cfg runs. DYNN_ENOTFOUND for an uncovered
 * resolution or a missing layer key. */
DYNN_API DYNN_NODISCARD dynn_status dynn_latency_table_predict(const dynn_latency_table* table, const dynn_subnet* cfg,
                                                               double* ms);
/* Covered resolutions (ascending); the count/EBUFS convention of dynn_platform_knob_values. */
DYNN_API DYNN_NODISCARD dynn_status dynn_latency_table_resolutions(const dynn_latency_table* table, int32_t* values,
                                                                   size_t capacity, size_t* count);

/* OFA's ImageNet top-1 predictor (acc_predictor.pth). Immutable: shareable between threads. */
typedef struct dynn_accuracy_predictor dynn_accuracy_predictor;
DYNN_API DYNN_NODISCARD dynn_status dynn_accuracy_predictor_load(const char* path, dynn_accuracy_predictor** out);
DYNN_API void dynn_accuracy_predictor_free(dynn_accuracy_predictor* predictor);
/* Top-1 as a fraction for cfg (r in 112..239). */
DYNN_API DYNN_NODISCARD dynn_status dynn_accuracy_predictor_predict(const dynn_accuracy_predictor* predictor,
                                                                    const dynn_subnet* cfg, double* out);

/* ---- controllers --------------------------------------------------------------------------- */
/* The policy a runtime manager asks each step. A controller handle is reference counted: a manager
 * created with it keeps its own reference, so the handle may be freed at any time. Thread-safety:
 * one thread per controller (a manager steps it on the thread that calls the manager). */
typedef struct dynn_controller dynn_controller;

/* A built-in by name ("fixed", "performance", "powersave", "ondemand", "schedutil", "dynamic-ofa",
 * "pareto", "feedback", "energy") with JSON parameters (NULL or "" = {}). DYNN_ENOTFOUND lists the
 * names; DYNN_EINVAL / DYNN_EPARSE name the controller and the key. */
DYNN_API DYNN_NODISCARD dynn_status dynn_controller_create(const char* name, const char* params_json, dynn_controller** out);
/* The registered names, one per line (NUL-terminated). */
DYNN_API DYNN_NODISCARD dynn_status dynn_controller_list(char* buf, size_t size, size_t* needed);

/* What a custom controller sees once (at bind) and each step. All pointers are borrowed: valid
 * during the callback only. Arrays are aligned: knob_values[i] is knob knob_names[i]. */
typedef struct dynn_control_context {
  size_t struct_size;
  size_t num_points;
  const dynn_operating_point* points;  /* num_points entries */
  const char* const* point_ids;
  size_t num_knobs;
  const char* const* knob_names;      /* the numeric knobs the controller may set */
  size_t num_sensors;
  const char* const* sensor_names;    /* the sensors each observation carries */
} dynn_control_context;

typedef struct dynn_observation {
  size_t struct_size;
  uint64_t step;              /* inferences measured so far */
  double time_s;              /* platform time */
  double target_latency_ms, target_accuracy, target_power_w, target_energy_mj; /* 0 = none */
  double last_latency_ms, last_energy_mj, last_power_w;  /* NaN before the first measurement */
  int32_t last_point;         /* point the last inference ran on, -1 before */
  int32_t current_point;      /* point in force now, -1 before the first decision */
  size_t num_knobs;
  const int64_t* knob_values; /* values in force */
  size_t num_sensors;
  const double* sensor_values; /* NaN: unavailable this step */
} dynn_observation;

/* The callback's answer. point arrives as the previous decision (-1 at first); knob_set[i] = 1
 * asks for knob_values[i] (applied after the point's own hardware setting). Both arrays have
 * num_knobs entries, arrive cleared to 0 and belong to the library. */
typedef struct dynn_decision {
  size_t struct_size;
  int32_t point;
  int32_t reserved;
  size_t num_knobs;
  int64_t* knob_values;
  unsigned char* knob_set;
} dynn_decision;

/* A controller written in C. Optional hooks may be NULL (decide is required). Callbacks return
 * DYNN_OK or a dynn_status, which the manager call that stepped the controller returns (with a
 * message naming the controller). destroy(user_data) runs once, when the last reference goes (the
 * handle and every manager using it); not when creation fails. */
typedef struct dynn_controller_callbacks {
  size_t struct_size;
  void* user_data;
  dynn_status (*decide)(void* user_data, const dynn_observation* obs, dynn_decision* out);
  void (*reset)(void* user_data);
  void (*destroy)(void* user_data);
  dynn_status (*bind)(void* user_data, const dynn_control_context* ctx); /* before the first step */
} dynn_controller_callbacks;

/* Wraps callbacks into a controller called name (NULL: "custom"). *callbacks is copied. */
DYNN_API DYNN_NODISCARD dynn_status dynn_controller_create_custom(const dynn_controller_callbacks* callbacks,
                                                                  const char* name, dynn_controller** out);
DYNN_API void dynn_controller_free(dynn_controller* controller);
DYNN_API DYNN_NODISCARD dynn_status dynn_controller_name(const dynn_controller* controller, char* buf, size_t size,
                                                         size_t* needed);
/* Learned state as JSON text ("{}" for a custom controller). */
DYNN_API DYNN_NODISCARD dynn_status dynn_controller_state_json(const dynn_controller* controller, char* buf, size_t size,
                                                               size_t* needed);
/* Forgets what was learned online. */
DYNN_API DYNN_NODISCARD dynn_status dynn_controller_reset(dynn_controller* controller);

/* ---- runtime manager ----------------------------------------------------------------------- */
/* Sits in the inference loop: each step the controller decides, knobs are applied, the sub-network
 * is switched, the inference is run (or the application runs it, in advisory mode) and measured,
 * and a telemetry row is recorded. Thread-safety: one thread per manager; its platform,
 * supernet and controller must not be used from other threads while it steps. */
typedef struct dynn_manager dynn_manager;

typedef struct dynn_targets {
  size_t struct_size;
  double latency_ms;  /* deadline of one inference; 0 = none */
  double accuracy;    /* floor, top-1 fraction; 0 = none */
  double power_w;     /* cap while running; 0 = none */
  double energy_mj;   /* budget per inference; 0 = none */
} dynn_targets;
DYNN_API dynn_targets dynn_targets_default(void);

typedef struct dynn_manager_params {
  size_t struct_size;
  const char* app_name;     /* NULL: "app" */
  dynn_targets targets;     /* initial targets (its struct_size is ignored) */
  const char* knobs;        /* comma-separated knobs the controller may set; NULL: every writable numeric knob */
  const char* sensors;      /* comma-separated sensors the observations carry; NULL: none */
  int32_t prepare_all;      /* 1: prepare every point's sub-network up front (default) */
  int32_t telemetry;        /* 1: record a row per step (default) */
  int32_t restore_on_free;  /* 1: put every knob back when the manager goes (default) */
  int32_t simulate;         /* simulated platform only: 1 (default) = each inference also runs on the
                               simulator (the point's latency_ms as reference work, else the latency
                               tables) and time/energy come from it; 0 = platform clock only */
  const char* energy_sensor; /* NULL: "energy.total", else the first energy counter */
  const char* power_sensor;  /* NULL: "power.total", else the first "power.*" */
} dynn_manager_params;
DYNN_API dynn_manager_params dynn_manager_default_params(void);

/* Creates a manager for one application. platform: required (the manager keeps it alive).
 * profile: its points are copied (at least one). controller: required (the manager keeps its own
 * reference). model: a supernet the manager runs (it keeps it alive; on a simulated platform the
 * supernet computes on its own device and the point's device is simulated), or NULL: on a simulated
 * platform with params->simulate, a stand-in that only simulates (logits are zero), else advisory
 * mode (dynn_manager_decide / dynn_manager_report). params may be NULL. */
DYNN_API DYNN_NODISCARD dynn_status dynn_manager_create(dynn_platform* platform, const dynn_profile* profile,
                                                        dynn_controller* controller, dynn_supernet* model,
                                                        const dynn_manager_params* params, dynn_manager** out);
/* Frees the manager (restoring knobs unless restore_on_free was 0); NULL is fine. */
DYNN_API void dynn_manager_free(dynn_manager* manager);

typedef struct dynn_step_result {
  size_t struct_size;
  double latency_ms;
  double energy_mj;  /* NaN when not measured */
  int32_t point;     /* point the step ran on */
  int32_t met;       /* 1 when the latency met the target (or there was none) */
} dynn_step_result;

/* Decides (and applies knobs) for the next dynn_manager_infer and returns its point and
 * sub-network (so the caller can size the input: r x r). Either out may be NULL. DYNN_EBUSY in
 * advisory mode. */
DYNN_API DYNN_NODISCARD dynn_status dynn_manager_plan(dynn_manager* manager, int32_t* point, dynn_subnet* subnet);
/* One managed inference: decide (unless planned), apply, switch, run, measure, record. Input NCHW
 * float32 at the point's resolution; logits: capacity floats. out may be NULL. */
DYNN_API DYNN_NODISCARD dynn_status dynn_manager_infer(dynn_manager* manager, const float* input, int64_t n, int64_t c,
                                                       int64_t h, int64_t w, float* logits, size_t capacity,
                                                       dynn_step_result* out);
/* Advisory mode: decide() applies the knobs and returns the point to run; the application runs
 * it and calls report(latency_ms, energy_mj) (energy NaN: measured from the energy counter where
 * the platform has one). DYNN_EBUSY when called out of order. */
DYNN_API DYNN_NODISCARD dynn_status dynn_manager_decide(dynn_manager* manager, int32_t* point);
DYNN_API DYNN_NODISCARD dynn_status dynn_manager_report(dynn_manager* manager, double latency_ms, double energy_mj,
                                                        dynn_step_result* out);
/* Targets take effect at the next step. DYNN_EINVAL naming a negative/NaN field or accuracy > 1. */
DYNN_API DYNN_NODISCARD dynn_status dynn_manager_set_targets(dynn_manager* manager, const dynn_targets* targets);
DYNN_API DYNN_NODISCARD dynn_status dynn_manager_get_targets(const dynn_manager* manager, dynn_targets* out);
/* Replaces the controller (bound to the manager's points first; the old one is released). */
DYNN_API DYNN_NODISCARD dynn_status dynn_manager_set_controller(dynn_manager* manager, dynn_controller* controller);
/* The manager's points (a copy of the profile's). */
DYNN_API DYNN_NODISCARD dynn_status dynn_manager_num_points(const dynn_manager* manager, size_t* out);
DYNN_API DYNN_NODISCARD dynn_status dynn_manager_get_point(const dynn_manager* manager, size_t index, dynn_operating_point* out);
DYNN_API DYNN_NODISCARD dynn_status dynn_manager_point_string(const dynn_manager* manager, size_t index, int which, char* buf,
                                                              size_t size, size_t* needed);

/* Telemetry: one row per step. */
typedef struct dynn_telemetry_summary {
  size_t struct_size;
  uint64_t count;         /* steps */
  uint64_t misses;        /* steps over the latency target */
  uint64_t switches;      /* point changes */
  double within_target;   /* share of steps with a target that met it */
  double mean_accuracy;
  double mean_latency_ms, p50_latency_ms, p99_latency_ms, max_latency_ms;
  double mean_energy_mj;  /* NaN when not measured */
  double mean_power_w;    /* NaN when not measured */
} dynn_telemetry_summary;
#define DYNN_TELEMETRY_CSV 0
#define DYNN_TELEMETRY_JSON 1
#define DYNN_TELEMETRY_SVG 2
DYNN_API DYNN_NODISCARD dynn_status dynn_manager_telemetry_size(const dynn_manager* manager, size_t* out);
DYNN_API DYNN_NODISCARD dynn_status dynn_manager_telemetry_summary(const dynn_manager* manager, dynn_telemetry_summary* out);
/* The summary as one line of text. */
DYNN_API DYNN_NODISCARD dynn_status dynn_manager_telemetry_summary_string(const dynn_manager* manager, char* buf, size_t size,
                                                                          size_t* needed);
/* Writes the telemetry to path as DYNN_TELEMETRY_CSV / _JSON / _SVG (a plot). DYNN_EIO naming the
 * path when it cannot be written. */
DYNN_API DYNN_NODISCARD dynn_status dynn_manager_telemetry_write(const dynn_manager* manager, const char* path, int format);
DYNN_API DYNN_NODISCARD dynn_status dynn_manager_telemetry_clear(dynn_manager* manager);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DYNN_DYNN_H */
