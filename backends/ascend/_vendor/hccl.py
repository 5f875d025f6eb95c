"""HCCL (CANN's collective library, libhccl.so) loaded at run time, with ctypes prototypes from
CANN's hccl.h / hccl_types.h, e.g.

    HcclResult HcclCommInitRootInfo(uint32_t nRanks, const HcclRootInfo *rootInfo, uint32_t rank,
                                    HcclComm *comm)
    HcclResult HcclAllReduce(void *sendBuf, void *recvBuf, uint64_t count, HcclDataType dataType,
                             HcclReduceOp op, HcclComm comm, aclrtStream stream)

libhccl.so is looked for next to the ACL runtime that the backend loaded, then in the same CANN
directories (libraries.search_directories). Failing calls raise HcclError with the code's
documented name and the runtime's recent error text.
"""
from __future__ import annotations

import ctypes as C
import os
from pathlib import Path

import torch

from .libraries import CannLibraries, search_directories

ROOT_INFO_BYTES = 4108  # sizeof(HcclRootInfo)

# HcclResult (hccl_types.h)
RESULT_NAMES = {0: "HCCL_SUCCESS", 1: "HCCL_E_PARA", 2: "HCCL_E_PTR", 3: "HCCL_E_MEMORY", 4: "HCCL_E_INTERNAL",
                5: "HCCL_E_NOT_SUPPORT", 6: "HCCL_E_NOT_FOUND", 7: "HCCL_E_UNAVAIL", 8: "HCCL_E_SYSCALL",
                9: "HCCL_E_TIMEOUT", 10: "HCCL_E_OPEN_FILE_FAILURE", 11: "HCCL_E_TCP_CONNECT",
                12: "HCCL_E_ROCE_CONNECT", 13: "HCCL_E_TCP_TRANSFER", 14: "HCCL_E_ROCE_TRANSFER",
                15: "HCCL_E_RUNTIME", 16: "HCCL_E_DRV", 17: "HCCL_E_PROFILING", 18: "HCCL_E_CCE",
                19: "HCCL_E_NETWORK", 20: "HCCL_E_AGAIN", 21: "HCCL_E_REMOTE"}

# HcclReduceOp
SUM, PROD, MAX, MIN = 0, 1, 2, 3

# HcclDataType for each torch dtype HCCL moves
DATA_TYPES = {torch.int8: 0, torch.int16: 1, torch.int32: 2, torch.float16: 3, torch.float32: 4, torch.int64: 5,
              torch.uint64: 6, torch.uint8: 7, torch.uint16: 8, torch.uint32: 9, torch.float64: 10,
              torch.bfloat16: 11}

_P = C.POINTER
_int, _u32, _u64, _vp = C.c_int, C.c_uint32, C.c_uint64, C.c_void_p
PROTOTYPES = {
    "HcclGetRootInfo": [_vp],
    "HcclCommInitRootInfo": [_u32, _vp, _u32, _P(_vp)],
    "HcclCommDestroy": [_vp],
    "HcclAllReduce": [_vp, _vp, _u64, _int, _int, _vp, _vp],
    "HcclBroadcast": [_vp, _u64, _int, _u32, _vp, _vp],
    "HcclAllGather": [_vp, _vp, _u64, _int, _vp, _vp],
    "HcclReduceScatter": [_vp, _vp, _u64, _int, _int, _vp, _vp],
    "HcclAlltoAllV": [_vp, _vp, _vp, _int, _vp, _vp, _vp, _int, _vp, _vp],
    "HcclSend": [_vp, _u64, _int, _u32, _vp, _vp],
    "HcclRecv": [_vp, _u64, _int, _u32, _vp, _vp],
    "HcclBarrier": [_vp, _vp],
}
OPTIONAL = {"HcclGetErrorString": ([_int], C.c_char_p)}


class HcclNotFound(RuntimeError):
    pass


class HcclError(RuntimeError):
    def __init__(self, function: str, code: int, detail: str = ""):
        self.function, self.code = function, code
        name = RESULT_NAMES.get(code, "unknown HcclResult")
        super().__init__(f"{function} failed with {name} ({code}){': ' + detail.strip() if detail else ''}")


def locate(libs: CannLibraries) -> Path:
    runtime_dir = Path(libs.paths["runtime"]).parent
    dirs = [runtime_dir] + [d for d in search_directories() if d != runtime_dir]
    for d in dirs:
        if (d / "libhccl.so").exists():
            return d / "libhccl.so"
    raise HcclNotFound("libhccl.so not found next to " + libs.paths["runtime"] + " nor in " +
                       ", ".join(str(d) for d in dirs if d.is_dir()) +
                       "; install CANN's toolkit (it ships HCCL) and source its set_env.sh")


class Hccl:
    """The functions of one libhccl.so; `check(ret, name)` raises HcclError."""

    def __init__(self, libs: CannLibraries, recent_error):
        self.path = locate(libs)
        try:
            self.lib = C.CDLL(str(self.path), mode=os.RTLD_NOW | os.RTLD_GLOBAL)
        except OSError as e:
            raise HcclNotFound(f"found {self.path} but could not load it: {e}") from e
        missing = [n for n in PROTOTYPES if not hasattr(self.lib, n)]
        if missing:
            raise HcclNotFound(f"{self.path} lacks {', '.join(missing)}: CANN 8.0 or newer is needed")
        for name, argtypes in PROTOTYPES.items():
            fn = getattr(self.lib, name)
            fn.restype, fn.argtypes = _int, argtypes
            setattr(self, name, fn)
        for name, (argtypes, restype) in OPTIONAL.items():
            fn = getattr(self.lib, name, None)
            if fn is not None:
                fn.restype, fn.argtypes = restype, argtypes
            setattr(self, name, fn)
        self._recent_error = recent_error

    def check(self, ret: int, function: str, context: str = "") -> None:
        if ret != 0:
            detail = self._recent_error()
            if not detail and self.HcclGetErrorString is not None:
                detail = (self.HcclGetErrorString(ret) or b"").decode(errors="replace")
            raise HcclError(function, int(ret), f"{context}: {detail}" if context else detail)
