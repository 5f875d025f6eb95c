"""Reductions: sum, mean, prod, amax/amin, max/min (values+indices), argmax/argmin, var/std,
any/all, cumsum, logsumexp, vector norms.

ATen rules kept: an empty dim list reduces everything; integer/bool sums and products are int64
unless `dtype` says otherwise; fp16/bf16 accumulate in float32; max/min/amax/amin propagate NaN
(ORT's Reduce/ArgMax kernels do not, so the graph finds NaNs itself) and ties return the first
index; var/std divide by max(0, N - correction).
"""
from __future__ import annotations

import math

import torch

from deeplink.dtypes import aten_name

from .._vendor.execute import Scalar, run
from .._vendor.graph import ONNX_TYPE
from .common import empty, opmath, wrap_dims
from .registry import ALL, BOOL, FLOATS, INTS, kernel

NUMERIC = FLOATS | INTS | BOOL


def _reduced_shape(shape, dims, keepdim):
    if keepdim:
        return tuple(1 if i in dims else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def _dims(self, dim):
    """ATen: None or [] means every dim; a 0-d tensor reduces over nothing real."""
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        return tuple(range(self.dim()))
    dims = wrap_dims(dim, self.dim())
    return dims if self.dim() > 0 else ()


def _reduce_node(g, onnx_op, x, dims, keepdim):
    if not dims:                               # nothing to reduce (0-d input): identity
        return g.op("Identity", x)
    return g.op(onnx_op, x, g.ints(dims), keepdims=int(keepdim))


def _sum_dtype(self, dtype):
    if dtype is not None:
        return dtype
    return torch.int64 if not self.dtype.is_floating_point else self.dtype


def _simple(name, onnx_op, out_dtype, compute, self, dims, keepdim):
    out = empty(_reduced_shape(self.shape, dims, keepdim), out_dtype, self.device)
    run(name, (dims, keepdim), [self], [out],
        lambda g, x: _reduce_node(g, onnx_op, g.cast(x, compute), dims, keepdim))
    return out


# -- sum / mean / prod --------------------------------------------------------------------------
@kernel("sum.dim_IntList", dtypes=NUMERIC, impl="onnx:ReduceSum")
def sum_dim(self, dim, keepdim=False, *, dtype=None):
    out_dtype = _sum_dtype(self, dtype)
    compute = opmath(out_dtype) if out_dtype.is_floating_point else torch.int64
    return _simple("sum", "ReduceSum", out_dtype, compute, self, _dims(self, dim), keepdim)


@kernel("sum.default", dtypes=NUMERIC, impl="onnx:ReduceSum")
def sum_all(self, *, dtype=None):
    return sum_dim(self, None, False, dtype=dtype)


def _mean_dtype(self, dtype):
    out_dtype = dtype or self.dtype
    if not out_dtype.is_floating_point:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {aten_name(out_dtype)}")
    return out_dtype


def _count(self, dims):
    n = 1
    for d in dims:
        n *= self.shape[d]
    return n


def _nan_like_reduction(self, dims, keepdim, dtype):
    """Mean/var over zero elements: ATen gives NaN (ORT's ReduceMean would give 0)."""
    from .factory import fill_scalar_
    return fill_scalar_(empty(_reduced_shape(self.shape, dims, keepdim), dtype, self.device),
                        float("nan"))


@kernel("mean.dim", dtypes=NUMERIC, impl="onnx:ReduceMean")
def mean_dim(self, dim, keepdim=False, *, dtype=None):
    out_dtype = _mean_dtype(self, dtype)
    if _count(self, _dims(self, dim)) == 0:
        return _nan_like_reduction(self, _dims(self, dim), keepdim, out_dtype)
    return _simple("mean", "ReduceMean", out_dtype, opmath(out_dtype), self, _dims(self, dim),
                   keepdim)


@kernel("mean.default", dtypes=NUMERIC, impl="onnx:ReduceMean")
def mean_all(self, *, dtype=None):
    return mean_dim(self, None, False, dtype=dtype)


@kernel("prod.dim_int", dtypes=NUMERIC, impl="onnx:ReduceProd")
def prod_dim(self, dim, keepdim=False, *, dtype=None):
    out_dtype = _sum_dtype(self, dtype)
    compute = opmath(out_dtype) if out_dtype.is_floating_point else torch.int64
    return _simple("prod", "ReduceProd", out_dtype, compute, self, _dims(self, dim), keepdim)


@kernel("prod.default", dtypes=NUMERIC, impl="onnx:ReduceProd")
def prod_all(self, *, dtype=None):
    out_dtype = _sum_dtype(self, dtype)
    compute = opmath(out_dtype) if out_dtype.is_floating_point else torch.int64
    return _simple("prod", "ReduceProd", out_dtype, compute, self, _dims(self, None), False)


# -- amax / amin / max / min / argmax / argmin ------------------------------------------------
def _extreme_compute(dtype):
    if dtype.is_floating_point:
        return opmath(dtype)
    return torch.int64 if dtype != torch.uint8 else torch.uint8


def _values(g, x, dims, keepdim, is_max):
    """amax/amin over `dims` with NaN propagation (ATen) on a float or integer value."""
    r = _reduce_node(g, "ReduceMax" if is_max else "ReduceMin", x, dims, keepdim)
    if g.dtype(x).is_floating_point and dims:
        nan = g.op("Cast", g.op("IsNaN", x), to=ONNX_TYPE[torch.float32])
        has_nan = g.op("Cast", _reduce_node(g, "ReduceMax", nan, dims, keepdim),
                       to=ONNX_TYPE[torch.bool])
        r = g.op("Where", has_nan, g.const(float("nan"), g.dtype(x)), r)
    return r


def _indices(g, x, axis, keepdim, is_max):
    """First index of the max/min along `axis`; the first NaN wins where there is one."""
    idx = g.op("ArgMax" if is_max else "ArgMin", x, axis=axis, keepdims=int(keepdim),
               select_last_index=0)
    if g.dtype(x).is_floating_point:
        nan = g.op("Cast", g.op("IsNaN", x), to=ONNX_TYPE[torch.int32])
        nan_idx = g.op("ArgMax", nan, axis=axis, keepdims=int(keepdim), select_last_index=0)
        has_nan = g.op("Cast", g.op("ReduceMax", nan, g.ints([axis]), keepdims=int(keepdim)),
                       to=ONNX_TYPE[torch.bool])
        idx = g.op("Where", has_nan, nan_idx, idx)
    return idx


def _check_nonempty(self, name, dims):
    if self.numel() == 0 and (not dims or any(self.shape[d] == 0 for d in dims)):
        raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0"
                         f". Specify the reduction dim with the 'dim' argument.")


def _amax(name, is_max):
    def fn(self, dim=(), keepdim=False):
        dims = _dims(self, dim)
        _check_nonempty(self, name, dims)
        cdt = _extreme_compute(self.dtype)
        out = empty(_reduced_shape(self.shape, dims, keepdim), self.dtype, self.device)
        run(name, (dims, keepdim), [self], [out],
            lambda g, x: _values(g, g.cast(x, cdt), dims, keepdim, is_max))
        return out
    return fn


kernel("amax.default", dtypes=NUMERIC, impl="onnx:ReduceMax")(_amax("amax", True))
kernel("amin.default", dtypes=NUMERIC, impl="onnx:ReduceMin")(_amax("amin", False))


def _max_all(name, is_max):
    def fn(self):
        if self.numel() == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               f"input.numel() == 0. Specify the reduction dim with the 'dim' "
                               f"argument.")
        return _amax(name, is_max)(self, (), False)
    return fn


kernel("max.default", dtypes=NUMERIC, impl="onnx:ReduceMax")(_max_all("max", True))
kernel("min.default", dtypes=NUMERIC, impl="onnx:ReduceMin")(_max_all("min", False))


def _max_dim(name, is_max):
    def fn(self, dim, keepdim=False):
        axis = wrap_dims(dim, self.dim())[0] if self.dim() else 0
        if self.dim() and self.shape[axis] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {axis} to have non-zero size.")
        cdt = _extreme_compute(self.dtype)
        dims = (axis,) if self.dim() else ()
        shape = _reduced_shape(self.shape, dims, keepdim)
        values, indices = empty(shape, self.dtype, self.device), empty(shape, torch.int64,
                                                                         self.device)

        def build(g, x):
            x = g.cast(x, cdt)
            if not dims:
                return [g.op("Identity", x), g.const(0, torch.int64)]
            return [_values(g, x, dims, keepdim, is_max), _indices(g, x, axis, keepdim, is_max)]
        run(f"{name}.dim", (dims, keepdim), [self], [values, indices], build)
        return values, indices
    return fn


kernel("max.dim", dtypes=NUMERIC, impl="onnx:ReduceMax,ArgMax")(_max_dim("max", True))
kernel("min.dim", dtypes=NUMERIC, impl="onnx:ReduceMin,ArgMin")(_max_dim("min", False))


def _argmax(name, is_max):
    def fn(self, dim=None, keepdim=False):
        cdt = _extreme_compute(self.dtype)
        if dim is None:
            if self.numel() == 0:
                raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                                   f"input.numel() == 0.")
            shape = (1,) * self.dim() if keepdim else ()
            out = empty(shape, torch.int64, self.device)

            def build(g, x):
                x = g.op("Reshape", g.cast(x, cdt), g.ints([-1]))
                idx = _indices(g, x, 0, False, is_max)
                return g.op("Reshape", idx, g.ints(list(shape)))
            run(name, (None, keepdim, len(shape)), [self], [out], build)
            return out
        axis = wrap_dims(dim, self.dim())[0] if self.dim() else 0
        if self.dim() and self.shape[axis] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {axis} to have non-zero size.")
        if not self.dim():
            out = empty((), torch.int64, self.device)
            run(name, ((), keepdim), [self], [out], lambda g, x: g.const(0, torch.int64))
            return out
        out = empty(_reduced_shape(self.shape, (axis,), keepdim), torch.int64, self.device)
        run(name, (axis, keepdim), [self], [out],
            lambda g, x: _indices(g, g.cast(x, cdt), axis, keepdim, is_max))
        return out
    return fn


kernel("argmax.default", dtypes=NUMERIC, impl="onnx:ArgMax")(_argmax("argmax", True))
kernel("argmin.default", dtypes=NUMERIC, impl="onnx:ArgMin")(_argmax("argmin", False))


# -- any / all --------------------------------------------------------------------------------
def _any_all(name, is_any):
    def fn(self, dim=None, keepdim=False):
        dims = _dims(self, dim)
        out_dtype = torch.uint8 if self.dtype == torch.uint8 else torch.bool
        out = empty(_reduced_shape(self.shape, dims, keepdim), out_dtype, self.device)

        def build(g, x):
            x = g.cast(g.cast(x, torch.bool), torch.uint8)
            if self.numel() == 0:   # any([]) = False, all([]) = True
                shape = g.ints(_reduced_shape(self.shape, dims, keepdim))
                return g.fill(shape, 0 if is_any else 1, torch.uint8)
            return _reduce_node(g, "ReduceMax" if is_any else "ReduceMin", x, dims, keepdim)
        run(name, (dims, keepdim, self.numel() == 0 and self.shape), [self], [out], build)
        return out
    return fn


for _n, _is_any in (("any", True), ("all", False)):
    _fn = _any_all(_n, _is_any)
    kernel(f"{_n}.default", dtypes=ALL, impl="onnx:ReduceMax")(lambda self, _f=_fn: _f(self))
    kernel(f"{_n}.dim", dtypes=ALL, impl="onnx:ReduceMax")(_fn)
    kernel(f"{_n}.dims", dtypes=ALL, impl="onnx:ReduceMax")(_fn)


# -- var / std --------------------------------------------------------------------------------
def _moments(self, dim, correction, keepdim, want_std, want_mean):
    if not self.dtype.is_floating_point:
        raise RuntimeError("std and var only support floating point and complex dtypes")
    dims = _dims(self, dim)
    n = _count(self, dims)
    if n == 0:
        res = _nan_like_reduction(self, dims, keepdim, self.dtype)
        return (res, _nan_like_reduction(self, dims, keepdim, self.dtype)) if want_mean else res
    correction = 1 if correction is None else correction
    divisor = max(0.0, n - float(correction))
    cdt = opmath(self.dtype)
    shape = _reduced_shape(self.shape, dims, keepdim)
    outs = [empty(shape, self.dtype, self.device)]
    if want_mean:
        outs.append(empty(shape, self.dtype, self.device))

    def build(g, x, div):
        x = g.cast(x, cdt)
        mean = _reduce_node(g, "ReduceMean", x, dims, True)
        d = g.op("Sub", x, mean)
        var = g.op("Div", _reduce_node(g, "ReduceSum", g.op("Mul", d, d), dims, keepdim), div)
        res = [g.op("Sqrt", var) if want_std else var]
        if want_mean:
            res.append(mean if keepdim or not dims else g.op("Squeeze", mean, g.ints(dims)))
        return res
    run("moments", (dims, keepdim, want_std, want_mean), [self, Scalar(divisor, cdt)], outs, build)
    return tuple(outs) if want_mean else outs[0]


@kernel("var.correction", dtypes=FLOATS, impl="onnx:ReduceMean,ReduceSum")
def var_correction(self, dim=None, *, correction=None, keepdim=False):
    return _moments(self, dim, correction, keepdim, False, False)


@kernel("var.dim", dtypes=FLOATS, impl="onnx:ReduceMean,ReduceSum")
def var_dim(self, dim, unbiased=True, keepdim=False):
    return _moments(self, dim, 1 if unbiased else 0, keepdim, False, False)


@kernel("std.correction", dtypes=FLOATS, impl="onnx:ReduceMean,ReduceSum,Sqrt")
def std_correction(self, dim=None, *, correction=None, keepdim=False):
    return _moments(self, dim, correction, keepdim, True, False)


@kernel("std.dim", dtypes=FLOATS, impl="onnx:ReduceMean,ReduceSum,Sqrt")
def std_dim(self, dim, unbiased=True, keepdim=False):
    return _moments(self, dim, 1 if unbiased else 0, keepdim, True, False)


@kernel("var_mean.correction", dtypes=FLOATS, impl="onnx:ReduceMean,ReduceSum")
def var_mean_correction(self, dim=None, *, correction=None, keepdim=False):
    return _moments(self, dim, correction, keepdim, False, True)


@kernel("std_mean.correction", dtypes=FLOATS, impl="onnx:ReduceMean,ReduceSum,Sqrt")
def std_mean_correction(self, dim=None, *, correction=None, keepdim=False):
    return _moments(self, dim, correction, keepdim, True, True)


# -- cumsum / logsumexp / norms ----------------------------------------------------------------
@kernel("cumsum.default", dtypes=NUMERIC, impl="onnx:CumSum")
def cumsum(self, dim, *, dtype=None):
    out_dtype = _sum_dtype(self, dtype)
    axis = wrap_dims(dim, self.dim())[0] if self.dim() else 0
    compute = opmath(out_dtype) if out_dtype.is_floating_point else torch.int64
    out = empty(self.shape, out_dtype, self.device)

    def build(g, x):
        x = g.cast(x, compute)
        if self.dim() == 0:
            return g.op("Identity", x)
        return g.op("CumSum", x, g.const(axis, torch.int64))
    run("cumsum", (axis,), [self], [out], build)
    return out


@kernel("logsumexp.default", dtypes=NUMERIC, impl="onnx:ReduceMax,Exp,ReduceSum,Log")
def logsumexp(self, dim, keepdim=False):
    out_dtype = self.dtype if self.dtype.is_floating_point else torch.get_default_dtype()
    dims = _dims(self, dim)
    cdt = opmath(out_dtype)
    out = empty(_reduced_shape(self.shape, dims, keepdim), out_dtype, self.device)

    def build(g, x):
        # ATen: m = amax (inf -> 0), log(sum(exp(x - m))) + m
        x = g.cast(x, cdt)
        m = _reduce_node(g, "ReduceMax", x, dims, True)
        m = g.op("Where", g.op("IsInf", m), g.const(0.0, cdt), m)
        s = _reduce_node(g, "ReduceSum", g.op("Exp", g.op("Sub", x, m)), dims, keepdim)
        mk = m if keepdim or not dims else g.op("Squeeze", m, g.ints(dims))
        return g.op("Add", g.op("Log", s), mk)
    run("logsumexp", (dims, keepdim), [self], [out], build)
    return out


@kernel("linalg_vector_norm.default", dtypes=FLOATS, impl="onnx:ReduceL2/ReduceSum")
def linalg_vector_norm(self, ord=2, dim=None, keepdim=False, *, dtype=None):
    out_dtype = dtype or self.dtype
    dims = _dims(self, dim)
    cdt = opmath(out_dtype)
    ord = float(ord)
    out = empty(_reduced_shape(self.shape, dims, keepdim), out_dtype, self.device)

    def build(g, x, p):
        a = g.op("Abs", g.cast(x, cdt))
        if ord == math.inf:
            return _values(g, a, dims, keepdim, True)
        if ord == -math.inf:
            return _values(g, a, dims, keepdim, False)
        if ord == 0:
            nz = g.cast(g.op("Not", g.op("Equal", a, g.const(0.0, cdt))), cdt)
            return _reduce_node(g, "ReduceSum", nz, dims, keepdim)
        if ord == 1:
            return _reduce_node(g, "ReduceSum", a, dims, keepdim)
        if ord == 2:
            return g.op("Sqrt", _reduce_node(g, "ReduceSum", g.op("Mul", a, a), dims, keepdim))
        s = _reduce_node(g, "ReduceSum", g.op("Pow", a, p), dims, keepdim)
        return g.op("Pow", s, g.op("Reciprocal", p))
    run("vector_norm", (dims, keepdim, ord if ord in (0, 1, 2, math.inf, -math.inf) else "p"),
        [self, Scalar(ord, cdt)], [out], build)
    return out



@kernel("equal", dtypes=ALL, impl="onnx:Equal,ReduceMin")
def equal(self, other):
    """True when shapes match and every element is equal (NaN != NaN), one ORT run."""
    if tuple(self.shape) != tuple(other.shape):
        return False
    if self.numel() == 0:
        return True
    from .pointwise import result_type
    common = result_type(self, other)
    cdt = opmath(common) if common.is_floating_point else torch.int64
    flag = torch.zeros((), dtype=torch.bool)                # host scalar, bound by pointer
    run("equal", (), [self, other], [flag], lambda g, a, b: g.cast(g.op(
        "ReduceMin", g.cast(g.op("Equal", g.cast(a, cdt), g.cast(b, cdt)), torch.int32),
        keepdims=0), torch.bool))
    return bool(flag.item())
