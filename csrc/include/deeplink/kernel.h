/* deeplink C kernel ABI, version 1: operators written in C over DLPack tensors.
 *
 * A kernel library is a shared library that deeplink opens with cffi (deeplink/ckernel.py). It
 * exports any number of kernels plus the two functions every library must have:
 *
 *     uint32_t    dl_kernel_abi_version(void);   returns DL_KERNEL_ABI_VERSION it was built with
 *     const char* dl_kernel_last_error(void);    message of this thread's last failure
 *
 * Write `DL_KERNEL_LIBRARY()` once, in one .c file of the library, to define both (and the
 * dl_kernel_fail() helper below).
 *
 * A kernel (DIOPI-style discipline):
 *
 *     DL_KERNEL_EXPORT dl_status my_add(DLTensor* out, const DLTensor* self, const DLTensor* other,
 *                                       double alpha);
 *
 *  - outputs first: tensors deeplink allocated (or the tensor of an out=/in-place overload),
 *    already of the right shape and dtype; then the inputs; then scalars. The Python side
 *    (deeplink.ckernel.CKernel) names, in the same order, which aten argument feeds each parameter.
 *  - parameter types: `DLTensor*` for outputs, `const DLTensor*` for inputs (NULL for an absent
 *    optional tensor), `double`, `float`, `int64_t`, `int` (also for bool: 0 or 1), and
 *    `const int64_t* v, int64_t n` pairs for int lists.
 *  - the return value is a dl_status (csrc/include/deeplink/runtime.h):
 *      DL_OK                    done; outputs hold the result.
 *      DL_DTYPE_NOT_SUPPORTED   this kernel does not take these dtypes;
 *      DL_NOT_IMPLEMENTED       nor this case (layout, rank, argument value).
 *                               Both decline the call: deeplink runs the op another way (CPU
 *                               fallback, or an error in DEEPLINK_FALLBACK=error mode). Decline
 *                               before writing anything: in-place outputs alias the inputs.
 *      anything else            a real failure: deeplink raises an error naming the op, dtypes,
 *                               shapes and backend, with dl_kernel_last_error()'s text.
 *  - tensors: see dlpack_abi.h. Tensors on the deeplink device have device_type
 *    DL_DEVICE_DEEPLINK and device_id = the deeplink device index; wrapped Python scalars
 *    (`x + 1`) arrive as 0-d kDLCPU tensors. `data` is the start of the tensor's storage and
 *    `byte_offset` the tensor's offset into it (an empty tensor may come with `data` NULL and
 *    `byte_offset` 0, whatever its view's offset); strides count elements and are never NULL;
 *    broadcast dimensions have stride 0, so an output may have fewer distinct elements than an
 *    input but never the reverse.
 *  - kernels run synchronously on the calling thread (the Python GIL is released during the
 *    call); device kernels must finish, or be ordered on the runtime's current stream, before
 *    returning.
 */
#ifndef DEEPLINK_KERNEL_H
#define DEEPLINK_KERNEL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dlpack_abi.h"
#include "runtime.h" /* dl_status */

#ifdef __cplusplus
extern "C" {
#endif

#define DL_KERNEL_ABI_VERSION 1

/* The DLDevice type deeplink gives tensors of its own device (DLPack's extension-device code). */
#define DL_DEVICE_DEEPLINK kDLExtDev

#if defined(_WIN32)
#define DL_KERNEL_EXPORT_ __declspec(dllexport)
#define DL_KERNEL_HIDDEN
#define DL_THREAD_LOCAL __declspec(thread)
#else
#define DL_KERNEL_EXPORT_ __attribute__((visibility("default")))
#define DL_KERNEL_HIDDEN __attribute__((visibility("hidden")))
#if defined(__cplusplus)
#define DL_THREAD_LOCAL thread_local
#else
#define DL_THREAD_LOCAL _Thread_local
#endif
#endif

#ifdef __cplusplus
#define DL_KERNEL_EXPORT extern "C" DL_KERNEL_EXPORT_
#else
#define DL_KERNEL_EXPORT DL_KERNEL_EXPORT_
#endif

DL_KERNEL_EXPORT uint32_t dl_kernel_abi_version(void);
DL_KERNEL_EXPORT const char* dl_kernel_last_error(void);

/* Record a printf-style message for dl_kernel_last_error() and return `status`:
 *     return dl_kernel_fail(DL_INVALID_ARGUMENT, "my_add: rank %d > 8", out->ndim); */
DL_KERNEL_HIDDEN dl_status dl_kernel_fail(dl_status status, const char* fmt, ...);

#define DL_KERNEL_ERROR_BYTES 1024

/* Defines dl_kernel_abi_version, dl_kernel_last_error and dl_kernel_fail. Once per library. */
#define DL_KERNEL_LIBRARY()                                                        \
  static DL_THREAD_LOCAL char dl_kernel_error_text_[DL_KERNEL_ERROR_BYTES];        \
  DL_KERNEL_EXPORT uint32_t dl_kernel_abi_version(void) { return DL_KERNEL_ABI_VERSION; } \
  DL_KERNEL_EXPORT const char* dl_kernel_last_error(void) { return dl_kernel_error_text_; } \
  DL_KERNEL_HIDDEN dl_status dl_kernel_fail(dl_status status, const char* fmt, ...) { \
    va_list ap;                                                                    \
    va_start(ap, fmt);                                                             \
    vsnprintf(dl_kernel_error_text_, sizeof dl_kernel_error_text_, fmt, ap);      \
    va_end(ap);                                                                    \
    return status;                                                                 \
  }

/* ---- small helpers for kernel bodies ---- */

static inline int64_t dl_numel(const DLTensor* t) {
  int64_t n = 1;
  for (int32_t i = 0; i < t->ndim; ++i) n *= t->shape[i];
  return n;
}

static inline size_t dl_itemsize(const DLTensor* t) {
  return (size_t)((t->dtype.bits * t->dtype.lanes + 7) / 8);
}

/* Address of element (0, 0, ...). */
static inline void* dl_first(const DLTensor* t) {
  return (void*)((char*)t->data + t->byte_offset);
}

static inline int dl_is_dtype(const DLTensor* t, uint8_t code, uint8_t bits) {
  return t->dtype.code == code && t->dtype.bits == bits && t->dtype.lanes == 1;
}

static inline int dl_same_dtype(const DLTensor* a, const DLTensor* b) {
  return a->dtype.code == b->dtype.code && a->dtype.bits == b->dtype.bits && a->dtype.lanes == b->dtype.lanes;
}

/* Row-major and dense (size-1 dimensions may have any stride). */
static inline int dl_is_contiguous(const DLTensor* t) {
  int64_t expected = 1;
  for (int32_t i = t->ndim - 1; i >= 0; --i) {
    if (t->shape[i] != 1 && t->strides[i] != expected) return 0;
    expected *= t->shape[i];
  }
  return 1;
}

#ifdef __cplusplus
}
#endif

#endif /* DEEPLINK_KERNEL_H */
