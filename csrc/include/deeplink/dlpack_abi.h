/* The DLPack tensor ABI, as far as deeplink kernels need it (DLPack 1.x, non-managed part).
 *
 * deeplink hands C kernels plain `DLTensor*` views; it never passes ownership, so the managed
 * tensor structs (DLManagedTensor, DLManagedTensorVersioned) and their deleters are not declared.
 * Struct layouts and enum values are those of the DLPack specification, so a kernel written
 * against the official <dlpack/dlpack.h> receives the same bytes. If that header is included
 * first (it defines DLPACK_DLPACK_H_), its definitions are used and this file declares nothing;
 * include it before deeplink's headers if a kernel source needs both.
 *
 * tests/plugins/test_kernel_abi.py compiles this header next to PyTorch's copy of the official
 * one and checks sizes, field offsets and enum values agree.
 */
#ifndef DEEPLINK_DLPACK_ABI_H
#define DEEPLINK_DLPACK_ABI_H

#include <stdint.h>

#ifndef DLPACK_DLPACK_H_ /* the official header's guard: reuse its types when present */

#ifdef __cplusplus
extern "C" {
#endif

/* Where a tensor's memory lives. Values are fixed by the DLPack spec. deeplink passes tensors of
 * the deeplink device as kDLExtDev (see DL_DEVICE_DEEPLINK in kernel.h) and CPU tensors (the
 * wrapped Python scalars of `x + 1`) as kDLCPU. The enum is 32 bits wide in C and C++. */
#ifdef __cplusplus
typedef enum : int32_t {
#else
typedef enum {
#endif
  kDLCPU = 1,
  kDLCUDA = 2,
  kDLCUDAHost = 3,
  kDLOpenCL = 4,
  kDLVulkan = 7,
  kDLMetal = 8,
  kDLVPI = 9,
  kDLROCM = 10,
  kDLROCMHost = 11,
  kDLExtDev = 12,
  kDLCUDAManaged = 13,
  kDLOneAPI = 14,
  kDLWebGPU = 15,
  kDLHexagon = 16,
  kDLMAIA = 17
} DLDeviceType;

typedef struct {
  DLDeviceType device_type; /* a 32-bit enum */
  int32_t device_id;        /* deeplink device index */
} DLDevice;

/* Element kinds. With `bits` they name the dtype: float32 is {kDLFloat, 32, 1}, bfloat16 is
 * {kDLBfloat, 16, 1}, bool is {kDLBool, 8, 1}, complex64 is {kDLComplex, 64, 1}. */
typedef enum {
  kDLInt = 0,
  kDLUInt = 1,
  kDLFloat = 2,
  kDLOpaqueHandle = 3,
  kDLBfloat = 4,
  kDLComplex = 5,
  kDLBool = 6,
  kDLFloat8_e3m4 = 7,
  kDLFloat8_e4m3 = 8,
  kDLFloat8_e4m3b11fnuz = 9,
  kDLFloat8_e4m3fn = 10,
  kDLFloat8_e4m3fnuz = 11,
  kDLFloat8_e5m2 = 12,
  kDLFloat8_e5m2fnuz = 13,
  kDLFloat8_e8m0fnu = 14
} DLDataTypeCode;

typedef struct {
  uint8_t code;   /* a DLDataTypeCode */
  uint8_t bits;   /* bits per lane: 32 for float32 */
  uint16_t lanes; /* 1 for every dtype deeplink passes */
} DLDataType;

/* A strided view of memory. Element (i0, i1, ...) lives at
 *   (char*)data + byte_offset + (i0*strides[0] + i1*strides[1] + ...) * (bits/8)
 * `shape` and `strides` have `ndim` entries and count elements, not bytes. deeplink always fills
 * `strides` (never NULL) and passes broadcast dimensions with stride 0. */
typedef struct {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;
  uint64_t byte_offset;
} DLTensor;

#ifdef __cplusplus
}
#endif

#endif /* DLPACK_DLPACK_H_ */
#endif /* DEEPLINK_DLPACK_ABI_H */
