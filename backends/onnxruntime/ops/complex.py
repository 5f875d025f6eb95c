"""Complex inputs for the LLM-tier ops that meet them (gradients of FFTs and eigen-decompositions
pass complex tensors through mul, mm, bmm, constant_pad_nd and slice_backward).

ONNX has no complex tensor type. A complex tensor is bound as its float pairs, shape
(..., 2) (the layout torch.view_as_real shows), after a clone resolves lazy conjugate/negative
views; the graphs do the complex arithmetic on real and imaginary parts:
  (a + bi)(c + di) = (ac - bd) + (ad + bc)i,   A B = (Ar Br - Ai Bi) + (Ar Bi + Ai Br)i.
Each op keeps its real-dtype kernel; this module wraps it with the complex path.
"""
from __future__ import annotations

import numpy as np
import torch

from deeplink.dtypes import COMPLEX
from deeplink.kernels import PythonKernel

from .._vendor.execute import Raw, run
from .registry import TABLE


_REAL = {torch.complex64: torch.float32, torch.complex128: torch.float64}


def _resolved(t: torch.Tensor) -> torch.Tensor:
    """A contiguous complex tensor with conj/neg views materialised (this backend's clone)."""
    if t.is_contiguous() and not t.is_conj() and not t.is_neg():
        return t
    return TABLE["clone"].fn(t)


def _pairs(t: torch.Tensor, dtype: torch.dtype) -> Raw:
    return Raw(t.data_ptr() if t.numel() else 0, tuple(t.shape) + (2,), _REAL[dtype])


def _as_complex_operand(x, dtype):
    """Bind `x` (complex tensor, real tensor or number) for a graph computing in `dtype`."""
    if isinstance(x, torch.Tensor) and x.dtype.is_complex:
        if x.dtype != dtype:
            x = _resolved(x).to(dtype)
        return "pair", _pairs(_resolved(x), dtype), _resolved(x)
    if isinstance(x, torch.Tensor) and not (x.device.type == "cpu" and x.dim() == 0):
        return "real", x, x
    value = complex(x.item() if isinstance(x, torch.Tensor) else x)
    arr = np.asarray([value.real, value.imag], dtype=np.float32 if dtype == torch.complex64
                     else np.float64)
    return "pair", arr, None


def _parts(g, v, kind, real):
    """(real part, imaginary part or None) of a bound operand."""
    if kind == "real":
        return g.cast(v, real), None
    re = g.op("Gather", v, g.const(0, torch.int64), axis=-1)
    im = g.op("Gather", v, g.const(1, torch.int64), axis=-1)
    return re, im


def _join(g, re, im):
    return g.op("Concat", g.op("Unsqueeze", re, g.ints([-1])),
                g.op("Unsqueeze", im, g.ints([-1])), axis=-1)


def _out(shape, dtype, device):
    out = torch.empty(tuple(shape), dtype=dtype, device=device)
    return out, _pairs(out, dtype)


def _device(*xs):
    return next(x.device for x in xs if isinstance(x, torch.Tensor) and
                not (x.device.type == "cpu" and x.dim() == 0))


def complex_mul(self, other):
    dtype = torch.result_type(self, other)
    real = _REAL[dtype]
    a_kind, a, _ = _as_complex_operand(self, dtype)
    b_kind, b, _ = _as_complex_operand(other, dtype)
    shape = torch.broadcast_shapes(*[x.shape for x in (self, other) if isinstance(x, torch.Tensor)])
    out, bound = _out(shape, dtype, _device(self, other))

    def build(g, x, y):
        ar, ai = _parts(g, x, a_kind, real)
        br, bi = _parts(g, y, b_kind, real)
        if ai is None:
            ar, ai, br, bi = br, bi, ar, None         # real operand second
        if bi is None:
            return _join(g, g.op("Mul", ar, br), g.op("Mul", ai, br))
        re = g.op("Sub", g.op("Mul", ar, br), g.op("Mul", ai, bi))
        im = g.op("Add", g.op("Mul", ar, bi), g.op("Mul", ai, br))
        return _join(g, re, im)
    run("complex.mul", (a_kind, b_kind), [a, b], [bound], build)
    return out


def complex_matmul(name):
    def fn(self, mat2):
        dtype = torch.result_type(self, mat2)
        real = _REAL[dtype]
        a_kind, a, _ = _as_complex_operand(self, dtype)
        b_kind, b, _ = _as_complex_operand(mat2, dtype)
        shape = tuple(self.shape[:-1]) + (mat2.shape[-1],)
        out, bound = _out(shape, dtype, self.device)

        def build(g, x, y):
            ar, ai = _parts(g, x, a_kind, real)
            br, bi = _parts(g, y, b_kind, real)
            mm = lambda p, q: g.op("MatMul", p, q)  # noqa: E731
            if ai is None:
                return _join(g, mm(ar, br), mm(ar, bi))
            if bi is None:
                return _join(g, mm(ar, br), mm(ai, br))
            return _join(g, g.op("Sub", mm(ar, br), mm(ai, bi)),
                         g.op("Add", mm(ar, bi), mm(ai, br)))
        run(f"complex.{name}", (a_kind, b_kind), [a, b], [bound], build)
        return out
    return fn


def complex_pad(self, pad, value=0):
    value = complex(value)
    n = self.dim()
    begins, ends = [0] * n, [0] * n
    for i in range(len(pad) // 2):
        begins[n - 1 - i], ends[n - 1 - i] = pad[2 * i], pad[2 * i + 1]
    shape = [s + b + e for s, b, e in zip(self.shape, begins, ends)]
    dtype = self.dtype
    real = _REAL[dtype]
    src = _resolved(self)
    out, bound = _out(shape, dtype, self.device)
    if out.numel() == 0:
        return out

    def build(g, x):
        pads = g.ints(begins + [0] + ends + [0])
        re = g.op("Pad", x, pads, g.const(value.real, real), mode="constant")
        im = g.op("Pad", x, pads, g.const(value.imag, real), mode="constant")
        # each padded copy keeps its own part: real from the first, imaginary from the second
        return _join(g, g.op("Gather", re, g.const(0, torch.int64), axis=-1),
                     g.op("Gather", im, g.const(1, torch.int64), axis=-1))
    run("complex.pad", (tuple(begins), tuple(ends), value.real, value.imag), [_pairs(src, dtype)],
        [bound], build)
    return out


def complex_slice_backward(grad_output, input_sizes, dim, start, end, step):
    from .movement import _slice_range
    from .common import wrap_dim
    dim = wrap_dim(dim, len(input_sizes))
    start, end, step = _slice_range(input_sizes[dim], start, end, step)
    dtype = grad_output.dtype
    src = _resolved(grad_output)
    out, bound = _out(input_sizes, dtype, grad_output.device)
    n = src.shape[dim]
    index = start + step * np.arange(n, dtype=np.int64)
    idx_shape = [1] * (src.dim() + 1)
    idx_shape[dim] = -1
    full = np.asarray(list(input_sizes) + [2], dtype=np.int64)
    src_shape = np.asarray(list(src.shape) + [2], dtype=np.int64)

    def build(g, s, i, shp, sshp):
        zeros = g.fill(shp, 0, _REAL[dtype])
        ii = g.op("Expand", g.op("Reshape", i, g.ints(idx_shape)), sshp)
        return g.op("ScatterElements", zeros, ii, s, axis=dim)
    run("complex.slice_backward", (dim, src.dim()), [_pairs(src, dtype), index, full, src_shape],
        [bound], build)
    return out


def _with_complex(name, complex_fn):
    """Wrap the registered real kernel of `name`: complex arguments take `complex_fn`."""
    real = TABLE.get(name)
    if real is None:
        return

    def fn(*args, **kwargs):
        if any(isinstance(a, torch.Tensor) and a.dtype.is_complex for a in args):
            return complex_fn(*args, **kwargs)
        return real.fn(*args, **kwargs)
    TABLE.replace(name, PythonKernel(fn, real.dtypes | COMPLEX, real.impl + " (+complex as pairs)"))


_with_complex("mul.Tensor", complex_mul)
_with_complex("mul.Scalar", complex_mul)
_with_complex("mm", complex_matmul("mm"))
_with_complex("bmm", complex_matmul("bmm"))
_with_complex("constant_pad_nd", complex_pad)
_with_complex("slice_backward", complex_slice_backward)
