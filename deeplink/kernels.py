"""How a backend implements an operator of the opset.

A backend's `kernels()` maps aten overload names ("add.Tensor", "mm", "_softmax") to one of:

* `Passthrough(device, upcast=())`: re-dispatch to ATen's own kernel for `device` ("cpu" or "cuda")
  on zero-copy views of the same memory (`upcast`: dtypes the kernel lacks, computed wider). Only
  for backends whose memory that ATen device can address directly (the CPU reference backend:
  host memory; the CUDA backend: CUDA memory). Runs entirely in C++, so it adds little latency.
  backends/_aten/kernels.py lists all of an ATen device's ops.
* `PythonKernel(fn)`: `fn` is called with the op's arguments (deeplink tensors, keyword-only
  arguments as keywords) below autograd, and returns what the aten schema returns. Tensors it
  allocates with `device="deeplink"` come from the backend's runtime.
* `deeplink.ckernel.CKernel(...)`: a C function over DLPack `DLTensor*`, loaded with cffi; it is a
  PythonKernel underneath.

`dtypes`, when given, lists the dtypes the kernel accepts; a call with any other floating or
integer tensor dtype is treated as "not native" for that call (CPU fallback or error, by policy).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, FrozenSet, Optional

import torch


@dataclass(frozen=True)
class Passthrough:
    device: str = "cpu"
    #: (dtype, wider dtype) pairs: calls in a dtype the ATen kernel lacks (but CUDA has) run in the
    #: wider dtype, results cast back to what CUDA returns (csrc/shim/upcast.cpp).
    upcast: tuple = ()


@dataclass(frozen=True)
class PythonKernel:
    fn: Callable
    dtypes: Optional[FrozenSet[torch.dtype]] = None
    #: Free text shown by `deeplink ops` (e.g. "onnx:Add", "aclnnAdd").
    impl: str = ""

    def accepts(self, dtypes) -> bool:
        return self.dtypes is None or all(d in self.dtypes for d in dtypes)


Kernel = Passthrough | PythonKernel


def python_kernel(dtypes=None, impl: str = ""):
    """Decorator form: `@python_kernel(dtypes={torch.float32})`."""
    def wrap(fn):
        return PythonKernel(fn, frozenset(dtypes) if dtypes is not None else None, impl)
    return wrap
