"""Softmax family: _softmax, _log_softmax, their backward ops, _safe_softmax.

fp16/bf16 inputs are computed in float32 (ATen's accumulate type); `half_to_float` returns the
float32 result instead of casting back. Backward formulas are ATen's:
  softmax:     grad_in = y * (g - sum(g * y, dim))
  log_softmax: grad_in = g - exp(y) * sum(g, dim)
"""
from __future__ import annotations

import torch

from .._vendor.execute import run
from .common import empty, opmath, wrap_dim
from .registry import FLOATS, kernel


def _axis(self, dim):
    return wrap_dim(dim, self.dim()) if self.dim() else 0


def _forward(name, onnx_op):
    def fn(self, dim, half_to_float):
        if half_to_float and self.dtype != torch.float16:
            raise RuntimeError("conversion is supported for Half type only")
        out_dtype = torch.float32 if half_to_float else self.dtype
        axis = _axis(self, dim)
        out = empty(self.shape, out_dtype, self.device)
        cdt = opmath(self.dtype)

        def build(g, x):
            x = g.cast(x, cdt)
            if self.dim() == 0:
                x = g.op("Reshape", x, g.ints([1]))
                return g.op("Reshape", g.op(onnx_op, x, axis=0), g.ints([]))
            return g.op(onnx_op, x, axis=axis)
        run(name, (axis, self.dim() == 0), [self], [out], build)
        return out
    return fn


kernel("_softmax.default", dtypes=FLOATS, impl="onnx:Softmax")(_forward("softmax", "Softmax"))
kernel("_log_softmax.default", dtypes=FLOATS, impl="onnx:LogSoftmax")(
    _forward("log_softmax", "LogSoftmax"))


def _sum_keep(g, x, axis, rank):
    if rank == 0:
        return x
    return g.op("ReduceSum", x, g.ints([axis]), keepdims=1)


@kernel("_softmax_backward_data.default", dtypes=FLOATS, impl="onnx:Mul,ReduceSum,Sub")
def softmax_backward(grad_output, output, dim, input_dtype):
    axis = _axis(output, dim)
    out = empty(output.shape, input_dtype, output.device)
    cdt = opmath(output.dtype)
    rank = output.dim()

    def build(g, gy, y):
        gy, y = g.cast(gy, cdt), g.cast(y, cdt)
        gyy = g.op("Mul", gy, y)
        return g.op("Sub", gyy, g.op("Mul", y, _sum_keep(g, gyy, axis, rank)))
    run("softmax_backward", (axis,), [grad_output, output], [out], build)
    return out


@kernel("_log_softmax_backward_data.default", dtypes=FLOATS, impl="onnx:Exp,ReduceSum,Sub")
def log_softmax_backward(grad_output, output, dim, input_dtype):
    axis = _axis(output, dim)
    out = empty(output.shape, input_dtype, output.device)
    cdt = opmath(output.dtype)
    rank = output.dim()

    def build(g, gy, y):
        gy, y = g.cast(gy, cdt), g.cast(y, cdt)
        return g.op("Sub", gy, g.op("Mul", g.op("Exp", y), _sum_keep(g, gy, axis, rank)))
    run("log_softmax_backward", (axis,), [grad_output, output], [out], build)
    return out


@kernel("_safe_softmax.default", dtypes=FLOATS, impl="onnx:Softmax,Where")
def safe_softmax(self, dim, dtype=None):
    """Softmax whose fully masked rows (all -inf) give 0 instead of NaN (SDPA's math path)."""
    out_dtype = dtype or self.dtype
    axis = _axis(self, dim)
    cdt = opmath(out_dtype) if out_dtype.is_floating_point else opmath(self.dtype)
    out = empty(self.shape, out_dtype, self.device)

    def build(g, x):
        x = g.cast(x, cdt)
        if self.dim() == 0:
            x = g.op("Reshape", x, g.ints([1]))
        sm = g.op("Softmax", x, axis=0 if self.dim() == 0 else axis)
        masked = g.cast(g.op("Equal", x, g.const(float("-inf"), cdt)), torch.int32)
        all_masked = g.cast(g.op("ReduceMin", masked, g.ints([0 if self.dim() == 0 else axis]),
                                 keepdims=1), torch.bool)
        r = g.op("Where", all_masked, g.const(0.0, cdt), sm)
        return g.op("Reshape", r, g.ints([])) if self.dim() == 0 else r
    run("safe_softmax", (axis, self.dim() == 0), [self], [out], build)
    return out

