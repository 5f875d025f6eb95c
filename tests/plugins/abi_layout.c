/* Prints the DLPack struct layout and enum values as JSON. Built twice by test_kernel_abi.py: with
 * deeplink's headers alone, and with PyTorch's copy of the official dlpack.h included first (then
 * deeplink's dlpack_abi.h must step aside and kernel.h still compile). */
#ifdef USE_OFFICIAL_DLPACK
#include <ATen/dlpack.h>
#endif
#include <deeplink/kernel.h>

#include <stddef.h>
#include <stdio.h>

#define SIZE(T) printf("\"sizeof %s\": %d, ", #T, (int)sizeof(T));
#define OFF(T, f) printf("\"%s.%s\": %d, ", #T, #f, (int)offsetof(T, f));
#define VAL(x) printf("\"%s\": %d, ", #x, (int)(x));

int main(void) {
  printf("{");
  SIZE(DLTensor) SIZE(DLDevice) SIZE(DLDataType)
  OFF(DLTensor, data) OFF(DLTensor, device) OFF(DLTensor, ndim) OFF(DLTensor, dtype)
  OFF(DLTensor, shape) OFF(DLTensor, strides) OFF(DLTensor, byte_offset)
  OFF(DLDevice, device_type) OFF(DLDevice, device_id)
  OFF(DLDataType, code) OFF(DLDataType, bits) OFF(DLDataType, lanes)
  VAL(kDLCPU) VAL(kDLCUDA) VAL(kDLCUDAHost) VAL(kDLOpenCL) VAL(kDLVulkan) VAL(kDLMetal) VAL(kDLVPI)
  VAL(kDLROCM) VAL(kDLROCMHost) VAL(kDLExtDev) VAL(kDLCUDAManaged) VAL(kDLOneAPI) VAL(kDLWebGPU)
  VAL(kDLHexagon) VAL(kDLMAIA)
  VAL(kDLInt) VAL(kDLUInt) VAL(kDLFloat) VAL(kDLOpaqueHandle) VAL(kDLBfloat) VAL(kDLComplex) VAL(kDLBool)
  VAL(kDLFloat8_e3m4) VAL(kDLFloat8_e4m3) VAL(kDLFloat8_e4m3b11fnuz) VAL(kDLFloat8_e4m3fn)
  VAL(kDLFloat8_e4m3fnuz) VAL(kDLFloat8_e5m2) VAL(kDLFloat8_e5m2fnuz) VAL(kDLFloat8_e8m0fnu)
  VAL(DL_OK) VAL(DL_ERROR) VAL(DL_NOT_IMPLEMENTED) VAL(DL_DTYPE_NOT_SUPPORTED) VAL(DL_OUT_OF_MEMORY)
  VAL(DL_INVALID_ARGUMENT) VAL(DL_KERNEL_ABI_VERSION) VAL(DL_DEVICE_DEEPLINK)
  printf("\"end\": 0}\n");
  return 0;
}
