"""Deliberately wrong kernels, to prove the conformance suite can fail (tests only).

* add.Tensor       adds 1% noise (1 for integers): far above any tolerance
* sum.dim_IntList  reduces over the next dimension instead of the requested one
* abs              dereferences address 0: a segfault inside the kernel

They are written against host tensors; `planted_backend.py` wraps them as deeplink PythonKernels
(through host views of the backend's host memory), `reference_overrides()` as ATen CPU overrides
for the reference mode.
"""
from __future__ import annotations

import ctypes

import torch

PLANTED = {"add.Tensor": "mismatch", "sum.dim_IntList": "mismatch", "abs": "crash"}
# Op packets left out of the planted backend's kernel table (every overload): they run through
# the CPU fallback, so their cases are `fallback`.
MISSING = ("cumsum",)


def noisy_add(a, b, *, alpha=1):
    r = torch.ops.aten.add.Tensor(a, b, alpha=alpha)
    if r.is_floating_point() or r.is_complex():
        return r + 0.01 * r.abs().clamp_min(1.0)
    if r.dtype == torch.bool:
        return ~r
    return r + 1


def wrong_dim_sum(x, dim, keepdim=False, *, dtype=None):
    if x.dim() >= 2 and dim:
        dims = [d % x.dim() for d in dim]
        dim = [(d + 1) % x.dim() for d in dims]
        if sorted(dim) == sorted(dims):
            dim = [(d + 1) % x.dim() for d in dim]
    return torch.ops.aten.sum.dim_IntList(x, dim, keepdim, dtype=dtype)


def segfault(*args, **kwargs):
    ctypes.string_at(0)


def reference_overrides() -> dict:
    """For `conformance run --backend reference --plugin this_file.py`."""
    return {"add.Tensor": noisy_add, "sum.dim_IntList": wrong_dim_sum, "abs": segfault}
