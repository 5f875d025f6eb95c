"""Run a cached graph on tensors through IO binding: ORT reads and writes our memory in place.

Every tensor input and output is bound by raw pointer (element type, shape, data_ptr), so on the
CPU EP the OrtValues alias deeplink memory and nothing is copied per call. Non-CPU EPs get the
same host pointers and ORT copies them to and from the EP's device around the run.

Strided inputs: a tensor whose memory is a dense block seen through a permutation and/or
broadcast (transpose, permute, t(), expand) is bound as that dense block and a Transpose/Expand
node in the graph restores the view, so the most common non-contiguous inputs cost no extra op.
Any other layout (gaps: slices, diagonals) is first made contiguous with `t.contiguous()`, which on
a deeplink tensor is itself a dispatched (and counted) `clone` on this backend; `LAYOUT_STATS`
counts both cases.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .binding import Binder
from .graph import Graph, NUMPY_TYPE, ONNX_TYPE
from .session_cache import CACHE
from .replay import recorder as _recorder
from .trace import active as _tracer

TORCH_OF_NUMPY = {v: k for k, v in NUMPY_TYPE.items()}

# A valid address for zero-element tensors (ORT rejects a null buffer pointer).
_EMPTY = np.zeros(16, dtype=np.uint8)


@dataclass(frozen=True)
class Scalar:
    """A Python number passed to the graph as a 0-d input, so changing values (learning rates,
    bias corrections) reuse one graph instead of building one per value."""
    value: object
    dtype: torch.dtype


@dataclass(frozen=True)
class Raw:
    """Memory bound as a contiguous tensor of `shape`, whatever tensor it belongs to: the flat
    storage span behind a strided view, for the layout kernels (clone, copy_)."""
    ptr: int
    shape: tuple
    dtype: torch.dtype

    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


class LayoutStats:
    def __init__(self):
        self.reset()

    def reset(self):
        self.in_graph_views = 0      # permuted/expanded inputs bound without a copy
        self.contiguous_copies = 0   # inputs copied by a dispatched clone before binding

    def as_dict(self):
        return {"in_graph_views": self.in_graph_views, "contiguous_copies": self.contiguous_copies}


LAYOUT_STATS = LayoutStats()


def _dense_order(t: torch.Tensor):
    """If `t` is a dense block seen through a permutation and stride-0 broadcasts, return the
    dimension order of that block (outermost first) and the dims that are broadcast; else None."""
    sizes, strides = t.shape, t.stride()
    trivial = [d for d in range(t.dim()) if sizes[d] == 1 or strides[d] == 0]
    real = sorted((d for d in range(t.dim()) if d not in trivial), key=lambda d: -strides[d])
    expect = 1
    for d in reversed(real):
        if strides[d] != expect:
            return None
        expect *= sizes[d]
    expanded = tuple(d for d in range(t.dim()) if strides[d] == 0 and sizes[d] != 1)
    return tuple(real + trivial), expanded


def _describe(t: torch.Tensor):
    """(key part, tensor to bind, bound shape, expand target or None) for one tensor input."""
    bind_dtype = t.dtype
    if t.is_contiguous() or t.numel() == 0:
        return (bind_dtype, t.dim(), None), t, tuple(t.shape), None
    dense = _dense_order(t)
    if dense is None:
        LAYOUT_STATS.contiguous_copies += 1
        t = t.contiguous()
        return (bind_dtype, t.dim(), None), t, tuple(t.shape), None
    order, expanded = dense
    if expanded and bind_dtype in (torch.bfloat16, torch.int16):
        # ORT's CPU Expand has no bf16/int16 kernel: materialize instead (clone supports both).
        LAYOUT_STATS.contiguous_copies += 1
        t = t.contiguous()
        return (bind_dtype, t.dim(), None), t, tuple(t.shape), None
    LAYOUT_STATS.in_graph_views += 1
    shape = tuple(1 if d in expanded else t.shape[d] for d in order)
    target = np.asarray(t.shape, dtype=np.int64) if expanded else None
    return (bind_dtype, t.dim(), (order, bool(expanded))), t, shape, target


def _restore_view(g: Graph, value: str, layout, rank: int) -> tuple[str, str | None]:
    """Graph nodes that turn a bound dense block back into the strided view it came from."""
    order, expanded = layout
    shape_input = None
    inverse = [order.index(d) for d in range(rank)]
    if inverse != list(range(rank)):
        value = g.op("Transpose", value, perm=inverse)
    if expanded:
        shape_input = g.input(torch.int64, 1, "view_shape")
        value = g.op("Expand", value, shape_input)
    g.ranks[value] = rank
    return value, shape_input


def _address(x) -> int:
    if x.numel() == 0:
        return _EMPTY.ctypes.data
    return x.ptr if isinstance(x, Raw) else x.data_ptr()


def run(op: str, attrs: tuple, inputs: list, outputs: list, build):
    """Run `build`'s graph for `op` on `inputs` (tensors, Raw spans, Scalars, small numpy arrays
    or None), writing `outputs` (contiguous tensors or Raw spans allocated by the caller, shapes
    exactly those the graph produces).

    `build(g, *values)` receives one graph value per input (None stays None) and returns the
    output values; they are cast to the dtypes of `outputs`. While a graph is being compiled
    (trace.py), the nodes go into that graph instead of running.
    """
    tracer = _tracer()
    if tracer is not None:
        return tracer.run(op, attrs, inputs, outputs, build)
    key_parts, binds = [], []
    for x in inputs:
        if x is None:
            key_parts.append(None)
            binds.append(None)
        elif isinstance(x, Scalar):
            key_parts.append(("s", x.dtype))
            binds.append(x)
        elif isinstance(x, np.ndarray):      # small host metadata (sizes, strides)
            key_parts.append(("np", TORCH_OF_NUMPY[x.dtype.type], x.ndim))
            binds.append(x)
        elif isinstance(x, Raw):
            key_parts.append((x.dtype, len(x.shape), None))
            binds.append((x, x.dtype, tuple(x.shape), None))
        else:
            part, t, shape, target = _describe(x)
            key_parts.append(part)
            binds.append((t, x.dtype, shape, target))
    out_dtypes = tuple(o.dtype for o in outputs)
    key = (op, attrs, tuple(key_parts), out_dtypes)

    def make_graph():
        g = Graph(op)
        values = []
        for part in key_parts:
            if part is None:
                values.append(None)
            elif part[0] == "s":
                values.append(g.input(part[1], 0, "scalar"))
            elif part[0] == "np":
                values.append(g.input(part[1], part[2], "meta"))
            else:
                dtype, rank, layout = part
                v = g.input(dtype, rank)
                if layout is not None:
                    v, _ = _restore_view(g, v, layout, rank)
                values.append(v)
        result = build(g, *values)
        if isinstance(result, str):
            result = [result]
        for value, dtype in zip(result, out_dtypes):
            g.output(value, dtype)
        return g

    if outputs and all(o.numel() == 0 for o in outputs):
        return outputs              # nothing to write (and graphs over empty dims may not build)
    compiled = CACHE.get(key, make_graph)
    io = Binder(compiled.session)
    recorder = _recorder()
    seen_in, seen_out = ([], []) if recorder is not None else (None, None)
    names = iter(compiled.input_names)
    for b in binds:
        if b is None:
            continue
        if isinstance(b, (Scalar, np.ndarray)):
            arr = np.asarray(b.value, dtype=NUMPY_TYPE[b.dtype]) if isinstance(b, Scalar) else b
            name = next(names)
            io.array(name, arr)
            if recorder is not None:
                seen_in.append((name, arr, None, None))
            continue
        t, bind_dtype, shape, target = b
        name = next(names)
        io.pointer(name, ONNX_TYPE[bind_dtype], shape, _address(t))
        if recorder is not None:
            seen_in.append((name, t, ONNX_TYPE[bind_dtype], shape))
        if target is not None:
            name = next(names)
            io.array(name, target)
            if recorder is not None:
                seen_in.append((name, target, None, None))
    for name, o, dtype in zip(compiled.output_names, outputs, out_dtypes):
        if not isinstance(o, Raw) and not o.is_contiguous():
            raise AssertionError(f"onnxruntime backend: output of {op} must be contiguous")
        io.output(name, ONNX_TYPE[dtype], tuple(o.shape), _address(o))
        if recorder is not None:
            seen_out.append((name, o, ONNX_TYPE[dtype], tuple(o.shape)))
    io.run()
    if recorder is not None:
        recorder.saw(compiled, seen_in, seen_out)
    return outputs
