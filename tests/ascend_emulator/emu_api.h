// The C ABI subset of CANN (ACL runtime + aclnn meta API) that the emulator implements, and the
// small C++ interface its three libraries share. Types, enum values and prototypes follow the
// public CANN documentation (aclDataType, aclFormat, aclrtMemcpyKind, aclError / aclnn return
// codes); the emulator is written from those documents, not from CANN headers.
//
// Library split mirrors a CANN install so the backend finds it exactly as it finds CANN:
//   libascendcl.so  runtime: init, devices, memory, copies, streams, events, error messages
//   libnnopbase.so  aclTensor / aclScalar / aclIntArray / ... and the two-phase executor
//   libopapi.so     aclnnXxxGetWorkspaceSize + aclnnXxx, reference math on ATen CPU
// Everything runs on host memory. Emulator-only introspection lives under the aclEmu* prefix,
// which real CANN does not have and the backend never calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#define EMU_EXPORT extern "C" __attribute__((visibility("default")))

extern "C" {
typedef int aclError;
typedef int32_t aclnnStatus;
typedef void* aclrtStream;
typedef void* aclrtEvent;

typedef enum {
  ACL_DT_UNDEFINED = -1,
  ACL_FLOAT = 0,
  ACL_FLOAT16 = 1,
  ACL_INT8 = 2,
  ACL_INT32 = 3,
  ACL_UINT8 = 4,
  ACL_INT16 = 6,
  ACL_UINT16 = 7,
  ACL_UINT32 = 8,
  ACL_INT64 = 9,
  ACL_UINT64 = 10,
  ACL_DOUBLE = 11,
  ACL_BOOL = 12,
  ACL_STRING = 13,
  ACL_COMPLEX64 = 16,
  ACL_COMPLEX128 = 17,
  ACL_BF16 = 27,
} aclDataType;

typedef enum {
  ACL_FORMAT_UNDEFINED = -1,
  ACL_FORMAT_NCHW = 0,
  ACL_FORMAT_NHWC = 1,
  ACL_FORMAT_ND = 2,
  ACL_FORMAT_NC1HWC0 = 3,
  ACL_FORMAT_FRACTAL_Z = 4,
  ACL_FORMAT_FRACTAL_NZ = 29,
  ACL_FORMAT_NCDHW = 30,
  ACL_FORMAT_NC = 35,
  ACL_FORMAT_NCL = 47,
} aclFormat;

typedef enum {
  ACL_MEMCPY_HOST_TO_HOST = 0,
  ACL_MEMCPY_HOST_TO_DEVICE = 1,
  ACL_MEMCPY_DEVICE_TO_HOST = 2,
  ACL_MEMCPY_DEVICE_TO_DEVICE = 3,
  ACL_MEMCPY_DEFAULT = 4,
} aclrtMemcpyKind;

typedef enum {
  ACL_MEM_MALLOC_HUGE_FIRST = 0,
  ACL_MEM_MALLOC_HUGE_ONLY = 1,
  ACL_MEM_MALLOC_NORMAL_ONLY = 2,
} aclrtMemMallocPolicy;

typedef enum {
  ACL_EVENT_RECORDED_STATUS_NOT_READY = 0,
  ACL_EVENT_RECORDED_STATUS_COMPLETE = 1,
} aclrtEventRecordedStatus;

struct aclTensor;
struct aclScalar;
struct aclIntArray;
struct aclBoolArray;
struct aclFloatArray;
struct aclTensorList;
struct aclScalarList;
struct aclOpExecutor;
}

// Return codes (values from the CANN "aclError" and "aclnn return code" tables).
namespace acl_code {
constexpr aclError SUCCESS = 0;
constexpr aclError INVALID_PARAM = 100000;
constexpr aclError UNINITIALIZE = 100001;
constexpr aclError REPEAT_INITIALIZE = 100002;
constexpr aclError RT_PARAM_INVALID = 107000;
constexpr aclError RT_INVALID_DEVICEID = 107001;
constexpr aclError RT_CONTEXT_NULL = 107002;
constexpr aclError RT_STREAM_CONTEXT = 107003;
constexpr aclError RT_MEMORY_ALLOCATION = 207001;
constexpr aclError RT_MEMORY_FREE = 207002;
constexpr aclError RT_INTERNAL_ERROR = 507000;
constexpr aclError RT_EVENT_NOT_COMPLETE = 507006;
constexpr aclError RT_AICORE_EXCEPTION = 507015;
constexpr aclnnStatus NN_SUCCESS = 0;
constexpr aclnnStatus NN_ERR_PARAM_NULLPTR = 161001;
constexpr aclnnStatus NN_ERR_PARAM_INVALID = 161002;
constexpr aclnnStatus NN_ERR_RUNTIME_ERROR = 361001;
constexpr aclnnStatus NN_ERR_INNER = 561000;
}  // namespace acl_code

namespace ascend_emu {

// A failure with an ACL/aclnn code and the text aclGetRecentErrMsg will return.
struct EmuError {
  int code;
  std::string message;
};

// A byte range of device memory a queued task reads or writes (for hazard checks).
struct Range {
  uintptr_t lo = 0, hi = 0;  // [lo, hi)
};

// ---- provided by libascendcl.so ----------------------------------------------------------
// Call log: one line per C ABI entry point; tests read it to check the calling protocol.
void record(const std::string& func, const std::string& detail);
// Sets the calling thread's recent error message (returned by aclGetRecentErrMsg) and logs it.
int set_error(const std::string& func, int code, const std::string& message);
// Error injection: if a failure was armed for `func`, fills *code and returns true.
bool take_injected(const std::string& func, int* code);
bool initialized();
int current_device();  // -1 when this thread has not called aclrtSetDevice
// Device memory lookup: true when [p, p+n) lies inside one live aclrtMalloc block.
bool is_device_range(const void* p, size_t n, int* device = nullptr);
std::string describe_range(const void* p, size_t n);
// Streams. resolve_stream maps nullptr to the current device's default stream.
struct Stream;
Stream* resolve_stream(aclrtStream s, std::string* why);
int stream_device(Stream* s);
struct Task {
  std::string name;
  std::function<void()> run;
  std::vector<Range> uses;
};
// Queues a task on a stream; it runs in stream order on the device worker (lazily at the next
// synchronisation point, or at once in eager mode).
void enqueue(Stream* s, Task t);
// Runs fn on the device's worker thread and waits (used for shape validation at phase 1, so
// reference math never runs on a Python thread with dispatch modes or autocast active).
void run_on_device(int device, const std::function<void()>& fn);
// Option values (set from ASCEND_EMU_* variables at aclInit, or by aclEmuSetOption).
long option(const std::string& name);

// ---- provided by libnnopbase.so ----------------------------------------------------------
struct TensorDesc {
  std::vector<int64_t> dims, strides, storage;
  int64_t offset = 0;
  aclDataType dtype = ACL_DT_UNDEFINED;
  aclFormat format = ACL_FORMAT_ND;
  void* data = nullptr;
  int64_t numel() const;
  Range range() const;  // bytes the view can touch
};
struct ScalarValue {
  aclDataType dtype = ACL_DT_UNDEFINED;
  double f = 0;
  int64_t i = 0;
  bool b = false;
};
// Validating accessors: they throw EmuError(161001/161002) naming the argument.
TensorDesc tensor_arg(const aclTensor* t, const char* arg, bool optional = false);
std::vector<TensorDesc> tensor_list_arg(const aclTensorList* t, const char* arg);
ScalarValue scalar_arg(const aclScalar* s, const char* arg, bool optional = false);
std::vector<int64_t> int_array_arg(const aclIntArray* a, const char* arg, bool optional = false);
std::vector<bool> bool_array_arg(const aclBoolArray* a, const char* arg);
const char* dtype_name(aclDataType d);
size_t dtype_size(aclDataType d);

// What a phase-1 call hands to the executor.
struct OpPlan {
  uint64_t workspace = 0;
  // body(true): check shapes/dtypes on meta tensors (phase 1); body(false): compute (phase 2).
  std::function<void(bool meta)> body;
  std::vector<Range> uses;
  bool validate_on_meta = true;
};
aclnnStatus prepare(const char* op, uint64_t* workspaceSize, aclOpExecutor** executor,
                    const std::function<OpPlan()>& build);
aclnnStatus launch(const char* op, void* workspace, uint64_t workspaceSize, aclOpExecutor* executor,
                   aclrtStream stream);

}  // namespace ascend_emu
