"""Lowering into one ONNX graph: the eager kernels of ops/*.py, run on meta tensors, append their
nodes to a shared Graph instead of running them.

While a `Tracer` is active on a thread, `execute.run` hands it each call: the call's tensor inputs
become the graph values that produced them, its build function adds its nodes, and its outputs
(meta tensors the kernel allocated) are bound to the values it built. So every op has exactly one
lowering, the eager one, and a whole graph is those lowerings chained.

Values are dense: a bound meta tensor is contiguous (kernel outputs and graph inputs are). A
kernel may look at a bound tensor through a view (a transpose, a reshape, a slice); `value_of`
expresses the view as nodes (Reshape, Transpose, Expand, or a Gather of the flat elements).
What cannot be traced raises `Untraceable`: raw storage spans, tensors that no value produced,
writes to a bound tensor (a meta write would not happen in the graph), data reads (a meta tensor
has no data). The caller then runs that op eagerly.
"""
from __future__ import annotations

import threading

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from .graph import Graph, NUMPY_TYPE

TORCH_OF_NUMPY = {v: k for k, v in NUMPY_TYPE.items()}

_active = threading.local()


class Untraceable(Exception):
    """This op cannot be lowered into the graph; it runs eagerly instead."""


def active():
    """The tracer of this thread, or None (the eager path)."""
    return getattr(_active, "tracer", None)


def _storage_key(t: torch.Tensor) -> int:
    return t.untyped_storage()._cdata


class _RefuseWrites(TorchDispatchMode):
    """Kernels may compute on meta tensors (views, empty); a write would be lost from the graph."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func._schema.is_mutable:
            raise Untraceable(f"the kernel writes with {func} outside a graph node")
        return func(*args, **(kwargs or {}))


class Tracer:
    def __init__(self, name: str):
        self.g = Graph(name)
        self._bound: dict[int, tuple[torch.Tensor, str]] = {}   # storage -> (dense tensor, value)

    # -- values of tensors ----------------------------------------------------------------------
    def bind(self, t: torch.Tensor, value: str) -> None:
        """`t` (contiguous, offset 0) is the value `value` from now on."""
        self._bound[_storage_key(t)] = (t, value)

    def input(self, dtype: torch.dtype, shape) -> tuple[torch.Tensor, str]:
        """A new graph input and the meta tensor that stands for it in kernels."""
        value = self.g.input(dtype, len(shape))
        meta = torch.empty(tuple(shape), dtype=dtype, device="meta")
        self.bind(meta, value)
        return meta, value

    def value_of(self, t: torch.Tensor) -> str:
        if t.device.type != "meta":
            return self._constant(t)
        found = self._bound.get(_storage_key(t))
        if found is None or t.dtype != found[0].dtype:
            raise Untraceable("a kernel passed a tensor that no graph value produced")
        base, value = found
        if t.shape == base.shape and t.stride() == base.stride() and t.storage_offset() == 0:
            return value
        if t.numel() == 0:
            return self.g.fill(self.g.ints(t.shape), 0, t.dtype)
        if t.storage_offset() == 0 and t.numel() == base.numel():
            if t.is_contiguous():
                return self._reshape(value, t.shape)
            permuted = self._permuted(value, t)
            if permuted is not None:
                return permuted
        return self._gather(value, t)

    def _reshape(self, value: str, shape) -> str:
        out = self.g.op("Reshape", value, self.g.ints(shape))
        self.g.ranks[out] = len(shape)
        return out

    def _permuted(self, value: str, t: torch.Tensor) -> str | None:
        """A dense block seen through a permutation: reshape to the block, transpose back."""
        from .execute import _dense_order
        dense = _dense_order(t)
        if dense is None or dense[1]:
            return None
        order = dense[0]
        block = self._reshape(value, [t.shape[d] for d in order])
        out = self.g.op("Transpose", block, perm=[order.index(d) for d in range(t.dim())])
        self.g.ranks[out] = t.dim()
        return out

    def _gather(self, value: str, t: torch.Tensor) -> str:
        """Any strided view: the flat positions of its elements, a constant (shapes are static)."""
        idx = np.full((), t.storage_offset(), dtype=np.int64)
        for d, (size, stride) in enumerate(zip(t.shape, t.stride())):
            shape = [1] * t.dim()
            shape[d] = size
            idx = idx + (np.arange(size, dtype=np.int64) * stride).reshape(shape)
        flat = self._reshape(value, [-1])
        out = self.g.op("Gather", flat, self.g.const(idx, torch.int64), axis=0)
        self.g.ranks[out] = t.dim()
        return out

    def _constant(self, t: torch.Tensor) -> str:
        if t.device.type != "cpu" or t.numel() > 64:
            raise Untraceable(f"a {t.device.type} tensor of {t.numel()} elements inside the graph")
        if t.dtype not in NUMPY_TYPE and t.dtype != torch.bfloat16:
            raise Untraceable(f"a constant of dtype {t.dtype}")
        data = t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()
        return self.g.const(data, t.dtype)

    # -- what execute.run does while tracing -----------------------------------------------------
    def run(self, op: str, attrs: tuple, inputs: list, outputs: list, build):
        from .execute import Raw, Scalar
        values = []
        for x in inputs:
            if x is None:
                values.append(None)
            elif isinstance(x, Scalar):
                values.append(self.g.const(x.value, x.dtype))
            elif isinstance(x, np.ndarray):
                values.append(self.g.const(x, TORCH_OF_NUMPY[x.dtype.type]))
            elif isinstance(x, Raw):
                raise Untraceable(f"{op} binds raw storage spans")
            else:
                values.append(self.value_of(x))
        if any(isinstance(o, Raw) for o in outputs):
            raise Untraceable(f"{op} writes raw storage spans")
        if outputs and all(o.numel() == 0 for o in outputs):
            result = [self.g.fill(self.g.ints(o.shape), 0, o.dtype) for o in outputs]
        else:
            result = build(self.g, *values)
            if isinstance(result, str):
                result = [result]
        for o, value in zip(outputs, result):
            if not o.is_contiguous() or o.storage_offset() != 0:
                raise Untraceable(f"{op} writes a strided output")
            self.bind(o, self.g.cast(value, o.dtype))
        return outputs

    def call(self, fn, *args, **kwargs):
        """Run kernel `fn` with this tracer active: its runs become nodes of this graph."""
        previous = active()
        _active.tracer = self
        try:
            with _RefuseWrites():
                return fn(*args, **kwargs)
        finally:
            _active.tracer = previous
