"""Operators written in C: `CKernel` wraps a C function over DLPack `DLTensor*` as a PythonKernel.

The C side is specified in csrc/include/deeplink/kernel.h: outputs first, then inputs, then
scalars; the function returns a dl_status. The Python side says which aten argument feeds each C
parameter and how the outputs are made:

    add = CKernel("libmykernels.so", "my_add", "add.Tensor", "out, self, other, double alpha",
                  dtypes={torch.float32})
    kernels = {"add.Tensor": add}

Per call, CKernel allocates the outputs on the deeplink device (torch.empty, so memory comes from
the backend's runtime), describes every tensor as a DLTensor (storage start in `data`, the
tensor's offset in `byte_offset`, strides in elements, device type kDLExtDev = DL_DEVICE_DEEPLINK
with the deeplink device index, or kDLCPU for CPU scalars), calls the symbol through cffi (the GIL
is released during the call) and maps the status:

    DL_OK                                       return the outputs
    DL_DTYPE_NOT_SUPPORTED, DL_NOT_IMPLEMENTED  return NotImplemented: the dispatcher falls back to
                                                the CPU, or raises in DEEPLINK_FALLBACK=error mode
    any other status                            raise CKernelError naming op, symbol, dtypes,
                                                shapes, backend and the library's last-error text
"""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

import _cffi_backend
import cffi
import torch

from .dtypes import short_name
from .kernels import PythonKernel

# ---------------------------------------------------------------- the ABI, as cffi sees it

#: Must equal DL_KERNEL_ABI_VERSION in csrc/include/deeplink/kernel.h.
KERNEL_ABI_VERSION = 1

# dl_status values of csrc/include/deeplink/runtime.h (a test checks they agree).
DL_OK, DL_ERROR, DL_NOT_IMPLEMENTED, DL_DTYPE_NOT_SUPPORTED, DL_OUT_OF_MEMORY, DL_INVALID_ARGUMENT = range(6)
STATUS_NAMES = {DL_OK: "DL_OK", DL_ERROR: "DL_ERROR", DL_NOT_IMPLEMENTED: "DL_NOT_IMPLEMENTED",
                DL_DTYPE_NOT_SUPPORTED: "DL_DTYPE_NOT_SUPPORTED", DL_OUT_OF_MEMORY: "DL_OUT_OF_MEMORY",
                DL_INVALID_ARGUMENT: "DL_INVALID_ARGUMENT"}
_DECLINED = frozenset({DL_NOT_IMPLEMENTED, DL_DTYPE_NOT_SUPPORTED})

# DLDeviceType values used by deeplink.
KDL_CPU = 1
KDL_EXT_DEV = 12
#: The device type C kernels see for deeplink tensors (DL_DEVICE_DEEPLINK in kernel.h).
DEEPLINK_DEVICE_TYPE = KDL_EXT_DEV

# DLDataTypeCode values.
KDL_INT, KDL_UINT, KDL_FLOAT, KDL_BFLOAT, KDL_COMPLEX, KDL_BOOL = 0, 1, 2, 4, 5, 6


def _dtype_codes() -> dict:
    codes = {torch.float16: (KDL_FLOAT, 16), torch.float32: (KDL_FLOAT, 32), torch.float64: (KDL_FLOAT, 64),
             torch.bfloat16: (KDL_BFLOAT, 16), torch.complex64: (KDL_COMPLEX, 64),
             torch.complex128: (KDL_COMPLEX, 128), torch.bool: (KDL_BOOL, 8),
             torch.int8: (KDL_INT, 8), torch.int16: (KDL_INT, 16), torch.int32: (KDL_INT, 32),
             torch.int64: (KDL_INT, 64), torch.uint8: (KDL_UINT, 8)}
    for name, bits in (("uint16", 16), ("uint32", 32), ("uint64", 64)):
        if hasattr(torch, name):
            codes[getattr(torch, name)] = (KDL_UINT, bits)
    # float8 kinds: codes 10 (e4m3fn), 11 (e4m3fnuz), 12 (e5m2), 13 (e5m2fnuz), 14 (e8m0fnu)
    for name, code in (("float8_e4m3fn", 10), ("float8_e4m3fnuz", 11), ("float8_e5m2", 12),
                       ("float8_e5m2fnuz", 13), ("float8_e8m0fnu", 14)):
        if hasattr(torch, name):
            codes[getattr(torch, name)] = (code, 8)
    return codes


#: torch dtype -> (DLDataTypeCode, bits); lanes are always 1.
DTYPE_CODES = _dtype_codes()
# torch dtype -> (DLDataType initializer, bytes per element), for the per-call path
_DTYPE_INFO = {d: ((code, bits, 1), torch.empty(0, dtype=d).element_size()) for d, (code, bits) in DTYPE_CODES.items()}
_CPU_DEVICE = (KDL_CPU, 0)

_CDEF = """
typedef struct { int32_t device_type; int32_t device_id; } DLDevice;
typedef struct { uint8_t code; uint8_t bits; uint16_t lanes; } DLDataType;
typedef struct {
  void* data; DLDevice device; int32_t ndim; DLDataType dtype;
  int64_t* shape; int64_t* strides; uint64_t byte_offset;
} DLTensor;
/* Same layout as DLTensor, with `data` as an integer so a call can fill it without a cast. */
typedef struct {
  uintptr_t data; DLDevice device; int32_t ndim; DLDataType dtype;
  int64_t* shape; int64_t* strides; uint64_t byte_offset;
} dl_tensor_arg;
"""

#: The cffi FFI that declares DLDevice, DLDataType and DLTensor (for reading them in tests, or
#: `include()`-ing into an FFI of your own).
ffi = cffi.FFI()
ffi.cdef(_CDEF)

_loader = cffi.FFI()
_loader.cdef("void* dlopen(const char* file, int mode); void* dlsym(void* handle, const char* name);"
             "char* dlerror(void);")
_libdl = _loader.dlopen(None)  # glibc >= 2.34 has these in libc; older ones in the python binary's libdl
_RTLD_NOW, _RTLD_LOCAL = 2, 0

_newp = _cffi_backend.newp  # ffi.new without its Python wrapper (per-call cost)
_ARGS = ffi.typeof("dl_tensor_arg[]")
_I64S = ffi.typeof("int64_t[]")
_NULL = ffi.NULL


class CKernelError(RuntimeError):
    """A C kernel failed (status other than DL_OK / a decline), or a kernel library is unusable."""


# ---------------------------------------------------------------- libraries

class KernelLibrary:
    """A kernel shared library opened with dlopen (RTLD_NOW | RTLD_LOCAL, never closed: kernels
    built from it may live as long as the process). Checks `dl_kernel_abi_version()`."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(Path(path).resolve())
        if not Path(self.path).exists():
            raise CKernelError(f"deeplink: C kernel library {self.path} does not exist; build it first "
                               f"(a generated plugin builds it during `pip install --no-build-isolation DIR`)")
        handle = _libdl.dlopen(self.path.encode(), _RTLD_NOW | _RTLD_LOCAL)
        if handle == _NULL:
            raise CKernelError(f"deeplink: cannot load C kernel library {self.path}: {_dlerror()}")
        self._handle = handle
        version = self._optional("dl_kernel_abi_version", "uint32_t(*)(void)")
        if version is None:
            raise CKernelError(f"deeplink: {self.path} does not export dl_kernel_abi_version(); include "
                               f"deeplink/kernel.h and write DL_KERNEL_LIBRARY() in one of its .c files")
        if version() != KERNEL_ABI_VERSION:
            raise CKernelError(f"deeplink: {self.path} was built for C kernel ABI {version()}, this deeplink "
                               f"speaks {KERNEL_ABI_VERSION}; rebuild it against this deeplink's kernel.h")
        self._last_error = self._optional("dl_kernel_last_error", "const char*(*)(void)")

    def address(self, symbol: str) -> int:
        p = _libdl.dlsym(self._handle, symbol.encode())
        if p == _NULL:
            raise CKernelError(f"deeplink: C kernel library {self.path} has no symbol {symbol!r} "
                               f"(is it exported with DL_KERNEL_EXPORT, and spelled the same?)")
        return int(ffi.cast("uintptr_t", p))

    def last_error(self) -> str:
        if self._last_error is None:
            return "(the library does not export dl_kernel_last_error)"
        p = self._last_error()
        return ffi.string(p).decode(errors="replace") if p != _NULL else ""

    def _optional(self, symbol, ctype):
        p = _libdl.dlsym(self._handle, symbol.encode())
        return None if p == _NULL else ffi.cast(ctype, p)

    def __repr__(self):
        return f"KernelLibrary({self.path!r})"


class _CffiLibrary:
    """A library someone opened with cffi already: an ABI-mode `ffi.dlopen()` lib (any FFI), or an
    API-mode compiled module (an object with `.ffi` and `.lib`). Symbols must be declared in its cdef."""

    def __init__(self, obj):
        self.path = getattr(obj, "__file__", None) or repr(obj)
        self._module_ffi = getattr(obj, "ffi", None)
        self._lib = obj.lib if self._module_ffi is not None else obj
        version = self._call_optional("dl_kernel_abi_version")
        if version is not None and version != KERNEL_ABI_VERSION:
            raise CKernelError(f"deeplink: {self.path} was built for C kernel ABI {version}, this deeplink "
                               f"speaks {KERNEL_ABI_VERSION}; rebuild it against this deeplink's kernel.h")

    def address(self, symbol: str) -> int:
        try:
            fn = getattr(self._lib, symbol)
        except AttributeError:
            raise CKernelError(f"deeplink: cffi library {self.path} has no function {symbol!r} in its cdef") from None
        if self._module_ffi is not None:  # API mode: lib.f is a Python builtin; take its address
            fn = self._module_ffi.addressof(self._lib, symbol)
            return int(self._module_ffi.cast("uintptr_t", fn))
        return int(ffi.cast("uintptr_t", fn))  # cffi casts pointers across FFI instances

    def last_error(self) -> str:
        p = self._call_optional("dl_kernel_last_error")
        if p is None:
            return "(the library does not declare dl_kernel_last_error)"
        own = self._module_ffi or ffi
        return own.string(p).decode(errors="replace") if p != _NULL else ""

    def _call_optional(self, symbol):
        try:
            fn = getattr(self._lib, symbol)
        except AttributeError:
            return None
        return fn()


_libraries: dict[str, KernelLibrary] = {}
_libraries_lock = threading.Lock()


def load_library(path: str | os.PathLike) -> KernelLibrary:
    """Open (once per process) the kernel library at `path`."""
    key = str(Path(path).resolve())
    with _libraries_lock:
        lib = _libraries.get(key)
        if lib is None:
            lib = _libraries[key] = KernelLibrary(key)
        return lib


def _as_library(library):
    if isinstance(library, (KernelLibrary, _CffiLibrary)):
        return library
    if isinstance(library, (str, os.PathLike)):
        return load_library(library)
    api_module = hasattr(library, "lib") and hasattr(library, "ffi")
    abi_lib = type(library).__module__.startswith(("cffi", "_cffi_backend"))  # what ffi.dlopen() returns
    if api_module or abi_lib:
        return _CffiLibrary(library)
    raise TypeError(f"deeplink.ckernel: library must be a path, a KernelLibrary, or a cffi library; "
                    f"got {type(library).__name__}")


def include_dir() -> Path:
    """The folder to pass as `-I` when compiling a kernel library: `#include <deeplink/kernel.h>`."""
    from ._build import csrc_dir
    return csrc_dir() / "include"


def build_library(sources, output: str | os.PathLike, extra_args: Iterable[str] = ()) -> Path:
    """Compile C sources into a kernel shared library with the system C compiler ($CC, else cc):
    the quick path for notebooks, tests and docs. Packages build theirs at install time instead
    (see the setup.py that `deeplink new-backend` writes)."""
    import shlex
    import subprocess
    output = Path(output)
    cmd = shlex.split(os.environ.get("CC", "cc")) + [
        "-shared", "-fPIC", "-O3", "-std=c11", "-fvisibility=hidden", f"-I{include_dir()}",
        *[str(s) for s in ([sources] if isinstance(sources, (str, os.PathLike)) else sources)],
        "-o", str(output), *extra_args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CKernelError(f"deeplink: compiling {output.name} failed ({' '.join(cmd)}):\n{proc.stderr}")
    return output


def _dlerror() -> str:
    p = _libdl.dlerror()
    return _loader.string(p).decode(errors="replace") if p != _NULL else "unknown dlopen error"


# ---------------------------------------------------------------- the argument spec

# C types a scalar parameter may have; `bool` is passed as an int (0 or 1).
_SCALAR_CTYPES = {"double": "double", "float": "float", "int64_t": "int64_t", "int": "int", "bool": "int"}


@dataclass(frozen=True)
class Param:
    """One C parameter: kind is 'out' (output tensor), 'tensor', 'scalar' or 'intlist'."""
    kind: str
    name: str
    ctype: str = ""        # C type of a scalar ("double", "float", "int64_t", "int")
    index: int = 0         # output index, or position in the aten schema
    kwarg_only: bool = False
    default: object = None


def parse_args(spec: str, schema, n_outputs: Optional[int] = None) -> list[Param]:
    """Parse "out, self, other, double alpha" against an aten schema.

    `out` / `out0`, `out1`, ... are outputs; a bare name is a tensor argument of the schema; `double
    NAME`, `float NAME`, `int64_t NAME`, `int NAME`, `bool NAME` (passed as int) are scalars;
    `int64_t[] NAME` is an int list, passed to C as `const int64_t* NAME, int64_t NAME_len`."""
    by_name = {a.name: (i, a) for i, a in enumerate(schema.arguments)}
    names = ", ".join(a.name for a in schema.arguments)
    params = []
    for raw in (p.strip() for p in spec.split(",")):
        if not raw:
            continue
        m = re.fullmatch(r"(?:(double|float|int64_t|int|bool)(\[\])?\s+)?([A-Za-z_]\w*)", raw)
        if not m:
            raise ValueError(f"deeplink.ckernel: cannot read C parameter {raw!r} of {spec!r}; write `out`, a "
                             f"tensor argument name, `double NAME`, `float NAME`, `int64_t NAME`, `int NAME`, "
                             f"`bool NAME` or `int64_t[] NAME`")
        ctype, is_list, name = m.groups()
        out = re.fullmatch(r"out(\d*)", name)
        if out and not ctype and (name not in by_name or _is_written(by_name[name])):
            params.append(Param("out", name, index=int(out.group(1) or 0)))
            continue
        if name not in by_name:
            raise ValueError(f"deeplink.ckernel: {name!r} is not an argument of {_label(schema)} ({names})")
        i, a = by_name[name]
        default = a.default_value if a.has_default_value() else None
        if is_list:
            if ctype != "int64_t":
                raise ValueError(f"deeplink.ckernel: only int64_t[] lists are supported, not {ctype}[] ({raw!r})")
            params.append(Param("intlist", name, "int64_t", i, a.kwarg_only, default))
        elif ctype:
            params.append(Param("scalar", name, _SCALAR_CTYPES[ctype], i, a.kwarg_only, default))
        else:
            if "Tensor" not in str(a.type) or "[]" in str(a.type):
                raise ValueError(f"deeplink.ckernel: argument {name!r} of {_label(schema)} is {a.type}, not a "
                                 f"Tensor; give it a C type (`double {name}`, `int64_t {name}`, ...)")
            params.append(Param("tensor", name, index=i, kwarg_only=a.kwarg_only, default=default))
    outs = sorted(p.index for p in params if p.kind == "out")
    if outs != list(range(len(outs))):
        raise ValueError(f"deeplink.ckernel: outputs in {spec!r} must be out (or out0, out1, ... in order)")
    if n_outputs is not None and len(outs) != n_outputs:
        raise ValueError(f"deeplink.ckernel: {spec!r} has {len(outs)} outputs, the outputs spec makes {n_outputs}")
    return params


def _schema_param(schema, name: str) -> Param:
    for i, a in enumerate(schema.arguments):
        if a.name == name:
            return Param("tensor", name, index=i, kwarg_only=a.kwarg_only,
                         default=a.default_value if a.has_default_value() else None)
    raise ValueError(f"deeplink.ckernel: {name!r} is not an argument of {_label(schema)}")


def _label(schema) -> str:
    return schema.name + (f".{schema.overload_name}" if schema.overload_name else "")


def _is_written(entry) -> bool:
    return entry is not None and entry[1].alias_info is not None and entry[1].alias_info.is_write


def _c_function_type(params: list[Param]) -> str:
    parts = []
    for p in params:
        if p.kind in ("out", "tensor"):
            parts.append("dl_tensor_arg*")
        elif p.kind == "scalar":
            parts.append(p.ctype)
        else:
            parts += ["int64_t*", "int64_t"]
    return f"int(*)({', '.join(parts) or 'void'})"


# ---------------------------------------------------------------- shapes and dtypes of outputs

def _broadcast_shape(shapes: list) -> tuple:
    first = shapes[0]
    if all(s == first for s in shapes):
        return tuple(first)
    return tuple(torch.broadcast_shapes(*shapes))


def _promoted_dtype(tensors: list) -> torch.dtype:
    if len(tensors) == 1:
        return tensors[0].dtype
    if len(tensors) == 2:
        return torch.result_type(tensors[0], tensors[1])
    # More than two: dimensioned tensors promote; a 0-d tensor counts only if its kind is higher.
    dims = [t.dtype for t in tensors if t.dim() > 0] or [t.dtype for t in tensors]
    result = dims[0]
    for d in dims[1:]:
        result = torch.promote_types(result, d)
    for t in tensors:
        if t.dim() == 0 and _kind(t.dtype) > _kind(result):
            result = torch.promote_types(result, t.dtype)
    return result


def _kind(d: torch.dtype) -> int:
    return 3 if d.is_complex else 2 if d.is_floating_point else 0 if d == torch.bool else 1


def _broadcast_strides(t: torch.Tensor, shape: tuple) -> list:
    """t's strides, viewed as `shape` (expand semantics: missing and size-1 dims get stride 0)."""
    lead = len(shape) - t.dim()
    strides = [0] * lead
    for size, stride, want in zip(t.shape, t.stride(), shape[lead:]):
        strides.append(stride if size == want else 0)
    return strides


# ---------------------------------------------------------------- the call

class _CCall:
    """The callable a CKernel's PythonKernel runs: binds aten arguments to C parameters.

    The per-call path is written for speed (it is the whole overhead of a C kernel): argument
    binding is precomputed, every DLTensor of a call lives in one cffi array and every shape and
    stride in one int64 array, and `data` is filled as an integer (dl_tensor_arg)."""

    def __init__(self, op: str, symbol: str, library, params: list[Param], outputs, fn, schema):
        self.op, self.symbol, self.library, self.params = op, symbol, library, params
        self.outputs = outputs
        self.cfunc = fn
        self.n_out = sum(p.kind == "out" for p in params)
        self.mode, _, self.mode_arg = outputs.partition(":") if isinstance(outputs, str) else ("callable", "", "")
        self.broadcast = self.mode in ("broadcast", "into")
        #: (status name, library's error text) of the last call the C function declined, for debugging.
        self.last_declined: Optional[tuple] = None
        self._mode_param = _schema_param(schema, self.mode_arg) if self.mode_arg else None
        # (schema position or a huge number for keyword-only, name, default) per tensor parameter
        self._tensor_bind = [_binding(p) for p in params if p.kind == "tensor"]
        # C argument plan: ("out", i) | ("in", i) | ("scalar", binding, to_float) | ("list", binding)
        plan, k = [], 0
        for p in params:
            if p.kind == "out":
                plan.append(("out", p.index))
            elif p.kind == "tensor":
                plan.append(("in", k))
                k += 1
            elif p.kind == "scalar":
                plan.append(("scalar", _binding(p), p.ctype in ("double", "float")))
            else:
                plan.append(("list", _binding(p)))
        self._plan = plan
        # The common shape, "out, tensors..., plain scalars", takes a shortcut when no input is None.
        kinds = [step[0] for step in plan]
        n_in = kinds.count("in")
        self._simple = (kinds == ["out"] * self.n_out + ["in"] * n_in + ["scalar"] * kinds.count("scalar")
                        and [s[1] for s in plan[: self.n_out]] == list(range(self.n_out)))
        self._scalar_bind = [(*step[1], step[2]) for step in plan if step[0] == "scalar"]
        self.elementwise = self._simple and self.mode == "broadcast" and n_in == 2 and self.n_out == 1

    def __repr__(self):
        return f"<C kernel {self.symbol} from {self.library.path} for aten::{self.op}>"

    def native_spec(self, refused_dtypes: list):
        """What the router needs to call this kernel from C++ without a Python frame
        (csrc/shim/ckernel_route.cpp), or None when only this Python path can (an outputs
        callable). `refused_dtypes`: the dtypes the route declines (the kernel's dtype list)."""
        if self.mode == "callable":
            return None
        params = [(p.kind, p.index, p.ctype) for p in self.params]
        mode_arg = self._mode_param.index if self._mode_param is not None else -1
        codes = [(d, code, bits) for d, (code, bits) in DTYPE_CODES.items()]
        return int(ffi.cast("uintptr_t", self.cfunc)), params, self.mode, mode_arg, refused_dtypes, codes

    def _elementwise(self, *args, **kwargs):
        """__call__ for the most common kernel: outputs='broadcast', C parameters "out, two
        tensors, scalars" (binary pointwise ops). Same result as the general path, fewer steps."""
        nargs = len(args)
        (i, n, d), (j, m, e) = self._tensor_bind
        a = args[i] if i < nargs else kwargs.get(n, d)
        b = args[j] if j < nargs else kwargs.get(m, e)
        if a is None or b is None:
            return self._general(*args, **kwargs)
        shape = a.shape
        if b.shape != shape:
            shape = torch.broadcast_shapes(shape, b.shape)
        out = torch.empty(shape, dtype=torch.result_type(a, b), device=b.device if a.is_cpu else a.device)
        dtype = out.dtype
        if a.dtype != dtype and a.is_cpu and a.dim() == 0:  # CPU scalars (x + 1): one dtype in C
            a = a.to(dtype)
        if b.dtype != dtype and b.is_cpu and b.dim() == 0:
            b = b.to(dtype)
        nd = len(shape)
        dims = list(shape)
        dims += out.stride()
        dims += a.stride() if a.shape == shape else _broadcast_strides(a, shape)
        dims += b.stride() if b.shape == shape else _broadcast_strides(b, shape)
        arr = _newp(_I64S, dims or 1)
        index = out.get_device()
        device = (DEEPLINK_DEVICE_TYPE, index) if index >= 0 else _CPU_DEVICE
        structs = []
        pos = nd
        for t in (out, a, b):
            dl_dtype, itemsize = _DTYPE_INFO[t.dtype]
            ptr = t.data_ptr()  # 0 for an empty tensor, whatever its offset (x[6:]): then data and offset 0
            offset = t.storage_offset() * itemsize if ptr else 0
            structs.append((ptr - offset, _CPU_DEVICE if t.is_cpu else device, nd, dl_dtype,
                            arr, arr + pos, offset))
            pos += nd
        block = _newp(_ARGS, structs)
        cargs = [block, block + 1, block + 2]
        for i, n, d, to_float in self._scalar_bind:
            v = args[i] if i < nargs else kwargs.get(n, d)
            cargs.append(float(v) if to_float else int(v))
        status = self.cfunc(*cargs)
        if status == DL_OK:
            return out
        if status in _DECLINED:
            self.last_declined = (STATUS_NAMES[status], self.library.last_error())
            return NotImplemented
        raise CKernelError(self._failure(status, [out], [a, b]))

    def _general(self, *args, **kwargs):
        nargs = len(args)
        inputs = [args[i] if i < nargs else kwargs.get(n, d) for i, n, d in self._tensor_bind]
        present = [t for t in inputs if t is not None]
        outs = self._make_outputs(present, args, kwargs)
        out0 = outs[0]

        # Every shape and stride of the call goes in one int64 array, every DLTensor in one struct
        # array. Broadcast modes describe all tensors with the output's shape (one shared copy).
        if self.broadcast:
            shape = out0.shape
            dtype = out0.dtype
            for t in present:
                if t.is_cpu and t.dtype != dtype and t.dim() == 0:  # CPU scalars (x + 1): one dtype in C
                    inputs = [u.to(dtype) if u is t else u for u in inputs]
                    present = [u for u in inputs if u is not None]
            described = outs + present
            nd = len(shape)
            dims = list(shape)
            for t in described:
                dims += t.stride() if t.shape == shape else _broadcast_strides(t, shape)
            arr = _newp(_I64S, dims or 1)  # all 0-d: still a valid (unused) pointer
            shapes = [(nd, arr)] * len(described)
            pos = nd
            strides = []
            for _ in described:
                strides.append(arr + pos)
                pos += nd
        else:
            described = outs + present
            dims = []
            for t in described:
                dims += t.shape
                dims += t.stride()
            arr = _newp(_I64S, dims or 1)
            shapes, strides, pos = [], [], 0
            for t in described:
                nd = t.dim()
                shapes.append((nd, arr + pos))
                strides.append(arr + pos + nd)
                pos += 2 * nd
        index = out0.get_device()
        device = (DEEPLINK_DEVICE_TYPE, index) if index >= 0 else (KDL_CPU, 0)
        structs = []
        for t, (nd, shape_ptr), stride_ptr in zip(described, shapes, strides):
            dl_dtype, itemsize = _DTYPE_INFO[t.dtype]
            ptr = t.data_ptr()  # see _elementwise: an empty tensor is described with data 0, offset 0
            offset = t.storage_offset() * itemsize if ptr else 0
            structs.append((ptr - offset, _CPU_DEVICE if t.is_cpu else device, nd, dl_dtype,
                            shape_ptr, stride_ptr, offset))
        block = _newp(_ARGS, structs)

        n_out = len(outs)
        if self._simple and len(present) == len(inputs):
            cargs = [block + j for j in range(n_out + len(present))]
            for step in self._plan[len(cargs):]:
                i, n, d = step[1]
                v = args[i] if i < nargs else kwargs.get(n, d)
                cargs.append(float(v) if step[2] else int(v))
        else:
            cargs = self._general_args(block, n_out, inputs, args, kwargs)

        status = self.cfunc(*cargs)
        if status == DL_OK:
            return out0 if self.n_out == 1 else tuple(outs)
        if status in _DECLINED:
            self.last_declined = (STATUS_NAMES[status], self.library.last_error())
            return NotImplemented
        raise CKernelError(self._failure(status, outs, present))

    def _general_args(self, block, n_out, inputs, args, kwargs) -> list:
        nargs = len(args)
        slot = {}  # input index -> struct index (None inputs have no struct)
        k = n_out
        for j, t in enumerate(inputs):
            if t is not None:
                slot[j] = k
                k += 1
        cargs = []
        for step in self._plan:
            kind = step[0]
            if kind == "out":
                cargs.append(block + step[1])
            elif kind == "in":
                j = slot.get(step[1])
                cargs.append(_NULL if j is None else block + j)
            else:
                i, n, d = step[1]
                v = args[i] if i < nargs else kwargs.get(n, d)
                if kind == "scalar":
                    cargs.append(float(v) if step[2] else int(v))
                else:
                    v = [v] if isinstance(v, int) else list(v or ())
                    cargs += [_newp(_I64S, v or 1), len(v)]
        return cargs

    def _make_outputs(self, present, args, kwargs) -> list:
        mode = self.mode
        if mode == "broadcast":
            if not present:
                raise CKernelError(f"deeplink: C kernel {self.symbol} for aten::{self.op} uses outputs='broadcast' "
                                   f"but got no tensor arguments")
            shape = _broadcast_shape([t.shape for t in present])
            return [torch.empty(shape, dtype=_promoted_dtype(present), device=_device_of(present))]
        if mode == "into":
            i, n, d = _binding(self._mode_param)
            target = args[i] if i < len(args) else kwargs.get(n, d)
            shape = _broadcast_shape([t.shape for t in present])
            if target.shape != shape:
                if target.numel() != 0:
                    raise RuntimeError(f"deeplink: aten::{self.op}: output with shape {list(target.shape)} doesn't "
                                       f"match the broadcast shape {list(shape)} of the inputs")
                target.resize_(shape)  # out= given empty: sized here, as ATen does
            return [target]
        if mode == "like":
            i, n, d = _binding(self._mode_param)
            t = args[i] if i < len(args) else kwargs.get(n, d)
            return [torch.empty(t.shape, dtype=t.dtype, device=_device_of(present))]
        specs = self.outputs(*args, **kwargs)
        if isinstance(specs, tuple) and len(specs) == 2 and isinstance(specs[1], torch.dtype):
            specs = [specs]
        device = _device_of(present)
        outs = [torch.empty(tuple(s), dtype=d, device=device) for s, d in specs]
        if len(outs) != self.n_out:
            raise CKernelError(f"deeplink: outputs callable of C kernel {self.symbol} (aten::{self.op}) made "
                               f"{len(outs)} outputs, its C signature has {self.n_out}")
        return outs

    def _failure(self, status, outs, inputs) -> str:
        try:
            from . import current_backend
            backend = current_backend()
        except Exception:
            backend = "?"
        name = STATUS_NAMES.get(status, f"status {status}")
        text = self.library.last_error() or "(no message)"
        dtypes = [short_name(t.dtype) for t in inputs]
        shapes = [list(t.shape) for t in inputs]
        return (f"deeplink: C kernel {self.symbol} ({self.library.path}) for aten::{self.op} failed with {name} "
                f"on backend '{backend}': {text}. Inputs: dtypes {dtypes}, shapes {shapes}; outputs: shapes "
                f"{[list(o.shape) for o in outs]}. Fix the kernel or its argument checks; "
                f"DEEPLINK_BACKEND=cpu runs the same program on the CPU reference for comparison.")


    __call__ = _general


class _ElementwiseCCall(_CCall):
    __call__ = _CCall._elementwise


_NO_POSITION = 1 << 30  # keyword-only arguments are never read from *args


def _binding(p: Param) -> tuple:
    return (_NO_POSITION if p.kwarg_only else p.index, p.name, p.default)


def _device_of(tensors) -> torch.device:
    for t in tensors:
        if t.device.type != "cpu":
            return t.device
    return torch.device("deeplink")


# ---------------------------------------------------------------- the public constructor

def CKernel(library, symbol: str, op: str, args: str, *, outputs: str | Callable = "broadcast",
            dtypes: Optional[Iterable[torch.dtype]] = None, impl: str = "") -> PythonKernel:
    """A PythonKernel that calls C function `symbol` of `library` for aten overload `op`.

    library   path of a shared library (opened once, ABI-checked), a KernelLibrary, or a cffi lib
              (ABI-mode `ffi.dlopen` result, or an API-mode module with `.ffi` and `.lib`).
    args      the C parameters in order, named by the op's aten schema: "out, self, other, double alpha".
              `out` (or out0, out1, ...) are outputs; bare names are tensor arguments (`DLTensor*`,
              NULL when None); `double NAME`, `float NAME`, `int64_t NAME`, `int NAME`, `bool NAME`
              are scalars (bool passed as int); `int64_t[] NAME` an int list, passed as
              (const int64_t*, int64_t).
    outputs   "broadcast" (default): one output, shape = broadcast of the tensor arguments, dtype =
                  their promoted dtype; inputs are passed broadcast to that shape (stride 0) and CPU
                  scalars cast to that dtype, so an elementwise kernel sees one shape and one dtype.
              "like:NAME": one output with the shape and dtype of argument NAME.
              "into:NAME": write into argument NAME (out= and in-place overloads) and return it;
                  inputs are broadcast to it as above.
              a callable (same arguments as the op) -> (shape, dtype) or a list of them.
    dtypes    dtypes the kernel takes; calls with others are declined before C is called (cheaper
              than the C function returning DL_DTYPE_NOT_SUPPORTED, which also works).
    """
    from .opset.names import op_overload
    overload = op_overload(op)
    if overload is None:
        raise ValueError(f"deeplink.ckernel: no aten overload named {op!r} (write it as aten names it: "
                         f"'add.Tensor', 'mm', '_softmax')")
    if isinstance(outputs, str):
        mode, _, arg = outputs.partition(":")
        if mode not in ("broadcast", "like", "into") or (mode != "broadcast") != bool(arg):
            raise ValueError(f"deeplink.ckernel: outputs={outputs!r}: expected 'broadcast', 'like:NAME', "
                             f"'into:NAME' or a callable")
        if arg and arg not in {a.name for a in overload._schema.arguments}:
            raise ValueError(f"deeplink.ckernel: outputs={outputs!r}: {arg!r} is not an argument of aten::{op}")
        n_outputs = 1
    elif callable(outputs):
        n_outputs = None
    else:
        raise TypeError(f"deeplink.ckernel: outputs must be a string or a callable, not {type(outputs).__name__}")
    params = parse_args(args, overload._schema, n_outputs)
    lib = _as_library(library)
    fn = ffi.cast(_c_function_type(params), lib.address(symbol))
    call = _CCall(op, symbol, lib, params, outputs, fn, overload._schema)
    if call.elementwise:
        call.__class__ = _ElementwiseCCall  # same state, the shorter per-call path
    return PythonKernel(call, frozenset(dtypes) if dtypes is not None else None, impl or f"C:{symbol}")
