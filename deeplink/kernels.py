"""How a backend implements an operator of the opset.

A backend's `kernels()` maps aten overload names ("add.Tensor", "mm", "_softmax") to one of:

* `Passthrough(device)`: re-dispatch to ATen's own kernel for `device` ("cpu" or "cuda") on
  zero-copy views of the same memory. Only for backends whose memory that ATen device can address
  directly (the CPU reference backend: host memory; the CUDA backend: CUDA memory). Runs entirely
  in C++, so it adds little latency.
* `PythonKernel(fn)`: `fn` is called with the op's arguments (deeplink tensors, keyword-only
  arguments as keywords) below autograd, and returns what the aten schema returns. Tensors it
  allocates with `device="deeplink"` come from the backend's runtime.
* `deeplink.ckernel.CKernel(...)`: a C function over DLPack `DLTensor*`, loaded with cffi; it is a
  PythonKernel underneath.

`dtypes`, when given, lists the dtypes the kernel accepts; a call with any other floating or
integer tensor dtype is treated as "not native" for that call (CPU fallback or error, by policy).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Callable, FrozenSet, Optional

import torch


@dataclass(frozen=True)
class Passthrough:
    device: str = "cpu"


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


class AtenKernels(Mapping):
    """Every aten overload that ATen implements for `device` ("cpu"/"cuda"), as Passthrough.

    The CPU reference and CUDA backends use this: their kernel set *is* ATen's, so it is read from
    the dispatcher rather than listed. Ops that only have composite kernels are not in it: those
    never reach a backend (they run as compositions of ops that do)."""

    def __init__(self, device: str):
        self._device = device
        self._key = {"cpu": "CPU", "cuda": "CUDA"}[device]
        self._kernel = Passthrough(device)
        self._names = None

    def __getitem__(self, name: str):
        if name not in self:
            raise KeyError(name)
        return self._kernel

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and torch._C._dispatch_has_kernel_for_dispatch_key(_qualified(name), self._key)

    def _all(self):
        if self._names is None:
            self._names = sorted(n[len("aten::"):] for n in torch._C._dispatch_get_all_op_names()
                                 if n.startswith("aten::") and
                                 torch._C._dispatch_has_kernel_for_dispatch_key(n, self._key))
        return self._names

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def _qualified(name: str) -> str:
    return name if "::" in name else "aten::" + name
