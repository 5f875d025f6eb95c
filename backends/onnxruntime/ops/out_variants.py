"""`out=` overloads (add.out, sum.IntList_out, arange.start_out, ...) for every functional kernel
of the backend: deeplink's dispatcher does not decompose out= forms, and composite ops call
some of them (arange.start_out under linspace/logspace helpers, sum.IntList_out, ...).

An out= kernel runs the functional kernel, then writes the result into `out` the way ATen's
out= contract says: `out` is resized when its shape differs (when it is not empty, ATen warns;
we resize silently), the result is cast to out's dtype when ATen's can_cast allows it and an
error is raised otherwise. The write is this backend's copy graph (ops/copy.py).
"""
from __future__ import annotations

import torch

from deeplink.kernels import PythonKernel

from .common import _name
from .copy import convert
from .registry import KERNELS, _composite_implicit


_FACTORY_ARGS = ("dtype", "layout", "device", "pin_memory")


def _out_overload(functional: str):
    """(out= overload name, is_factory) for a functional overload: the same arguments plus a
    single `out` (factories: without their dtype/layout/device/pin_memory), or None."""
    base, _, overload = functional.partition(".")
    packet = getattr(torch.ops.aten, base, None)
    if packet is None:
        return None
    fn_args = [(a.name, str(a.type)) for a in
               getattr(packet, overload or "default")._schema.arguments]
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


def _write_out(out: torch.Tensor, result: torch.Tensor, op: str) -> torch.Tensor:
    if not torch.can_cast(result.dtype, out.dtype):
        raise RuntimeError(f"{op}: result type {_name(result.dtype)} can't be cast to the desired "
                           f"output type {_name(out.dtype)}")
    if tuple(out.shape) != tuple(result.shape):
        out.resize_(result.shape)
    return convert(out, result)


def _make(functional_kernel: PythonKernel, name: str, factory: bool):
    fn = functional_kernel.fn

    def out_kernel(*args, out, **kwargs):
        if factory:             # arange.start_out & co: the result takes out's dtype and device
            kwargs.update(dtype=out.dtype, device=out.device)
        result = fn(*args, **kwargs)
        if result is NotImplemented:
            return NotImplemented
        return _write_out(out, result, name)
    return out_kernel


def register_out_variants() -> int:
    added = 0
    for name, k in list(KERNELS.items()):
        if name.endswith("_") or "_." in name:          # in-place forms have no out=
            continue
        found = _out_overload(name)
        if found is None or found[0] in KERNELS or _composite_implicit(found[0]):
            continue
        out_name, factory = found
        KERNELS[out_name] = PythonKernel(_make(k, out_name, factory), k.dtypes,
                                         k.impl + " (out=)")
        added += 1
    return added


register_out_variants()
