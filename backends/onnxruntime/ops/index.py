"""Indexing: embedding (+dense backward), index_select, gather, scatter (src/value/reduce),
scatter_add, scatter_reduce, index.Tensor, index_put, index_add.

Writes with duplicate indices accumulate through ScatterND/ScatterElements reduction="add" in
index order; ATen's CPU kernels add in their own order, so float results can differ in the last
bits (a genuine difference, not a lowering bug). Boolean masks in index/index_put are turned into
integer indices with this backend's nonzero (two ORT runs: count, then NonZero).
"""
from __future__ import annotations

import numpy as np
import torch

from .._vendor.execute import Scalar, run
from .._vendor.graph import NUMPY_TYPE
from .common import empty, opmath, run_into, wrap_dim
from .pointwise import result_type
from .registry import ALL, FLOATS, INDEX, INTS, kernel

_SCATTER_WIDE = {torch.int16: torch.int32}     # ScatterElements/ScatterND lack int16


def _i64(g, idx):
    return g.cast(idx, torch.int64)


@kernel("embedding.default", dtypes=ALL, impl="onnx:Gather")
def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    if weight.dim() != 2:
        raise RuntimeError("'weight' must be 2-D")
    out = empty(tuple(indices.shape) + (weight.shape[1],), weight.dtype, weight.device)
    run("embedding", (), [weight, indices], [out],
        lambda g, w, i: g.op("Gather", w, _i64(g, i), axis=0))
    return out


@kernel("embedding_dense_backward.default", dtypes=FLOATS | INDEX, impl="onnx:ScatterND")
def embedding_dense_backward(grad_output, indices, num_weights, padding_idx, scale_grad_by_freq):
    dim = grad_output.shape[-1]
    out = empty((num_weights, dim), grad_output.dtype, grad_output.device)
    cdt = opmath(grad_output.dtype)
    shape = np.asarray([num_weights, dim], dtype=np.int64)
    use_pad = padding_idx is not None and padding_idx >= 0

    def build(g, gy, idx, shp, pad):
        gy = g.op("Reshape", g.cast(gy, cdt), g.ints([-1, dim]))
        idx = g.op("Reshape", _i64(g, idx), g.ints([-1]))
        if use_pad:
            keep = g.op("Not", g.op("Equal", idx, pad))
            gy = g.op("Where", g.op("Unsqueeze", keep, g.ints([1])), gy, g.const(0.0, cdt))
        if scale_grad_by_freq:
            ones = g.cast(g.op("Equal", idx, idx), cdt)
            counts = g.op("ScatterElements", g.fill(g.ints([num_weights]), 0, cdt), idx, ones,
                          axis=0, reduction="add")
            gy = g.op("Div", gy, g.op("Unsqueeze", g.op("Gather", counts, idx, axis=0),
                                      g.ints([1])))
        return g.op("ScatterND", g.fill(shp, 0, cdt), g.op("Unsqueeze", idx, g.ints([1])), gy,
                    reduction="add")
    run("embedding_backward", (dim, use_pad, bool(scale_grad_by_freq), num_weights if
                               scale_grad_by_freq else 0),
        [grad_output, indices, shape, Scalar(int(padding_idx if use_pad else 0), torch.int64)],
        [out], build)
    return out



@kernel("index_select.default", dtypes=ALL, impl="onnx:Gather")
def index_select(self, dim, index):
    if index.dim() > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    axis = wrap_dim(dim, self.dim())
    shape = list(self.shape)
    if self.dim():
        shape[axis] = index.numel()
    out = empty(shape, self.dtype, self.device)
    if out.numel() == 0:
        return out

    def build(g, x, i):
        i = g.op("Reshape", _i64(g, i), g.ints([-1]))
        if self.dim() == 0:
            return g.op("Reshape", g.op("Gather", g.op("Reshape", x, g.ints([1])), i, axis=0),
                        g.ints([]))
        return g.op("Gather", x, i, axis=axis)
    run("index_select", (axis,), [self, index], [out], build)
    return out


@kernel("gather.default", dtypes=ALL, impl="onnx:GatherElements")
def gather(self, dim, index, *, sparse_grad=False):
    axis = wrap_dim(dim, self.dim())
    out = empty(index.shape, self.dtype, self.device)
    if out.numel() == 0:
        return out
    scalar = self.dim() == 0 or index.dim() == 0

    def build(g, x, i):
        i = _i64(g, i)
        if scalar:      # GatherElements needs rank >= 1
            x, i = g.op("Reshape", x, g.ints([-1])), g.op("Reshape", i, g.ints([-1]))
            return g.op("Reshape", g.op("GatherElements", x, i, axis=0),
                        g.ints(list(index.shape)))
        return g.op("GatherElements", x, i, axis=axis)
    run("gather", (axis, scalar, tuple(index.shape) if scalar else index.dim()), [self, index],
        [out], build)
    return out


# -- scatter family ---------------------------------------------------------------------------
_REDUCTIONS = {None: "none", "add": "add", "sum": "add", "multiply": "mul", "prod": "mul",
               "amax": "max", "amin": "min"}


def _scatter(self, dim, index, src, reduce, inplace, include_self=True, value=None):
    axis = wrap_dim(dim, self.dim())
    out = self if inplace else empty(self.shape, self.dtype, self.device)
    if reduce not in _REDUCTIONS and reduce != "mean":
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    cdt = _SCATTER_WIDE.get(self.dtype, self.dtype)
    if reduce in ("amax", "amin", "mean", "multiply", "prod") and self.dtype in (torch.bfloat16,
                                                                                torch.float16):
        cdt = torch.float32
    if index.numel() == 0:
        return out if inplace else run_into(out, "identity", (), [self],
                                            lambda g, x: g.op("Identity", x))
    if self.dim() == 0:     # ONNX scatter needs rank >= 1: work on 1-element views
        res = _scatter(self.reshape(1), 0, index.reshape(1),
                       src.reshape(1) if src is not None else None, reduce, False,
                       include_self, value)
        res = res.reshape(())
        if inplace:
            self.copy_(res)
            return self
        return res
    idx_shape = np.asarray(index.shape, dtype=np.int64)
    mean = reduce == "mean"
    red = "add" if mean else _REDUCTIONS[reduce]
    src_in = src if src is not None else Scalar(value, torch.float64 if cdt.is_floating_point
                                                else torch.int64)
    if isinstance(src_in, Scalar) and cdt == torch.bool:
        src_in = Scalar(bool(value), torch.bool)

    def build(g, x, i, s, shp):
        x = g.cast(x, cdt)
        i = _i64(g, i)
        if src is None:
            upd = g.op("Expand", g.cast(s, cdt), shp)
        else:
            upd = g.op("Slice", g.cast(s, cdt), g.ints([0] * index.dim()), shp,
                       g.ints(list(range(index.dim()))))
        if not include_self:
            # positions that receive values start from the reduction's identity
            info = None if cdt.is_floating_point or cdt == torch.bool else \
                np.iinfo(NUMPY_TYPE[cdt])
            ident = {"add": 0, "mul": 1,
                     "max": float("-inf") if info is None else int(info.min),
                     "min": float("inf") if info is None else int(info.max)}[red]
            fill = g.op("Expand", g.cast(g.const(ident, torch.float64 if cdt.is_floating_point
                                                 else torch.int64), cdt), shp)
            x = g.op("ScatterElements", x, i, fill, axis=axis)
        r = g.op("ScatterElements", x, i, upd, axis=axis, reduction=red)
        if mean:
            ones = g.cast(g.op("Equal", i, i), cdt)
            base = g.cast(g.op("Equal", x, x), cdt) if include_self else \
                g.op("Sub", x, x)
            counts = g.op("ScatterElements", base, i, ones, axis=axis, reduction="add")
            zero = g.cast(g.const(0.0, torch.float64), cdt)
            one = g.cast(g.const(1.0, torch.float64), cdt)
            safe = g.op("Where", g.op("Equal", counts, zero), one, counts)
            if cdt.is_floating_point:
                r = g.op("Div", r, safe)
            else:
                r = _floor_div(g, r, safe)
        return r
    return run_into(out, "scatter", (axis, red, src is None, include_self, mean),
                    [self, index, src_in, idx_shape], build)


def _floor_div(g, a, b):
    q = g.op("Div", a, b)
    r = g.op("Sub", a, g.op("Mul", q, b))
    zero = g.cast(g.const(0, torch.int64), g.dtype(a))
    fix = g.op("And", g.op("Not", g.op("Equal", r, zero)),
               g.op("Xor", g.op("Less", r, zero), g.op("Less", b, zero)))
    return g.op("Sub", q, g.cast(fix, g.dtype(a)))


def _scatter_kernels():
    for inplace in (False, True):
        base = "scatter_" if inplace else "scatter"

        def src(self, dim, index, src, _i=inplace):
            return _scatter(self, dim, index, src, None, _i)

        def value(self, dim, index, value, _i=inplace):
            return _scatter(self, dim, index, None, None, _i, value=value)

        def reduce_src(self, dim, index, src, *, reduce, _i=inplace):
            return _scatter(self, dim, index, src, reduce, _i)

        def reduce_value(self, dim, index, value, *, reduce, _i=inplace):
            return _scatter(self, dim, index, None, reduce, _i, value=value)
        kernel(f"{base}.src", dtypes=ALL, impl="onnx:ScatterElements")(src)
        kernel(f"{base}.value", dtypes=ALL, impl="onnx:ScatterElements")(value)
        kernel(f"{base}.reduce", dtypes=ALL, impl="onnx:ScatterElements")(reduce_src)
        kernel(f"{base}.value_reduce", dtypes=ALL, impl="onnx:ScatterElements")(reduce_value)

        def add(self, dim, index, src, _i=inplace):
            return _scatter(self, dim, index, src, "add", _i)
        kernel("scatter_add_.default" if inplace else "scatter_add.default", dtypes=ALL,
               impl="onnx:ScatterElements")(add)

        def reduce_two(self, dim, index, src, reduce, *, include_self=True, _i=inplace):
            return _scatter(self, dim, index, src, reduce, _i, include_self=include_self)
        kernel("scatter_reduce_.two" if inplace else "scatter_reduce.two",
               dtypes=FLOATS | INTS, impl="onnx:ScatterElements")(reduce_two)


_scatter_kernels()


# -- advanced indexing ------------------------------------------------------------------------
def _int_indices(self, indices):
    """Expand boolean masks into integer index tensors (one per masked dim), like ATen."""
    out = []
    for idx in indices:
        if idx is not None and idx.dtype in (torch.bool, torch.uint8):
            from .movement import nonzero
            nz = nonzero(idx)
            out.extend(nz[:, j] for j in range(idx.dim()))
        else:
            out.append(idx)
    return out + [None] * (self.dim() - len(out))


def _index_plan(self, indices):
    """Dims indexed, the broadcast index shape, and where ATen puts the result dims."""
    dims = [d for d, i in enumerate(indices) if i is not None]
    if len(dims) > self.dim():
        raise IndexError(f"too many indices for tensor of dimension {self.dim()}")
    bshape = tuple(torch.broadcast_shapes(*[indices[d].shape for d in dims]))
    rest = [d for d in range(self.dim()) if d not in dims]
    adjacent = dims == list(range(dims[0], dims[0] + len(dims)))
    before = [d for d in rest if d < dims[0]] if adjacent else []
    return dims, bshape, rest, before


def _stack_indices(g, idx_values, dims, sizes, bshape_value):
    cols = []
    for v, d in zip(idx_values, dims):
        v = _i64(g, v)
        n = g.op("Gather", sizes, g.const(d, torch.int64), axis=0)
        v = g.op("Where", g.op("Less", v, g.const(0, torch.int64)), g.op("Add", v, n), v)
        cols.append(g.op("Unsqueeze", g.op("Expand", v, bshape_value), g.ints([-1])))
    return cols[0] if len(cols) == 1 else g.op("Concat", *cols, axis=-1)


@kernel("index.Tensor", dtypes=ALL, impl="onnx:GatherND")
def index_tensor(self, indices):
    indices = _int_indices(self, list(indices))
    dims, bshape, rest, before = _index_plan(self, indices)
    after = [d for d in rest if d not in before]
    out_shape = [self.shape[d] for d in before] + list(bshape) + [self.shape[d] for d in after]
    out = empty(out_shape, self.dtype, self.device)
    if out.numel() == 0:
        return out
    perm = dims + rest
    nb, nbshape = len(before), len(bshape)
    idx_tensors = [indices[d] for d in dims]

    def build(g, x, sizes, bsh, *idx):
        xt = g.op("Transpose", x, perm=perm) if perm != list(range(self.dim())) else x
        stacked = _stack_indices(g, idx, dims, sizes, bsh)
        r = g.op("GatherND", xt, stacked)                  # (B..., rest...)
        if nb:
            order = list(range(nbshape, nbshape + nb)) + list(range(nbshape)) + \
                list(range(nbshape + nb, nbshape + len(rest)))
            r = g.op("Transpose", r, perm=order)
        return r
    run("index", (tuple(dims), tuple(perm), nb, nbshape), [self, np.asarray(self.shape, np.int64),
                                                           np.asarray(bshape, np.int64)]
        + idx_tensors, [out], build)
    return out


def _index_put(self, indices, values, accumulate, inplace):
    indices = _int_indices(self, list(indices))
    dims, bshape, rest, before = _index_plan(self, indices)
    out = self if inplace else empty(self.shape, self.dtype, self.device)
    perm = dims + rest
    inverse = [perm.index(d) for d in range(self.dim())]
    nb, nbshape = len(before), len(bshape)
    # values are laid out like index()'s result: before + B + after; ScatterND wants B + rest
    res_shape = [self.shape[d] for d in before] + list(bshape) + \
        [self.shape[d] for d in rest if d not in before]
    cdt = _SCATTER_WIDE.get(self.dtype, self.dtype)
    if accumulate and self.dtype in (torch.bfloat16,):
        cdt = torch.float32
    idx_tensors = [indices[d] for d in dims]
    if int(np.prod(bshape)) == 0:
        return out if inplace else run_into(out, "identity", (), [self],
                                            lambda g, x: g.op("Identity", x))

    def build(g, x, v, sizes, bsh, rshape, *idx):
        x = g.cast(x, cdt)
        xt = g.op("Transpose", x, perm=perm) if perm != list(range(self.dim())) else x
        stacked = _stack_indices(g, idx, dims, sizes, bsh)
        v = g.op("Expand", g.cast(v, cdt if cdt != torch.bfloat16 else torch.float32), rshape)
        v = g.cast(v, cdt)
        if nb:
            order = list(range(nb, nb + nbshape)) + list(range(nb)) + \
                list(range(nb + nbshape, len(res_shape)))
            v = g.op("Transpose", v, perm=order)
        r = g.op("ScatterND", xt, stacked, v, reduction="add" if accumulate else "none")
        return g.op("Transpose", r, perm=inverse) if perm != list(range(self.dim())) else r
    return run_into(out, "index_put", (tuple(dims), tuple(perm), nb, nbshape, bool(accumulate)),
                    [self, values, np.asarray(self.shape, np.int64), np.asarray(bshape, np.int64),
                     np.asarray(res_shape, np.int64)] + idx_tensors, build)


@kernel("index_put.default", dtypes=ALL, impl="onnx:ScatterND")
def index_put(self, indices, values, accumulate=False):
    return _index_put(self, indices, values, accumulate, False)


@kernel("index_put_.default", dtypes=ALL, impl="onnx:ScatterND")
def index_put_(self, indices, values, accumulate=False):
    return _index_put(self, indices, values, accumulate, True)


@kernel("_index_put_impl_.default", dtypes=ALL, impl="onnx:ScatterND")
def index_put_impl_(self, indices, values, accumulate=False, unsafe=False):
    return _index_put(self, indices, values, accumulate, True)


def _index_add(self, dim, index, source, alpha, inplace):
    axis = wrap_dim(dim, self.dim())
    out = self if inplace else empty(self.shape, self.dtype, self.device)
    common = result_type(self, source)
    cdt = opmath(common) if common.is_floating_point else torch.int64
    rank = self.dim()
    perm = [axis] + [d for d in range(rank) if d != axis]
    inverse = [perm.index(d) for d in range(rank)]

    def build(g, x, i, s, a):
        x, s = g.cast(x, cdt), g.cast(s, cdt)
        if alpha != 1:
            s = g.op("Mul", s, a)
        if rank == 0:
            return g.op("Add", x, s)
        xt = g.op("Transpose", x, perm=perm)
        st = g.op("Transpose", s, perm=perm) if source.dim() else s
        idx = g.op("Unsqueeze", g.op("Reshape", _i64(g, i), g.ints([-1])), g.ints([1]))
        r = g.op("ScatterND", xt, idx, st, reduction="add")
        return g.op("Transpose", r, perm=inverse)
    return run_into(out, "index_add", (axis, alpha != 1, rank),
                    [self, index, source, Scalar(alpha, cdt)], build)


@kernel("index_add.default", dtypes=FLOATS | INTS, impl="onnx:ScatterND")
def index_add(self, dim, index, source, *, alpha=1):
    return _index_add(self, dim, index, source, alpha, False)


@kernel("index_add_.default", dtypes=FLOATS | INTS, impl="onnx:ScatterND")
def index_add_(self, dim, index, source, *, alpha=1):
    return _index_add(self, dim, index, source, alpha, True)
