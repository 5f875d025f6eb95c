"""ctypes prototypes of the ACL runtime and aclnn meta API, and ACL errors as Python errors.

Prototypes follow the CANN API reference, e.g.
    aclError aclrtMalloc(void **devPtr, size_t size, aclrtMemMallocPolicy policy)
    aclError aclrtMemcpy(void *dst, size_t destMax, const void *src, size_t count, aclrtMemcpyKind kind)
    aclTensor *aclCreateTensor(const int64_t *viewDims, uint64_t viewDimsNum, aclDataType dataType,
                               const int64_t *stride, int64_t offset, aclFormat format,
                               const int64_t *storageDims, uint64_t storageDimsNum, void *tensorData)
Every failing call is turned into an AscendError that carries the code, its documented name,
the text of aclGetRecentErrMsg() and, where known, what to do about it.
"""
from __future__ import annotations

import ctypes as C

try:  # the deeplink core's error type, so callers can catch every vendor runtime failure alike
    from deeplink.runtime import RuntimeError_ as _VendorRuntimeError
except ImportError:  # pragma: no cover - the contract module ships with deeplink
    _VendorRuntimeError = RuntimeError

from .constants import error_hint, error_name
from .libraries import CannLibraries

_P = C.POINTER
_int = C.c_int

# name: (restype, argtypes, required)
PROTOTYPES = {
    "aclInit": (_int, [C.c_char_p], True),
    "aclFinalize": (_int, [], False),
    "aclGetRecentErrMsg": (C.c_char_p, [], True),
    "aclrtGetSocName": (C.c_char_p, [], False),
    "aclrtGetDeviceCount": (_int, [_P(C.c_uint32)], True),
    "aclrtSetDevice": (_int, [C.c_int32], True),
    "aclrtGetDevice": (_int, [_P(C.c_int32)], False),
    "aclrtResetDevice": (_int, [C.c_int32], False),
    "aclrtSynchronizeDevice": (_int, [], True),
    "aclrtGetMemInfo": (_int, [_int, _P(C.c_size_t), _P(C.c_size_t)], False),
    "aclrtMalloc": (_int, [_P(C.c_void_p), C.c_size_t, _int], True),
    "aclrtFree": (_int, [C.c_void_p], True),
    "aclrtMemcpy": (_int, [C.c_void_p, C.c_size_t, C.c_void_p, C.c_size_t, _int], True),
    "aclrtMemcpyAsync": (_int, [C.c_void_p, C.c_size_t, C.c_void_p, C.c_size_t, _int, C.c_void_p], True),
    "aclrtCreateStream": (_int, [_P(C.c_void_p)], True),
    "aclrtDestroyStream": (_int, [C.c_void_p], True),
    "aclrtSynchronizeStream": (_int, [C.c_void_p], True),
    "aclrtStreamQuery": (_int, [C.c_void_p, _P(_int)], False),  # newer CANN; else an event is recorded and asked
    "aclrtStreamWaitEvent": (_int, [C.c_void_p, C.c_void_p], True),
    "aclrtCreateEvent": (_int, [_P(C.c_void_p)], True),
    "aclrtDestroyEvent": (_int, [C.c_void_p], True),
    "aclrtRecordEvent": (_int, [C.c_void_p, C.c_void_p], True),
    "aclrtSynchronizeEvent": (_int, [C.c_void_p], True),
    "aclrtQueryEventStatus": (_int, [C.c_void_p, _P(_int)], True),
    "aclrtEventElapsedTime": (_int, [_P(C.c_float), C.c_void_p, C.c_void_p], True),
    # aclnn meta API (libnnopbase.so)
    "aclCreateTensor": (C.c_void_p, [_P(C.c_int64), C.c_uint64, _int, _P(C.c_int64), C.c_int64, _int,
                                     _P(C.c_int64), C.c_uint64, C.c_void_p], True),
    "aclDestroyTensor": (_int, [C.c_void_p], True),
    "aclCreateScalar": (C.c_void_p, [C.c_void_p, _int], True),
    "aclDestroyScalar": (_int, [C.c_void_p], True),
    "aclCreateIntArray": (C.c_void_p, [_P(C.c_int64), C.c_uint64], True),
    "aclDestroyIntArray": (_int, [C.c_void_p], True),
    "aclCreateBoolArray": (C.c_void_p, [_P(C.c_bool), C.c_uint64], True),
    "aclDestroyBoolArray": (_int, [C.c_void_p], True),
    "aclCreateTensorList": (C.c_void_p, [_P(C.c_void_p), C.c_uint64], True),
    "aclDestroyTensorList": (_int, [C.c_void_p], True),
    "aclDestroyAclOpExecutor": (_int, [C.c_void_p], False),
}


class AscendError(_VendorRuntimeError):
    """An ACL or aclnn call failed. Attributes: code, name, function, acl_message, hint."""

    def __init__(self, function: str, code: int, acl_message: str = "", context: str = ""):
        self.function = function
        self.code = code
        self.name = error_name(code)
        self.acl_message = acl_message
        self.hint = error_hint(code)
        text = f"{function} failed with {self.name} ({code})"
        if context:
            text += f" [{context}]"
        if acl_message:
            text += f": {acl_message.strip()}"
        if self.hint:
            text += f". What to do: {self.hint}"
        super().__init__(text)


class Acl:
    """The runtime and meta functions of one loaded CANN (or emulator) install."""

    def __init__(self, libs: CannLibraries):
        self.libs = libs
        self.missing_optional = []
        for name, (restype, argtypes, required) in PROTOTYPES.items():
            fn = libs.symbol(name)
            if fn is None:
                if required:  # libraries.load() already checked these; keep the error precise
                    raise AttributeError(f"{name} not found in {libs.paths}")
                self.missing_optional.append(name)
                setattr(self, name, None)
                continue
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)

    def recent_error(self) -> str:
        msg = self.aclGetRecentErrMsg()
        return msg.decode(errors="replace") if msg else ""

    def check(self, ret: int, function: str, context="") -> None:
        """Raises AscendError for a nonzero return code. `context` may be a callable, evaluated
        only on failure (kernels pass a description of the aten call)."""
        if ret != 0:
            raise AscendError(function, int(ret), self.recent_error(), context() if callable(context) else context)

    def soc_name(self) -> str:
        if self.aclrtGetSocName is None:
            return ""
        name = self.aclrtGetSocName()
        return name.decode(errors="replace") if name else ""
