/* The one table of dynn's status codes: the C ABI's DYNN_* values (dynn.h), the C++ ErrorCode
 * enumerators (error.hpp) and both name functions (dynn_status_string, error_code_name) come from
 * here. A new code is one #define and one DYNN_STATUS_CODES row; values never change (ABI). */
#ifndef DYNN_STATUS_CODES_H
#define DYNN_STATUS_CODES_H

#define DYNN_OK 0
#define DYNN_ERROR (-1)        /* internal or unexpected error */
#define DYNN_EINVAL (-2)       /* invalid argument: NULL, bad size, bad JSON, bad config */
#define DYNN_ENOTFOUND (-3)    /* file, key, knob, sensor or name not found */
#define DYNN_EBUFS (-4)        /* caller buffer too small; the needed size is reported */
#define DYNN_ENOMEM (-5)       /* out of memory */
#define DYNN_EBACKEND (-6)     /* LibTorch / oneDNN / CUDA failure */
#define DYNN_EUNSUPPORTED (-7) /* valid request that this build or device cannot serve */
#define DYNN_EIO (-8)          /* read or write failure */
#define DYNN_EPARSE (-9)       /* malformed or corrupt file content */
#define DYNN_EPERM (-10)       /* permission denied */
#define DYNN_EBUSY (-11)       /* state forbids the call right now */

/* X(C code, C++ ErrorCode enumerator, short text) for every error code (not DYNN_OK). */
#define DYNN_STATUS_CODES(X)                              \
  X(DYNN_ERROR, Internal, "internal error")               \
  X(DYNN_EINVAL, InvalidArgument, "invalid argument")     \
  X(DYNN_ENOTFOUND, NotFound, "not found")                \
  X(DYNN_EBUFS, BufferTooSmall, "buffer too small")       \
  X(DYNN_ENOMEM, OutOfMemory, "out of memory")            \
  X(DYNN_EBACKEND, Backend, "backend error")              \
  X(DYNN_EUNSUPPORTED, Unsupported, "unsupported")        \
  X(DYNN_EIO, Io, "I/O error")                            \
  X(DYNN_EPARSE, Parse, "parse error")                    \
  X(DYNN_EPERM, PermissionDenied, "permission denied")    \
  X(DYNN_EBUSY, Busy, "busy")

#endif /* DYNN_STATUS_CODES_H */
