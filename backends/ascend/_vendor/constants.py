"""Enum values and return codes of the CANN C API, as published in the CANN API reference
(aclDataType, aclFormat, aclrtMemcpyKind, aclrtMemMallocPolicy, aclrtEventRecordedStatus,
the aclError table and the aclnn return-code table)."""
from __future__ import annotations

import torch

# aclDataType
ACL_DT_UNDEFINED = -1
ACL_FLOAT = 0
ACL_FLOAT16 = 1
ACL_INT8 = 2
ACL_INT32 = 3
ACL_UINT8 = 4
ACL_INT16 = 6
ACL_UINT16 = 7
ACL_UINT32 = 8
ACL_INT64 = 9
ACL_UINT64 = 10
ACL_DOUBLE = 11
ACL_BOOL = 12
ACL_COMPLEX64 = 16
ACL_COMPLEX128 = 17
ACL_BF16 = 27

TORCH_TO_ACL = {
    torch.float32: ACL_FLOAT,
    torch.float16: ACL_FLOAT16,
    torch.bfloat16: ACL_BF16,
    torch.float64: ACL_DOUBLE,
    torch.int8: ACL_INT8,
    torch.int16: ACL_INT16,
    torch.int32: ACL_INT32,
    torch.int64: ACL_INT64,
    torch.uint8: ACL_UINT8,
    torch.bool: ACL_BOOL,
    torch.complex64: ACL_COMPLEX64,
    torch.complex128: ACL_COMPLEX128,
}
for _name, _code in (("uint16", ACL_UINT16), ("uint32", ACL_UINT32), ("uint64", ACL_UINT64)):
    if hasattr(torch, _name):  # unsigned types beyond uint8 exist in torch >= 2.3
        TORCH_TO_ACL[getattr(torch, _name)] = _code
ACL_DTYPE_NAMES = {
    ACL_FLOAT: "FLOAT", ACL_FLOAT16: "FLOAT16", ACL_BF16: "BFLOAT16", ACL_DOUBLE: "DOUBLE",
    ACL_INT8: "INT8", ACL_INT16: "INT16", ACL_INT32: "INT32", ACL_INT64: "INT64", ACL_UINT8: "UINT8",
    ACL_BOOL: "BOOL", ACL_COMPLEX64: "COMPLEX64", ACL_COMPLEX128: "COMPLEX128", ACL_UINT16: "UINT16",
    ACL_UINT32: "UINT32", ACL_UINT64: "UINT64",
}

# aclFormat
ACL_FORMAT_ND = 2

# aclrtMemcpyKind
ACL_MEMCPY_HOST_TO_HOST = 0
ACL_MEMCPY_HOST_TO_DEVICE = 1
ACL_MEMCPY_DEVICE_TO_HOST = 2
ACL_MEMCPY_DEVICE_TO_DEVICE = 3

# aclrtMemMallocPolicy
ACL_MEM_MALLOC_HUGE_FIRST = 0

# aclrtEventRecordedStatus
ACL_EVENT_RECORDED_STATUS_NOT_READY = 0
ACL_STREAM_STATUS_COMPLETE = 0  # aclrtStreamStatus (aclrtStreamQuery); NOT_READY = 1
ACL_EVENT_RECORDED_STATUS_COMPLETE = 1

# cubeMathType of the matmul family: 0 keeps the dtype (exact fp32), 1 lets fp32 run as HF32.
CUBE_KEEP_DTYPE = 0
CUBE_ALLOW_FP32_DOWN_PRECISION = 1

ACL_SUCCESS = 0
ACL_ERROR_REPEAT_INITIALIZE = 100002

# Error codes with a name and, where the fix is known, what to do about it.
ERRORS = {
    100000: ("ACL_ERROR_INVALID_PARAM", "an argument was rejected; the message below says which"),
    100001: ("ACL_ERROR_UNINITIALIZE", "aclInit was not called before this API"),
    100002: ("ACL_ERROR_REPEAT_INITIALIZE", "aclInit was called twice in this process"),
    107000: ("ACL_ERROR_RT_PARAM_INVALID", "a runtime handle or argument is invalid"),
    107001: ("ACL_ERROR_RT_INVALID_DEVICEID", "the device id does not exist; check ASCEND_RT_VISIBLE_DEVICES "
             "and `npu-smi info`"),
    107002: ("ACL_ERROR_RT_CONTEXT_NULL", "this thread has no current device (aclrtSetDevice was not called)"),
    107003: ("ACL_ERROR_RT_STREAM_CONTEXT", "the stream belongs to another device"),
    207001: ("ACL_ERROR_RT_MEMORY_ALLOCATION", "device memory is exhausted; free tensors, empty the cache "
             "(torch.deeplink.empty_cache()) or use a smaller batch"),
    207002: ("ACL_ERROR_RT_MEMORY_FREE", "the pointer was not allocated by aclrtMalloc or was freed twice"),
    507000: ("ACL_ERROR_RT_INTERNAL_ERROR", "the runtime failed internally; collect the plog and report it"),
    507006: ("ACL_ERROR_RT_EVENT_NOT_COMPLETE", "synchronize the events before timing them"),
    507015: ("ACL_ERROR_RT_AICORE_EXCEPTION", "a kernel failed on the device; the message names it"),
    507035: ("ACL_ERROR_RT_VECTOR_CORE_EXCEPTION", "a vector kernel failed on the device"),
    161001: ("ACLNN_ERR_PARAM_NULLPTR", "an aclnn argument was a null pointer"),
    161002: ("ACLNN_ERR_PARAM_INVALID", "the operator rejected a shape, dtype or attribute"),
    361001: ("ACLNN_ERR_RUNTIME_ERROR", "the operator could not call the NPU runtime"),
    561000: ("ACLNN_ERR_INNER", "the operator failed internally"),
    561003: ("ACLNN_ERR_INNER_FIND_KERNEL_ERROR", "the operator's kernel binary is missing: install the CANN "
             "kernels package (Ascend-cann-kernels) matching this toolkit"),
    561107: ("ACLNN_ERR_INNER_OPP_PATH_NOT_FOUND", "ASCEND_OPP_PATH is not set: source set_env.sh"),
}


def error_name(code: int) -> str:
    return ERRORS.get(code, (f"error {code}", ""))[0]


def error_hint(code: int) -> str:
    return ERRORS.get(code, ("", ""))[1]
