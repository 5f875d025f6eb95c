/* deeplink vendor runtime C ABI, version 1.
 *
 * A backend written in C hands deeplink a pointer to a `dl_runtime_v1` table that lives for the
 * whole process. deeplink checks `abi_version` and `struct_size` before using it, so a table built
 * against an older header is refused with a clear message rather than called through garbage.
 *
 * Conventions (DIOPI-style discipline):
 *  - every function returns a dl_status; results come back through out-pointers (outputs first);
 *  - `ctx` is the table's own `ctx` field, passed back untouched on every call;
 *  - streams and events are opaque handles; the NULL stream is the device's default stream;
 *  - on failure, `last_error` returns a human-readable message for the calling thread.
 */
#ifndef DEEPLINK_RUNTIME_H
#define DEEPLINK_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DL_RUNTIME_ABI_VERSION 1

typedef enum dl_status {
  DL_OK = 0,
  DL_ERROR = 1,               /* generic failure: see last_error() */
  DL_NOT_IMPLEMENTED = 2,     /* the runtime does not offer this function (e.g. event timing) */
  DL_DTYPE_NOT_SUPPORTED = 3, /* used by kernels (kernel.h) */
  DL_OUT_OF_MEMORY = 4,
  DL_INVALID_ARGUMENT = 5
} dl_status;

typedef enum dl_memcpy_kind {
  DL_MEMCPY_H2D = 1,
  DL_MEMCPY_D2H = 2,
  DL_MEMCPY_D2D = 3
} dl_memcpy_kind;

typedef void* dl_stream;
typedef void* dl_event;

typedef struct dl_runtime_v1 {
  uint32_t abi_version;  /* DL_RUNTIME_ABI_VERSION */
  uint32_t struct_size;  /* sizeof(dl_runtime_v1) */
  const char* name;      /* e.g. "host" */
  void* ctx;
  /* 1 when device memory is plain host memory the CPU may read and write (zero-copy host views). */
  int host_accessible;

  dl_status (*device_count)(void* ctx, int* count);
  dl_status (*set_device)(void* ctx, int device);
  dl_status (*malloc)(void* ctx, int device, size_t nbytes, void** ptr);
  dl_status (*free)(void* ctx, int device, void* ptr);
  /* Synchronous with respect to the host for H2D and D2H; ordered on `stream` for D2D. */
  dl_status (*memcpy)(void* ctx, int device, void* dst, const void* src, size_t nbytes,
                      dl_memcpy_kind kind, dl_stream stream);
  dl_status (*synchronize)(void* ctx, int device);

  dl_status (*stream_create)(void* ctx, int device, dl_stream* stream);
  dl_status (*stream_destroy)(void* ctx, int device, dl_stream stream);
  dl_status (*stream_synchronize)(void* ctx, int device, dl_stream stream);
  dl_status (*stream_query)(void* ctx, int device, dl_stream stream, int* done);
  dl_status (*stream_wait_event)(void* ctx, int device, dl_stream stream, dl_event event);

  dl_status (*event_create)(void* ctx, int device, dl_event* event);
  dl_status (*event_destroy)(void* ctx, int device, dl_event event);
  dl_status (*event_record)(void* ctx, int device, dl_event event, dl_stream stream);
  dl_status (*event_synchronize)(void* ctx, int device, dl_event event);
  dl_status (*event_query)(void* ctx, int device, dl_event event, int* done);
  /* DL_NOT_IMPLEMENTED when the runtime cannot time events. */
  dl_status (*event_elapsed_ms)(void* ctx, int device, dl_event start, dl_event end, float* ms);

  const char* (*last_error)(void* ctx);
} dl_runtime_v1;

#ifdef __cplusplus
}
#endif

#endif /* DEEPLINK_RUNTIME_H */
