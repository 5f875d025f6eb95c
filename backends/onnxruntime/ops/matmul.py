"""Matrix products: mm, bmm, addmm, baddbmm, addmv, mv, dot, addbmm.

Transposed operands (the `t()` in every nn.Linear) are bound as their dense storage and a
Transpose node restores the view (see execute.py), so no copy is dispatched for them.
fp16/bf16 products are computed as float32 MatMul and rounded once, like ATen's CPU kernels that
accumulate reduced precision in float. `beta == 0` ignores `self` entirely (NaN/inf in it do not
propagate), as ATen documents.
"""
from __future__ import annotations

import torch

from .._vendor.execute import Scalar, run
from .common import empty, opmath, run_into
from .registry import FLOATS, INTS, kernel

NUMERIC = FLOATS | INTS


def _compute(dtype):
    return opmath(dtype) if dtype.is_floating_point else torch.int64


def _check_same(name, *tensors):
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        a, b = tensors[0].dtype, next(t.dtype for t in tensors if t.dtype != tensors[0].dtype)
        raise RuntimeError(f"{name}: expected m1 and m2 to have the same dtype, but got: {a} != {b}")


def _matmul(name, a, b, out_shape):
    _check_same(name, a, b)
    cdt = _compute(a.dtype)
    out = empty(out_shape, a.dtype, a.device)
    run(name, (), [a, b], [out], lambda g, x, y: g.op("MatMul", g.cast(x, cdt), g.cast(y, cdt)))
    return out


@kernel("mm.default", dtypes=NUMERIC, impl="onnx:MatMul")
def mm(self, mat2):
    if self.dim() != 2 or mat2.dim() != 2:
        raise RuntimeError("mm: both arguments must be 2D matrices")
    if self.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({self.shape[0]}x"
                           f"{self.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})")
    return _matmul("mm", self, mat2, (self.shape[0], mat2.shape[1]))


@kernel("bmm.default", dtypes=NUMERIC, impl="onnx:MatMul")
def bmm(self, mat2):
    if self.dim() != 3 or mat2.dim() != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if self.shape[0] != mat2.shape[0] or self.shape[2] != mat2.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{self.shape[0]}, {self.shape[2]}] but got: [{mat2.shape[0]}, "
                           f"{mat2.shape[1]}].")
    return _matmul("bmm", self, mat2, (self.shape[0], self.shape[1], mat2.shape[2]))


@kernel("mv.default", dtypes=NUMERIC, impl="onnx:MatMul")
def mv(self, vec):
    if self.dim() != 2 or vec.dim() != 1 or self.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({self.shape[0]}), mat ({self.shape[0]}x"
                           f"{self.shape[-1]}), vec ({vec.shape[0]})")
    return _matmul("mv", self, vec, (self.shape[0],))


@kernel("dot.default", dtypes=NUMERIC, impl="onnx:MatMul")
def dot(self, tensor):
    if self.dim() != 1 or tensor.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {self.dim()}D and {tensor.dim()}D "
                           f"tensors")
    if self.shape[0] != tensor.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{self.shape[0]}] and src "
                           f"[{tensor.shape[0]}] to have the same number of elements, but got "
                           f"{self.shape[0]} and {tensor.shape[0]} elements respectively")
    return _matmul("dot", self, tensor, ())


def _addmm_like(name, self, a, b, beta, alpha, out_shape, reduce_batch=False, inplace=False):
    _check_same(name, a, b)
    if a.dtype != self.dtype:
        raise RuntimeError(f"{name}: self and mat1 must have the same dtype, but got "
                           f"{self.dtype} and {a.dtype}")
    cdt = _compute(a.dtype)
    if torch.broadcast_shapes(self.shape, out_shape) != tuple(out_shape):
        raise RuntimeError(f"{name}: self of shape {list(self.shape)} does not broadcast to "
                           f"{list(out_shape)}")
    use_self = beta != 0
    attrs = (use_self, beta != 1, alpha != 1, reduce_batch)
    out = self if inplace else empty(out_shape, a.dtype, a.device)

    def build(g, s, x, y, be, al):
        prod = g.op("MatMul", g.cast(x, cdt), g.cast(y, cdt))
        if reduce_batch:
            prod = g.op("ReduceSum", prod, g.ints([0]), keepdims=0)
        if alpha != 1:
            prod = g.op("Mul", prod, al)
        if not use_self:
            return prod
        s = g.cast(s, cdt)
        if beta != 1:
            s = g.op("Mul", s, be)
        return g.op("Add", s, prod)
    inputs = [self if use_self else None, a, b, Scalar(beta, cdt) if beta not in (0, 1) else None,
              Scalar(alpha, cdt) if alpha != 1 else None]
    return run_into(out, name, attrs, inputs, build)


@kernel("addmm.default", dtypes=NUMERIC, impl="onnx:MatMul,Add")
def addmm(self, mat1, mat2, *, beta=1, alpha=1):
    return _addmm_like("addmm", self, mat1, mat2, beta, alpha, (mat1.shape[0], mat2.shape[1]))


@kernel("addmm_.default", dtypes=NUMERIC, impl="onnx:MatMul,Add")
def addmm_(self, mat1, mat2, *, beta=1, alpha=1):
    return _addmm_like("addmm", self, mat1, mat2, beta, alpha, (mat1.shape[0], mat2.shape[1]),
                       inplace=True)


@kernel("baddbmm.default", dtypes=NUMERIC, impl="onnx:MatMul,Add")
def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
    return _addmm_like("baddbmm", self, batch1, batch2, beta, alpha,
                       (batch1.shape[0], batch1.shape[1], batch2.shape[2]))


@kernel("baddbmm_.default", dtypes=NUMERIC, impl="onnx:MatMul,Add")
def baddbmm_(self, batch1, batch2, *, beta=1, alpha=1):
    return _addmm_like("baddbmm", self, batch1, batch2, beta, alpha,
                       (batch1.shape[0], batch1.shape[1], batch2.shape[2]), inplace=True)


@kernel("addbmm.default", dtypes=NUMERIC, impl="onnx:MatMul,ReduceSum,Add")
def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
    return _addmm_like("addbmm", self, batch1, batch2, beta, alpha,
                       (batch1.shape[1], batch2.shape[2]), reduce_batch=True)


@kernel("addmv.default", dtypes=NUMERIC, impl="onnx:MatMul,Add")
def addmv(self, mat, vec, *, beta=1, alpha=1):
    return _addmm_like("addmv", self, mat, vec, beta, alpha, (mat.shape[0],))

