"""The table of aten overloads this backend runs natively, filled by the `ops/*.py` modules.

Each entry is a deeplink PythonKernel: the function takes the aten schema's arguments, `dtypes`
lists the tensor dtypes it accepts (anything else is "not native" and takes the dispatcher's
fallback path), `impl` names the ONNX operators it lowers to (shown by `deeplink ops`).
"""
from __future__ import annotations

import inspect

import torch

from deeplink.kernels import PythonKernel

KERNELS: dict[str, PythonKernel] = {}

F32, F16, BF16, F64 = torch.float32, torch.float16, torch.bfloat16, torch.float64
FLOATS = frozenset({F32, F16, BF16, F64})
FLOATS_NO64 = frozenset({F32, F16, BF16})          # ORT's CPU EP lacks the double kernel
INTS = frozenset({torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8})
INDEX = frozenset({torch.int64, torch.int32})
BOOL = frozenset({torch.bool})
ALL = FLOATS | INTS | BOOL


# deeplink's router hands enum arguments over as the ints of their c10 enums
_SCALAR_TYPES = {0: torch.uint8, 1: torch.int8, 2: torch.int16, 3: torch.int32, 4: torch.int64,
                 5: torch.float16, 6: torch.float32, 7: torch.float64, 8: torch.complex32,
                 9: torch.complex64, 10: torch.complex128, 11: torch.bool, 15: torch.bfloat16}
_MEMORY_FORMATS = {0: torch.contiguous_format, 1: torch.preserve_format,
                   2: torch.channels_last, 3: torch.channels_last_3d}
_LAYOUTS = {0: torch.strided}
_ENUMS = (("ScalarType", _SCALAR_TYPES), ("MemoryFormat", _MEMORY_FORMATS), ("Layout", _LAYOUTS))


def _positional_capacity(fn) -> int:
    params = inspect.signature(fn).parameters.values()
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 1 << 30
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _adapt(name: str, fn):
    """Wrap `fn` for deeplink's calling convention: int-coded ScalarType/MemoryFormat/Layout
    arguments become torch objects, and positional schema arguments a kernel takes as keywords
    (add.Scalar's `alpha` is positional in the schema) are passed by name."""
    base, _, overload = name.partition(".")
    packet = getattr(torch.ops.aten, base, None)
    op = getattr(packet, overload or "default", None) if packet is not None else None
    if op is None:
        return fn
    arguments = op._schema.arguments
    enums = {}
    for i, arg in enumerate(arguments):
        for type_name, table in _ENUMS:
            if type_name in str(getattr(arg, "real_type", arg.type)):
                enums[arg.name] = table
    capacity = _positional_capacity(fn)
    n_positional = sum(not a.kwarg_only for a in arguments)
    if not enums and capacity >= n_positional:
        return fn

    def convert(v, table):
        return table.get(v, v) if isinstance(v, int) and not isinstance(v, bool) else v

    def call(*args, **kwargs):
        if enums:
            args = tuple(convert(a, enums[arguments[i].name]) if arguments[i].name in enums
                         else a for i, a in enumerate(args))
            kwargs = {k: convert(v, enums[k]) if k in enums else v for k, v in kwargs.items()}
        if len(args) > capacity:
            kwargs.update({arguments[i].name: a for i, a in enumerate(args) if i >= capacity})
            args = args[:capacity]
        return fn(*args, **kwargs)
    call.__wrapped__ = fn
    return call


def _exists(name: str) -> bool:
    base, _, overload = name.partition(".")
    try:
        torch._C._dispatch_find_schema_or_throw("aten::" + base, overload)
        return True
    except RuntimeError:
        return False


def _composite_implicit(name: str) -> bool:
    return torch._C._dispatch_has_kernel_for_dispatch_key("aten::" + name,
                                                          "CompositeImplicitAutograd")


def kernel(*names: str, dtypes=ALL, impl: str = ""):
    """Register `fn` as the kernel of each aten overload in `names` ("mm", "add.Tensor"; a
    ".default" suffix is dropped, as deeplink names default overloads by the op alone)."""
    def wrap(fn):
        for name in names:
            if name.endswith(".default"):
                name = name[: -len(".default")]
            if not _exists(name) or _composite_implicit(name):
                # an overload this torch lacks, or one that always decomposes above the
                # dispatcher (CompositeImplicitAutograd) and so never reaches a backend
                continue
            if name in KERNELS:
                raise ValueError(f"onnxruntime backend: {name} registered twice")
            KERNELS[name] = PythonKernel(_adapt(name, fn), frozenset(dtypes), impl)
        return fn
    return wrap


def add(name: str, fn, dtypes=ALL, impl: str = "") -> None:
    kernel(name, dtypes=dtypes, impl=impl)(fn)
