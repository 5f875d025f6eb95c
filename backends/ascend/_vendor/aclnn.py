"""Calling aclnn operators: argument objects and the two-phase protocol.

One `AclnnCall` is one operator launch:

    with api.call("aclnnAdd", device, stream, workspace_alloc) as c:
        c.launch(c.tensor(a), c.tensor(b), c.scalar(1.0), c.tensor(out))

`tensor()`, `scalar()`, `int_array()`, `bool_array()` and `tensor_list()` create aclTensor,
aclScalar, aclIntArray, aclBoolArray and aclTensorList objects; leaving the `with` block destroys
every one of them (also on errors). `launch` runs the two phases:

    aclnnXxxGetWorkspaceSize(args..., &workspaceSize, &executor)
    workspace = allocate(workspaceSize)           # device memory, only when size > 0
    aclnnXxx(workspace, workspaceSize, executor, stream)

An aclTensor describes a torch-style strided view: view shape and strides, the element offset of
the view into its storage, format ND, and the storage shape (the whole storage, as a 1-D extent),
with tensorData pointing at the start of the storage. Works on any tensor-like object with
shape/stride()/storage_offset()/dtype/data_ptr()/untyped_storage() whose memory is device memory.
"""
from __future__ import annotations

import ctypes as C
from typing import Callable, Optional

import torch

from .acl import Acl, AscendError
from .constants import ACL_BOOL, ACL_DOUBLE, ACL_DTYPE_NAMES, ACL_FORMAT_ND, ACL_INT64, TORCH_TO_ACL
from .signatures import CTYPES, SIGNATURES


def acl_dtype(dtype: torch.dtype) -> int:
    try:
        return TORCH_TO_ACL[dtype]
    except KeyError:
        raise NotImplementedError(f"ascend: dtype {dtype} has no aclDataType; cast the tensor to a supported "
                                  f"dtype ({', '.join(str(d) for d in TORCH_TO_ACL)})") from None


def _int64s(values):
    values = [int(v) for v in values]
    return (C.c_int64 * max(len(values), 1))(*values), len(values)


class OpUnavailable(NotImplementedError):
    """The loaded CANN lacks an aclnn operator the backend needs for this call."""


class AclnnApi:
    """Bound aclnn functions of one CANN install (prototypes from signatures.SIGNATURES)."""

    def __init__(self, acl: Acl):
        self.acl = acl
        self._phase1 = {}
        self._phase2 = {}
        self._missing = set()

    def has(self, name: str) -> bool:
        return self._bind(name) is not None

    def missing_ops(self, names) -> list:
        return sorted(n for n in names if not self.has(n))

    def _bind(self, name: str):
        if name in self._phase1:
            return self._phase1[name]
        if name in self._missing:
            return None
        libs = self.acl.libs
        f1, f2 = libs.op_symbol(name + "GetWorkspaceSize"), libs.op_symbol(name)
        if f1 is None or f2 is None:
            self._missing.add(name)
            return None
        f1.restype = C.c_int
        f1.argtypes = [CTYPES[k] for k in SIGNATURES[name]] + [C.POINTER(C.c_uint64), C.POINTER(C.c_void_p)]
        f2.restype = C.c_int
        f2.argtypes = [C.c_void_p, C.c_uint64, C.c_void_p, C.c_void_p]
        self._phase1[name], self._phase2[name] = f1, f2
        return f1

    def call(self, op: str, stream: int, allocate_workspace: Callable[[int], object], context: str = ""):
        if self._bind(op) is None:
            raise OpUnavailable(f"ascend: {op} is not exported by {', '.join(self.acl.libs.paths.values())}; "
                                "this CANN release lacks the operator (upgrade CANN or its kernels package)")
        return AclnnCall(self, op, stream, allocate_workspace, context)


class AclnnCall:
    def __init__(self, api: AclnnApi, op: str, stream: int, allocate_workspace, context: str):
        self.api = api
        self.acl = api.acl
        self.op = op
        self.stream = stream
        self.allocate_workspace = allocate_workspace
        self.context = context
        self._owned = []     # (destroy function name, handle), destroyed in reverse order
        self._keep = []      # host buffers that must outlive the call
        self.workspace = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(report=exc_type is None)  # never hide the error that ended the call
        return False

    def close(self, report: bool = True):
        errors = []
        while self._owned:
            destroy, handle = self._owned.pop()
            ret = getattr(self.acl, destroy)(handle)
            if ret != 0:
                errors.append((destroy, ret))
        self._keep.clear()
        if errors and report:
            destroy, ret = errors[0]
            raise AscendError(destroy, ret, self.acl.recent_error(), f"cleaning up after {self.op}")

    def _own(self, destroy: str, handle: Optional[int], creator: str, what: str):
        if not handle:
            raise AscendError(creator, 161002, self.acl.recent_error(), f"{self.op} argument {what}")
        self._owned.append((destroy, handle))
        return handle

    # -- argument objects ------------------------------------------------------------------------
    def _tensor_handle(self, t) -> int:
        dtype = acl_dtype(t.dtype)
        itemsize = t.element_size()
        dims, ndim = _int64s(t.shape)
        strides, _ = _int64s(t.stride())
        if t.numel() == 0:
            offset, data, storage_numel = 0, None, 0
        else:
            offset = t.storage_offset()
            data = t.data_ptr() - offset * itemsize
            storage_numel = t.untyped_storage().nbytes() // itemsize
        storage, nstorage = _int64s([storage_numel])
        self._keep += [dims, strides, storage]
        return self.acl.aclCreateTensor(dims, ndim, dtype, strides, offset, ACL_FORMAT_ND, storage, nstorage, data)

    def tensor(self, t, what: str = "tensor") -> Optional[int]:
        """aclTensor for a device tensor, or NULL for None (optional arguments)."""
        if t is None:
            return None
        return self._own("aclDestroyTensor", self._tensor_handle(t), "aclCreateTensor",
                         f"{what} {tuple(t.shape)} {t.dtype}")

    def tensor_list(self, tensors, what: str = "tensors") -> int:
        handles = []
        try:
            for i, t in enumerate(tensors):
                h = self._tensor_handle(t)
                if not h:
                    raise AscendError("aclCreateTensor", 161002, self.acl.recent_error(), f"{self.op} {what}[{i}]")
                handles.append(h)
            array = (C.c_void_p * max(len(handles), 1))(*handles)
            self._keep.append(array)
            lst = self.acl.aclCreateTensorList(array, len(handles))
        except BaseException:
            for h in handles:
                self.acl.aclDestroyTensor(h)
            raise
        if not lst:
            for h in handles:
                self.acl.aclDestroyTensor(h)
        # The list owns its tensors: destroying the list destroys them.
        return self._own("aclDestroyTensorList", lst, "aclCreateTensorList", what)

    def scalar(self, value, acl_type: Optional[int] = None, what: str = "scalar") -> Optional[int]:
        """aclScalar for a Python number (float -> DOUBLE, int -> INT64, bool -> BOOL), None -> NULL."""
        if value is None:
            return None
        if isinstance(value, torch.Tensor):
            value = value.item()
        if acl_type is None:
            acl_type = ACL_BOOL if isinstance(value, bool) else ACL_INT64 if isinstance(value, int) else ACL_DOUBLE
        box = {ACL_BOOL: C.c_bool, ACL_INT64: C.c_int64, ACL_DOUBLE: C.c_double}.get(acl_type)
        if box is None:
            raise NotImplementedError(f"ascend: scalar of type {ACL_DTYPE_NAMES.get(acl_type, acl_type)}")
        if isinstance(value, complex):  # aclScalar boxes are real: convert as ATen does
            if value.imag != 0:
                raise RuntimeError(f"value cannot be converted to type {ACL_DTYPE_NAMES.get(acl_type, acl_type)} "
                                   f"without overflow: {value} ({self.op})")
            value = value.real
        buf = box(value)
        self._keep.append(buf)
        return self._own("aclDestroyScalar", self.acl.aclCreateScalar(C.addressof(buf), acl_type),
                         "aclCreateScalar", f"{what}={value!r}")

    def int_array(self, values, what: str = "int array") -> Optional[int]:
        if values is None:
            return None
        arr, n = _int64s(values)
        self._keep.append(arr)
        return self._own("aclDestroyIntArray", self.acl.aclCreateIntArray(arr, n), "aclCreateIntArray", what)

    def bool_array(self, values, what: str = "bool array") -> int:
        values = [bool(v) for v in values]
        arr = (C.c_bool * max(len(values), 1))(*values)
        self._keep.append(arr)
        return self._own("aclDestroyBoolArray", self.acl.aclCreateBoolArray(arr, len(values)),
                         "aclCreateBoolArray", what)

    # -- the two phases --------------------------------------------------------------------------
    def launch(self, *args) -> None:
        api = self.api
        f1, f2 = api._phase1[self.op], api._phase2[self.op]
        if len(args) != len(SIGNATURES[self.op]):
            raise TypeError(f"{self.op} takes {len(SIGNATURES[self.op])} arguments, got {len(args)}")
        size = C.c_uint64(0)
        executor = C.c_void_p()
        ret = f1(*args, C.byref(size), C.byref(executor))
        self.acl.check(ret, f"{self.op}GetWorkspaceSize", self.context)
        ws_ptr = None
        if size.value:
            try:
                self.workspace = self.allocate_workspace(size.value)
                ws_ptr = self.workspace.data_ptr()
            except BaseException:
                # An executor that will never run must be released explicitly.
                if self.acl.aclDestroyAclOpExecutor is not None:
                    self.acl.aclDestroyAclOpExecutor(executor)
                raise
        ret = f2(ws_ptr, size.value, executor, self.stream)
        self.acl.check(ret, self.op, self.context)
