"""Helpers every op module uses: dtype rules, output allocation, in-place writes, meta shapes."""
from __future__ import annotations

import numpy as np
import torch

from deeplink.dtypes import aten_name

from .._vendor.execute import Scalar, run
from .._vendor.graph import NUMPY_TYPE

REDUCED = (torch.float16, torch.bfloat16)


def opmath(dtype: torch.dtype) -> torch.dtype:
    """The dtype ATen computes in: fp16/bf16 math happens in float32 (ATen's opmath_type), and we
    do the same inside the graph (Cast in, op, Cast out), which also covers ORT's CPU EP having
    no bf16 arithmetic kernels at all."""
    return torch.float32 if dtype in REDUCED else dtype


def arith_dtype(dtype: torch.dtype) -> torch.dtype:
    """Compute dtype for +,-,*: floats in opmath, integers and bool in int64 (ORT lacks many small
    integer kernels; wrap-around on the final Cast gives the same bits ATen produces)."""
    if dtype.is_floating_point:
        return opmath(dtype)
    return torch.int64


def default_float() -> torch.dtype:
    return torch.get_default_dtype()


def float_result(dtype: torch.dtype) -> torch.dtype:
    """Result dtype of a float-valued op (exp, sqrt, true division) on `dtype`."""
    return dtype if dtype.is_floating_point else default_float()


def home(*args) -> torch.device:
    """The device outputs go to: that of the first tensor that is not a CPU scalar (ATen allows
    0-d CPU tensors beside device tensors), else of the first tensor."""
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    for t in tensors:
        if not (t.device.type == "cpu" and t.dim() == 0):
            return t.device
    return tensors[0].device


def empty(shape, dtype, device) -> torch.Tensor:
    return torch.empty(tuple(shape), dtype=dtype, device=device)


def wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


def wrap_dims(dims, ndim: int) -> tuple:
    if dims is None:
        return tuple(range(ndim))
    if isinstance(dims, int):
        dims = [dims]
    return tuple(sorted({wrap_dim(d, ndim) for d in dims}))


def scalar_in(value, dtype: torch.dtype, through: torch.dtype | None = None) -> Scalar:
    """A Python number as a 0-d graph input in `dtype` (converted the way ATen converts a Scalar).
    `through`: the op's common dtype; an integer one wraps the number first (uint8 == -1 compares
    against 255, as in ATen)."""
    if isinstance(value, torch.Tensor):
        value = value.item()
    if through is not None and through != torch.bool and not through.is_floating_point \
            and not isinstance(value, float):
        value = int(np.asarray(int(value)).astype(np.int64).astype(NUMPY_TYPE[through]))
    if dtype == torch.bool:
        value = bool(value)
    elif dtype.is_floating_point:
        value = float(value)
    else:
        value = int(value)
    return Scalar(value, dtype)


def check_inplace(self: torch.Tensor, result_dtype: torch.dtype, shape) -> None:
    if not torch.can_cast(result_dtype, self.dtype):
        raise RuntimeError(f"result type {aten_name(result_dtype)} can't be cast to the desired output "
                           f"type {aten_name(self.dtype)}")
    if tuple(shape) != tuple(self.shape):
        raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast "
                           f"shape {list(shape)}")


def run_into(out: torch.Tensor, op: str, attrs: tuple, inputs: list, build) -> torch.Tensor:
    """Run a single-output graph writing `out`, which may be strided (in-place ops on views):
    then the graph writes a contiguous temporary and `out.copy_` scatters it (a dispatched copy)."""
    if out.is_contiguous():
        run(op, attrs, inputs, [out], build)
        return out
    tmp = empty(out.shape, out.dtype, out.device)
    run(op, attrs, inputs, [tmp], build)
    out.copy_(tmp)
    return out


def full_args(overload: str, args: tuple, kwargs: dict) -> list:
    """Every argument of the aten schema in order, defaults filled in (the dispatcher may omit
    arguments left at their default)."""
    name, _, ov = overload.partition(".")
    schema = getattr(getattr(torch.ops.aten, name), ov or "default")._schema
    values = []
    for i, arg in enumerate(schema.arguments):
        if i < len(args) and not arg.kwarg_only:
            values.append(args[i])
        elif arg.name in kwargs:
            values.append(kwargs[arg.name])
        elif arg.has_default_value():
            values.append(arg.default_value)
        else:
            raise TypeError(f"{overload}: missing argument {arg.name!r}")
    return values
