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
 *  - No C++ exception ever crosses this boundary.
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
#define DYNN_OK 0
#define DYNN_ERROR (-1)             /* internal or unexpected error */
#define DYNN_EINVAL (-2)            /* invalid argument: NULL, bad size, bad JSON, bad config */
#define DYNN_ENOTFOUND (-3)         /* file, key, knob, sensor or name not found */
#define DYNN_EBUFS (-4)             /* caller buffer too small; the needed size is reported */
#define DYNN_ENOMEM (-5)            /* out of memory */
#define DYNN_EBACKEND (-6)          /* LibTorch / oneDNN / CUDA failure */
#define DYNN_EUNSUPPORTED (-7)      /* valid request that this build or device cannot serve */
#define DYNN_EIO (-8)               /* read or write failure */
#define DYNN_EPARSE (-9)            /* malformed or corrupt file content */
#define DYNN_EPERM (-10)            /* permission denied */
#define DYNN_EBUSY (-11)            /* state forbids the call right now */

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
 * size in floats; *written (optional) receives the count. Buffers are the caller's. */
DYNN_API DYNN_NODISCARD dynn_status dynn_supernet_infer(dynn_supernet* net, const float* input, int64_t n, int64_t c,
                                                        int64_t h, int64_t w, float* logits, size_t capacity,
                                                        size_t* written);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DYNN_DYNN_H */
