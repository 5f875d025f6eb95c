"""Graphs that read or write an arbitrary strided view: ONNX has no notion of strides, so the
view's flat storage span is bound as a 1-D tensor and element addresses are computed in the
graph, sum_i arange(size_i) * stride_i, then Gathered (read) or ScatterElements'd (write).

Sizes and strides are graph inputs, so one graph per (dtype, rank) serves every view.
"""
from __future__ import annotations

import numpy as np
import torch

from .execute import Raw, run
from .graph import Graph


def span(t: torch.Tensor) -> int:
    """Elements between the view's first and last addressed element, inclusive."""
    if t.numel() == 0:
        return 0
    return 1 + sum((s - 1) * st for s, st in zip(t.shape, t.stride()))


def is_dense(t: torch.Tensor) -> bool:
    """No gaps and no overlap: the view is a permutation of a contiguous block."""
    return span(t) == t.numel()


def flat(t: torch.Tensor, dtype: torch.dtype | None = None) -> Raw:
    return Raw(t.data_ptr() if t.numel() else 0, (span(t),), dtype or t.dtype)


def _addresses(g: Graph, sizes: str, strides: str, rank: int) -> str:
    """int64 tensor of shape `sizes`: the flat offset of every element of the view."""
    idx = g.const(0, torch.int64)
    zero, one = g.const(0, torch.int64), g.const(1, torch.int64)
    for i in range(rank):
        pos = g.const(i, torch.int64)
        n = g.op("Gather", sizes, pos, axis=0)
        st = g.op("Gather", strides, pos, axis=0)
        term = g.op("Mul", g.op("Range", zero, n, one), st)
        shape = [1] * rank
        shape[i] = -1
        idx = g.op("Add", idx, g.op("Reshape", term, g.ints(shape)))
    return idx


def _meta(t: torch.Tensor):
    return (np.asarray(t.shape, dtype=np.int64), np.asarray(t.stride(), dtype=np.int64))


def gather_into(out: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """out (contiguous, src's shape, any dtype) = src read through its strides, cast."""
    rank = src.dim()
    sizes, strides = _meta(src)

    def build(g, data, sz, st):
        idx = _addresses(g, sz, st, rank)
        return g.op("Gather", data, idx, axis=0)
    run("layout.gather", (rank,), [flat(src), sizes, strides], [out], build)
    return out


def gather_complex(out: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """Copy a complex view into contiguous `out` (same shape and dtype). ONNX has no complex
    type: both are bound as their float pairs (strides doubled, a trailing axis of 2), and a
    lazy conjugate/negative view is materialised on the way, as ATen's clone does."""
    real = torch.float32 if src.dtype == torch.complex64 else torch.float64
    rank = src.dim() + 1
    sizes = np.asarray(list(src.shape) + [2], dtype=np.int64)
    strides = np.asarray([2 * s for s in src.stride()] + [1], dtype=np.int64)
    span_src = 1 + int(((sizes - 1) * strides).sum()) if src.numel() else 0
    signs = np.asarray([-1.0 if src.is_neg() else 1.0,
                        (-1.0 if src.is_neg() else 1.0) * (-1.0 if src.is_conj() else 1.0)],
                       dtype=np.float32 if real == torch.float32 else np.float64)
    if src.numel() == 0:
        return out

    def build(g, data, sz, st, sign):
        return g.op("Mul", g.op("Gather", data, _addresses(g, sz, st, rank), axis=0), sign)
    run("layout.gather_complex", (rank,),
        [Raw(src.data_ptr(), (span_src,), real), sizes, strides, signs],
        [Raw(out.data_ptr(), tuple(sizes), real)], build)
    return out


def scatter_from(dst: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """Write contiguous `src` (dst's shape and dtype) into the strided view `dst` in place: the
    graph's input and output are both dst's storage span (ScatterElements copies it through and
    overwrites the view's elements; ORT handles the aliasing of the two as a no-op copy)."""
    rank = dst.dim()
    sizes, strides = _meta(dst)
    region = flat(dst)

    def build(g, data, sz, st, values):
        idx = g.op("Reshape", _addresses(g, sz, st, rank), g.ints([-1]))
        return g.op("ScatterElements", data, idx, g.op("Reshape", values, g.ints([-1])), axis=0)
    run("layout.scatter", (rank,), [region, sizes, strides, src], [region], build)
    return dst
