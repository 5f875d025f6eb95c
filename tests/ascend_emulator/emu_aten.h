// Helpers for the emulator's operator library (libopapi.so): aclTensor descriptions become ATen
// CPU tensors that alias the emulated device memory (or meta tensors for phase-1 validation),
// results are written back into the caller's output tensors, and every operator is declared with
// one macro that produces both halves of the two-phase aclnn API.
#pragma once

#include <ATen/ATen.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "emu_api.h"

namespace ascend_emu {

using DtypeSet = std::vector<aclDataType>;
extern const DtypeSet kFloats;       // FLOAT, FLOAT16, BFLOAT16
extern const DtypeSet kFloatsD;      // + DOUBLE
extern const DtypeSet kNumeric;      // + INT8/16/32/64, UINT8
extern const DtypeSet kAll;          // + BOOL
extern const DtypeSet kIndex;        // INT32, INT64
extern const DtypeSet kAnyType;      // kAll + UINT16/32/64 (memory-only ops: zero, fill, copy)

at::ScalarType scalar_type(aclDataType d);
// A CPU tensor aliasing the device memory described by d, or a meta tensor when meta is true.
// An absent optional tensor (no dims, no data, undefined dtype) becomes an undefined at::Tensor.
at::Tensor view(const TensorDesc& d, bool meta);
at::Scalar to_scalar(const ScalarValue& v);
bool present(const TensorDesc& d);
// Checks that `result` fits output `arg` (same shape, castable dtype) and, unless meta, copies it.
void emit(const char* arg, const at::Tensor& out, const at::Tensor& result);
void require_dtype(const char* arg, const TensorDesc& d, const DtypeSet& ok);
void require(bool cond, const std::string& message);  // throws EmuError(161002)
std::string shape_of(const std::vector<int64_t>& v);
// Builds a plan whose hazard ranges cover the given tensors.
OpPlan plan(std::initializer_list<const TensorDesc*> tensors, std::function<void(bool)> body,
            uint64_t workspace = 0, bool validate_on_meta = true);
OpPlan plan_list(const std::vector<TensorDesc>& tensors, std::function<void(bool)> body,
                 uint64_t workspace = 0, bool validate_on_meta = true);
// Reference math runs in this precision for half types (the device accumulates in fp32).
at::Tensor f32(const at::Tensor& t);

// Records each operator's C parameter list (exported by aclEmuSignatures) so tests can check
// that the backend's ctypes prototypes and the emulator's agree.
struct SignatureRegistrar {
  SignatureRegistrar(const char* name, const char* params);
};

}  // namespace ascend_emu

#define EMU_UNPAREN(...) __VA_ARGS__
// ACLNN_OP(aclnnXxx, (params...), { body returning OpPlan }) defines
//   aclnnXxxGetWorkspaceSize(params..., uint64_t* workspaceSize, aclOpExecutor** executor)
//   aclnnXxx(void* workspace, uint64_t workspaceSize, aclOpExecutor* executor, aclrtStream stream)
#define ACLNN_OP(NAME, PARAMS, ...)                                                                     \
  static ::ascend_emu::SignatureRegistrar NAME##_signature(#NAME, #PARAMS);                           \
  EMU_EXPORT aclnnStatus NAME##GetWorkspaceSize(EMU_UNPAREN PARAMS, uint64_t* workspaceSize,           \
                                                aclOpExecutor** executor) {                            \
    return ::ascend_emu::prepare(#NAME, workspaceSize, executor, [&]() -> ::ascend_emu::OpPlan __VA_ARGS__); \
  }                                                                                                     \
  EMU_EXPORT aclnnStatus NAME(void* workspace, uint64_t workspaceSize, aclOpExecutor* executor,        \
                              aclrtStream stream) {                                                     \
    return ::ascend_emu::launch(#NAME, workspace, workspaceSize, executor, stream);                    \
  }
