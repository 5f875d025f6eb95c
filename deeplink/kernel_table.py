"""A backend's kernel table, built one kernel at a time: the one registration API that every
backend's Python kernels use (backends/*/kernels.py, plugins).

    table = KernelTable("mybackend")

    @table.kernel("add.Tensor", "add.Scalar", dtypes=FLOATS, impl="vendor:Add")
    def add(self, other, alpha=1): ...

    table.add_out_variants(write_out)   # add.out & co. from the functional kernels
    return table                        # what Backend.kernels() returns (a Mapping)

What it does for every registration, so no backend writes it again:
* names: any spelling (`add.Tensor`, `aten::mm`, `mm.default`) becomes the overload name
  (deeplink/opset/names.py); registering one name twice is an error naming the backend and op;
* overloads this torch lacks, and CompositeImplicitAutograd ones (which decompose above the
  dispatcher and never reach a backend), are skipped and listed in `skipped`;
* calling convention: arguments the schema passes positionally but the function takes as
  keywords (add.Scalar's `alpha`) are passed by name;
* out= synthesis: `add_out_variants(write_out)` gives every functional kernel without an out=
  kernel one, which runs the functional kernel and hands the result to the backend's
  `write_out(out, result, op_name)` (cast check and resize done here, the copy is the backend's).
"""
from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Callable, Iterable

import torch

from .dtypes import aten_name
from .kernels import Passthrough, PythonKernel
from .opset.names import exists, has_kernel, normalise, op_overload

#: Arguments a factory's functional form has and its out= form does not.
_FACTORY_ARGS = ("dtype", "layout", "device", "pin_memory")


class KernelTable(Mapping):
    def __init__(self, backend: str):
        self.backend = backend
        self._kernels: dict[str, Passthrough | PythonKernel] = {}
        #: {name: why it was not registered}
        self.skipped: dict[str, str] = {}

    # -- registration --------------------------------------------------------------------------
    def add(self, name: str, kernel: Callable | PythonKernel | Passthrough, dtypes: Iterable | None = None,
            impl: str = "") -> bool:
        """Register `kernel` (a function, a PythonKernel or a Passthrough) for overload `name`.
        Returns False when the overload is skipped (see the module doc)."""
        name = normalise(name)
        if not exists(name):
            self.skipped[name] = "this torch has no such overload"
            return False
        if has_kernel(name, "CompositeImplicitAutograd"):
            self.skipped[name] = "CompositeImplicitAutograd: decomposes above the dispatcher, never reaches a backend"
            return False
        if name in self._kernels:
            raise ValueError(f"backend {self.backend!r}: a kernel for aten::{name} is registered twice")
        if not isinstance(kernel, (PythonKernel, Passthrough)):
            kernel = PythonKernel(kernel, frozenset(dtypes) if dtypes is not None else None, impl)
        if isinstance(kernel, PythonKernel):
            kernel = PythonKernel(_keyword_adapter(name, kernel.fn), kernel.dtypes, kernel.impl)
        self._kernels[name] = kernel
        return True

    def kernel(self, *names: str, dtypes: Iterable | None = None, impl: str = ""):
        """Decorator: register the function for each overload in `names`."""
        def wrap(fn):
            for name in names:
                self.add(name, fn, dtypes, impl)
            return fn
        return wrap

    def replace(self, name: str, kernel: PythonKernel) -> None:
        """Swap an existing entry for a wrapped one (e.g. extending its dtypes)."""
        if name not in self._kernels:
            raise KeyError(f"backend {self.backend!r}: no kernel for aten::{name} to replace")
        self._kernels[name] = kernel

    def add_out_variants(self, write_out: Callable) -> int:
        """Give every functional Python kernel its out= overload where the table has none.
        `write_out(out, result, op_name)` copies `result` into `out` (already resized, dtype
        checked); returns `out`. Returns how many were added."""
        added = 0
        for name, k in list(self._kernels.items()):
            if not isinstance(k, PythonKernel) or _is_mutating(name):
                continue
            found = _out_overload(name)
            if found is None or found[0] in self._kernels or has_kernel(found[0], "CompositeImplicitAutograd"):
                continue
            out_name, factory = found
            self._kernels[out_name] = PythonKernel(_out_kernel(k.fn, out_name, factory, write_out), k.dtypes,
                                                   f"{k.impl} (out=)" if k.impl else "out=")
            added += 1
        return added

    # -- Mapping -------------------------------------------------------------------------------
    def __getitem__(self, name: str):
        return self._kernels[name]

    def __iter__(self):
        return iter(self._kernels)

    def __len__(self) -> int:
        return len(self._kernels)


def _is_mutating(name: str) -> bool:
    op = op_overload(name)
    return op is not None and op._schema.is_mutable


def _positional_capacity(fn) -> int:
    params = inspect.signature(fn).parameters.values()
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 1 << 30
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _keyword_adapter(name: str, fn):
    """`fn` itself, or a wrapper passing by name the positional schema arguments `fn` takes as
    keyword-only (the router passes every positional schema argument positionally)."""
    arguments = op_overload(name)._schema.arguments
    try:
        capacity = _positional_capacity(fn)
    except (TypeError, ValueError):      # builtins and C callables: nothing to adapt
        return fn
    n_positional = sum(not a.kwarg_only for a in arguments)
    if capacity >= n_positional:
        return fn

    def call(*args, **kwargs):
        if len(args) > capacity:
            kwargs.update({arguments[i].name: a for i, a in enumerate(args) if i >= capacity})
            args = args[:capacity]
        return fn(*args, **kwargs)
    call.__wrapped__ = fn
    return call


def _out_overload(functional: str):
    """(out= overload name, is_factory) for a functional overload: the same arguments plus one
    `out` (factories: without their dtype/layout/device/pin_memory), or None."""
    op = op_overload(functional)
    base, _, overload = functional.partition(".")
    packet = getattr(torch.ops.aten, base)
    fn_args = [(a.name, str(a.type)) for a in op._schema.arguments]
    plain = [a for a in fn_args if a[0] not in _FACTORY_ARGS]
    preferred = f"{overload}_out" if overload else "out"
    others = sorted(o for o in packet.overloads() if "out" in o and o != preferred)
    for candidate in [preferred] + others:      # sum.dim_IntList's is sum.IntList_out
        if candidate not in packet.overloads():
            continue
        schema = getattr(packet, candidate)._schema
        outs = [a for a in schema.arguments if a.is_out]
        names = [(a.name, str(a.type)) for a in schema.arguments if not a.is_out]
        if len(outs) != 1:
            continue
        if names == fn_args:
            return f"{base}.{candidate}", False
        if names == plain and plain != fn_args:
            return f"{base}.{candidate}", True
    return None


def _out_kernel(fn, name: str, factory: bool, write_out):
    def out_kernel(*args, out, **kwargs):
        if factory:             # arange.start_out & co: the result takes out's dtype and device
            kwargs.update(dtype=out.dtype, device=out.device)
        result = fn(*args, **kwargs)
        if result is NotImplemented:
            return NotImplemented
        if not torch.can_cast(result.dtype, out.dtype):
            raise RuntimeError(f"{name}: result type {aten_name(result.dtype)} can't be cast to the desired "
                               f"output type {aten_name(out.dtype)}")
        if tuple(out.shape) != tuple(result.shape):
            out.resize_(result.shape)
        return write_out(out, result, name)
    return out_kernel
