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

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DYNN_DYNN_H */
