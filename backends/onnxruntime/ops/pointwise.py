"""The shared driver of elementwise kernels: broadcasting, ATen type promotion, compute dtype,
Python scalars as graph inputs, in-place writes.

A kernel calls `pointwise(...)` with its arguments (tensors and Python numbers, in order) and a
`lower(g, *values)` that builds the nodes on values already cast to the compute dtype.
"""
from __future__ import annotations

import torch
from torch._prims_common import ELEMENTWISE_TYPE_PROMOTION_KIND, elementwise_dtypes

from .common import check_inplace, empty, home, run_into, scalar_in


def result_type(*args, int_to_float: bool = False) -> torch.dtype:
    """ATen's type promotion over tensors and Python numbers (dimensioned tensors outrank 0-d
    tensors, which outrank numbers, within each category bool < int < float)."""
    items = [_as_number(a) for a in args if a is not None]
    if len(items) <= 2 and isinstance(items[0], torch.Tensor):
        # the common case: ATen's own binary rule (a C++ call, far cheaper than the general one)
        dtype = torch.result_type(items[0], items[1]) if len(items) == 2 else items[0].dtype
        if int_to_float and not (dtype.is_floating_point or dtype.is_complex):
            dtype = torch.get_default_dtype()
        return dtype
    kind = (ELEMENTWISE_TYPE_PROMOTION_KIND.INT_TO_FLOAT if int_to_float
            else ELEMENTWISE_TYPE_PROMOTION_KIND.DEFAULT)
    return elementwise_dtypes(*items, type_promotion_kind=kind)[1]


_NUMBER_DTYPES = (torch.float64, torch.int64, torch.bool, torch.complex128)


def _as_number(a):
    """deeplink's router passes Python numbers of Tensor arguments (the 2.5 in `x + 2.5`) as 0-d
    CPU tensors, without ATen's wrapped-number flag; they promote as numbers, not as 0-d tensors
    (int tensor + 2.5 is float32). A genuine 0-d CPU float64 tensor is taken for a number too."""
    if isinstance(a, torch.Tensor) and a.dim() == 0 and a.device.type == "cpu" \
            and a.dtype in _NUMBER_DTYPES:
        return a.item()
    return a


def shape_of(*args) -> tuple:
    """The broadcast shape of the tensor arguments (numpy rules), with ATen's error message."""
    shapes = [tuple(a.shape) for a in args if isinstance(a, torch.Tensor)]
    out = list(shapes[0])
    for shape in shapes[1:]:
        if len(shape) > len(out):
            out = [1] * (len(shape) - len(out)) + out
        offset = len(out) - len(shape)
        for i, s in enumerate(shape):
            o = out[offset + i]
            if o == s or s == 1:
                continue
            if o == 1:
                out[offset + i] = s
            else:
                raise RuntimeError(f"The size of tensor a ({o}) must match the size of tensor b "
                                   f"({s}) at non-singleton dimension {offset + i}")
    return tuple(out)


def pointwise(name: str, attrs: tuple, args: list, lower, *, out_dtype: torch.dtype,
              compute: torch.dtype | list, out: torch.Tensor | None = None,
              result: torch.dtype | None = None,
              common: torch.dtype | None = None) -> torch.Tensor:
    """Elementwise graph over `args` (tensors / numbers / None). `compute` is the dtype every
    argument is cast to before `lower` (or one dtype per argument). With `out` (in-place), the
    result is checked the way ATen checks it and written into `out`. Python numbers are converted
    through `common` (default: the result dtype), the dtype ATen converts a Scalar to."""
    computes = compute if isinstance(compute, list) else [compute] * len(args)
    shape = shape_of(*args)
    if out is None:
        out = empty(shape, out_dtype, home(*[a for a in args if isinstance(a, torch.Tensor)]))
    else:
        check_inplace(out, result if result is not None else out_dtype, shape)
    through = common if common is not None else (result if result is not None else out_dtype)
    inputs = [a if a is None or isinstance(a, torch.Tensor) else scalar_in(a, c, through)
              for a, c in zip(args, computes)]

    def build(g, *values):
        cast = [v if v is None else g.cast(v, c) for v, c in zip(values, computes)]
        return lower(g, *cast)
    return run_into(out, name, attrs, inputs, build)
