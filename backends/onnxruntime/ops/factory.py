"""Tensors made from numbers: fill_, zero_, zeros/ones/full (+_like, new_*), scalar_tensor,
arange, linspace, eye.

The fill value is a graph input (one graph per dtype, not per value) converted the way ATen
converts a Scalar; arange values are computed as start + i*step in float64 (ATen's accumulate
type) rather than by ONNX Range's running sum, whose error grows along the tensor.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .._vendor.execute import Scalar
from .._vendor.graph import NUMPY_TYPE
from .common import empty, run_into
from .registry import ALL, kernel


def _fill_compute(dtype):
    """Scalar inputs are numpy-typed: bf16 values travel as float32 and are cast in the graph."""
    return torch.float32 if dtype == torch.bfloat16 else dtype


def _scalar_value(value, dtype):
    if isinstance(value, torch.Tensor):
        value = value.item()
    if dtype == torch.bool:
        return bool(value)
    if dtype.is_floating_point:
        return float(value)
    # integers wrap into the dtype's range, as ATen's Scalar conversion does (uint8: -9 -> 247)
    return int(np.asarray(int(value)).astype(np.int64).astype(NUMPY_TYPE[dtype]))


def fill_scalar_(self, value):
    if self.numel() == 0:
        return self
    cdt = _fill_compute(self.dtype)
    shape = np.asarray(self.shape, dtype=np.int64)
    return run_into(self, "fill", (self.dim(),), [Scalar(_scalar_value(value, self.dtype), cdt),
                                                   shape],
                    lambda g, v, s: g.cast(g.op("Expand", v, s), self.dtype))


@kernel("fill_.Scalar", dtypes=ALL, impl="onnx:Expand")
def fill_scalar_kernel(self, value):
    return fill_scalar_(self, value)


@kernel("fill_.Tensor", dtypes=ALL, impl="onnx:Expand")
def fill_tensor_(self, value):
    if value.dim() != 0:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value.dim()} dimensions.")
    return fill_scalar_(self, value.item())


@kernel("zero_.default", dtypes=ALL, impl="onnx:Expand")
def zero_(self):
    return fill_scalar_(self, 0)


@kernel("fill.Scalar", dtypes=ALL, impl="onnx:Expand")
def fill_scalar(self, value):
    return fill_scalar_(empty(self.shape, self.dtype, self.device), value)


@kernel("fill.Tensor", dtypes=ALL, impl="onnx:Expand")
def fill_tensor(self, value):
    return fill_tensor_(empty(self.shape, self.dtype, self.device), value)


def _infer(value, dtype):
    if dtype is not None:
        return dtype
    if isinstance(value, bool):
        return torch.bool
    if isinstance(value, int):
        return torch.int64
    return torch.get_default_dtype()


def _device(device):
    return torch.device(device) if device is not None else torch.device("cpu")


def _factory(value_of, infer=True):
    def fn(size, *args, dtype=None, layout=None, device=None, pin_memory=None):
        value = value_of(args)
        dt = _infer(value, dtype) if infer else (dtype or torch.get_default_dtype())
        return fill_scalar_(torch.empty(tuple(size), dtype=dt, device=_device(device)), value)
    return fn


kernel("zeros.default", dtypes=ALL, impl="onnx:Expand")(_factory(lambda a: 0, infer=False))
kernel("ones.default", dtypes=ALL, impl="onnx:Expand")(_factory(lambda a: 1, infer=False))
kernel("full.default", dtypes=ALL, impl="onnx:Expand")(_factory(lambda a: a[0]))


def _like(value_of):
    def fn(self, *args, dtype=None, layout=None, device=None, pin_memory=None,
           memory_format=None):
        value = value_of(args)
        out = torch.empty_like(self, dtype=dtype, device=device, memory_format=memory_format
                               or torch.preserve_format)
        return fill_scalar_(out, value)
    return fn


kernel("zeros_like.default", dtypes=ALL, impl="onnx:Expand")(_like(lambda a: 0))
kernel("ones_like.default", dtypes=ALL, impl="onnx:Expand")(_like(lambda a: 1))
kernel("full_like.default", dtypes=ALL, impl="onnx:Expand")(_like(lambda a: a[0]))


def _new(value_of):
    def fn(self, size, *args, dtype=None, layout=None, device=None, pin_memory=None):
        value = value_of(args)
        out = torch.empty(tuple(size), dtype=dtype or self.dtype, device=device or self.device)
        return fill_scalar_(out, value)
    return fn


kernel("new_zeros.default", dtypes=ALL, impl="onnx:Expand")(_new(lambda a: 0))
kernel("new_ones.default", dtypes=ALL, impl="onnx:Expand")(_new(lambda a: 1))
kernel("new_full.default", dtypes=ALL, impl="onnx:Expand")(_new(lambda a: a[0]))


@kernel("scalar_tensor.default", dtypes=ALL, impl="onnx:Expand")
def scalar_tensor(s, *, dtype=None, layout=None, device=None, pin_memory=None):
    out = torch.empty((), dtype=dtype or torch.get_default_dtype(), device=_device(device))
    return fill_scalar_(out, s)


# -- ranges -----------------------------------------------------------------------------------
def _arange(start, end, step, dtype, device):
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if isinstance(start, torch.Tensor):
        start = start.item()
    if isinstance(end, torch.Tensor):
        end = end.item()
    if dtype is None:
        dtype = torch.int64 if all(isinstance(v, int) and not isinstance(v, bool)
                                   for v in (start, end, step)) else torch.get_default_dtype()
    # ATen sizes int64 ranges from the bounds converted to int64 first, other dtypes from doubles;
    # integer values are then start + i*step in int64 (the integer accumulate type)
    n = int(math.ceil((float(end) - float(start)) / float(step)))
    if not dtype.is_floating_point:
        start, end, step = int(start), int(end), int(step)
        if step == 0:
            raise RuntimeError("step must be nonzero")
        if dtype == torch.int64:
            n = int(math.ceil((end - start) / step))
    if (step > 0 and start > end) or (step < 0 and start < end):
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    out = torch.empty((max(n, 0),), dtype=dtype, device=_device(device))
    if n <= 0:
        return out
    acc = torch.float64 if dtype.is_floating_point else torch.int64

    def build(g, s, st, count):
        zero, one = g.const(0, torch.int64), g.const(1, torch.int64)
        i = g.cast(g.op("Range", zero, g.op("Reshape", count, g.ints([])), one), acc)
        return g.cast(g.op("Add", s, g.op("Mul", i, st)), dtype)
    return run_into(out, "arange", (), [Scalar(start, acc), Scalar(step, acc),
                                        np.asarray([n], dtype=np.int64)], build)


@kernel("arange.default", dtypes=ALL, impl="onnx:Range")
def arange(end, *, dtype=None, layout=None, device=None, pin_memory=None):
    return _arange(0, end, 1, dtype, device)


@kernel("arange.start", dtypes=ALL, impl="onnx:Range")
def arange_start(start, end, *, dtype=None, layout=None, device=None, pin_memory=None):
    return _arange(start, end, 1, dtype, device)


@kernel("arange.start_step", dtypes=ALL, impl="onnx:Range")
def arange_start_step(start, end, step=1, *, dtype=None, layout=None, device=None,
                      pin_memory=None):
    return _arange(start, end, step, dtype, device)


@kernel("linspace.default", dtypes=ALL, impl="onnx:Range")
def linspace(start, end, steps, *, dtype=None, layout=None, device=None, pin_memory=None):
    dtype = dtype or torch.get_default_dtype()
    out = torch.empty((steps,), dtype=dtype, device=_device(device))
    if steps <= 0:
        return out
    if isinstance(start, torch.Tensor):
        start = start.item()
    if isinstance(end, torch.Tensor):
        end = end.item()
    step = (end - start) / (steps - 1) if steps > 1 else 0.0
    acc = torch.float64 if dtype.is_floating_point else torch.float64
    half = max(steps // 2, 1)       # ATen: steps == 1 gives [start]

    def build(g, s, e, st, count):
        # ATen: the first half counts up from start, the second half down from end
        zero, one = g.const(0, torch.int64), g.const(1, torch.int64)
        i = g.op("Range", zero, g.op("Reshape", count, g.ints([])), one)
        fi = g.cast(i, acc)
        up = g.op("Add", s, g.op("Mul", fi, st))
        down = g.op("Sub", e, g.op("Mul", g.cast(g.op("Sub", g.op("Sub", g.op(
            "Reshape", count, g.ints([])), one), i), acc), st))
        v = g.op("Where", g.op("Less", i, g.const(half, torch.int64)), up, down)
        return g.cast(v, dtype)
    return run_into(out, "linspace", (half, dtype.is_floating_point),
                    [Scalar(float(start), acc), Scalar(float(end), acc), Scalar(step, acc),
                     np.asarray([steps], dtype=np.int64)], build)


@kernel("eye.default", dtypes=ALL, impl="onnx:EyeLike")
def eye(n, *, dtype=None, layout=None, device=None, pin_memory=None):
    return eye_m(n, n, dtype=dtype, device=device)


@kernel("eye.m", dtypes=ALL, impl="onnx:EyeLike")
def eye_m(n, m, *, dtype=None, layout=None, device=None, pin_memory=None):
    dtype = dtype or torch.get_default_dtype()
    out = torch.empty((n, m), dtype=dtype, device=_device(device))
    if out.numel() == 0:
        return out
    # EyeLike's CPU kernel: float, double, int32, int64 only
    cdt = dtype if dtype in (torch.float32, torch.float64, torch.int32, torch.int64) else \
        torch.float32
    shape = np.asarray([n, m], dtype=np.int64)
    return run_into(out, "eye", (), [shape], lambda g, s: g.cast(g.op(
        "EyeLike", g.fill(s, 0, cdt)), dtype))
