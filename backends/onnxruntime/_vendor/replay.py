"""Replayed kernel calls: a kernel called again with the same signature (dtypes, shapes, strides
and devices of its tensors, values of everything else) skips its Python entirely.

The first call with a signature runs the kernel while a recorder watches: `execute.run` reports
the graph it ran and what it bound. The call becomes a `Plan` when it depended on nothing but its
signature: exactly one graph run, every bound tensor an argument of the call or an output the
kernel allocated, every other input a constant (Scalars and shape arrays, fixed by the
signature), and no dispatched op besides allocating outputs (so no data read such as `.item()`,
no copies, no nested kernels). Random ops are never replayed (their seeds change per call).

A plan keeps its own IO binding with the constants bound once (persistent bindings); a replay
allocates the outputs, rebinds only the pointers that changed since the last call, and runs.
"""
from __future__ import annotations

import threading

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._python_dispatch import _get_current_dispatch_mode as _current_mode

from . import providers as _providers
from .binding import Binder

_state = threading.local()
_empty = torch.empty_strided
_NO = object()          # a part of the call that a signature cannot describe
_REFUSED = object()     # a signature whose call was recorded and found not replayable
# Ops a kernel may dispatch and still depend on its signature alone: allocating its outputs, and
# type promotion and casting rules (metadata only).
_HARMLESS = frozenset({torch.ops.aten.empty.memory_format, torch.ops.aten.empty_strided.default,
                       torch.ops.aten.can_cast.default, torch.ops.aten.promote_types.default,
                       *(getattr(torch.ops.aten.result_type, o) for o in torch.ops.aten.result_type.overloads())})
_READS = frozenset({torch.ops.aten._local_scalar_dense.default, torch.ops.aten.item.default})
MAX_PLANS = 256         # per kernel; beyond, the kernel's plans are dropped and recorded anew


class Stats:
    def __init__(self):
        self.replayed = self.recorded = self.refused = 0

    def as_dict(self) -> dict:
        return {"replayed": self.replayed, "recorded": self.recorded, "refused": self.refused}


STATS = Stats()
_all_plans: list[dict] = []   # every kernel's plans, dropped together when the providers change


def _drop_all() -> None:
    for plans in _all_plans:
        plans.clear()


_providers.on_change(_drop_all)


def recorder():
    """The recorder of this thread while a first call is recorded, else None."""
    return getattr(_state, "recorder", None)


# ------------------------------------------------------------------------------------ signatures

_Tensor = torch.Tensor
_default_dtype = torch.get_default_dtype
_PLAIN = (str, torch.dtype, torch.device, torch.layout, torch.memory_format)


def _part(a):
    if isinstance(a, _Tensor):
        if a.is_cpu:                    # a wrapped number (`x + 2`): its value is part of the call
            return ("cpu", a.dtype, a.item()) if a.dim() == 0 else _NO
        return (a.dtype, a.shape, a.stride(), a.get_device())
    if a is None or isinstance(a, _PLAIN):
        return a
    if isinstance(a, (bool, int, float)):
        return (type(a), a)             # 1, 1.0 and True are equal keys otherwise
    if isinstance(a, (list, tuple)):
        parts = tuple(_part(x) for x in a)
        return _NO if any(p is _NO or isinstance(x, _Tensor) for p, x in zip(parts, a)) else parts
    return _NO


def signature(args: tuple, kwargs: dict):
    """What a call depends on besides its tensors' data, as a dict key; None when some argument
    cannot be described (tensor lists, CPU tensors that are not numbers, other objects)."""
    key = [_default_dtype()]
    for a in args:
        p = _part(a)
        if p is _NO:
            return None
        key.append(p)
    for k, v in kwargs.items():
        p = _part(v)
        if p is _NO:
            return None
        key += (k, p)
    return tuple(key)


# ------------------------------------------------------------------------------------ recording

class _Recorder:
    def __init__(self):
        self.runs = []

    def saw(self, compiled, inputs, outputs) -> None:
        self.runs.append((compiled, inputs, outputs))


class _Watch(TorchDispatchMode):
    """Notes the first op the kernel dispatches that is not harmless (see _HARMLESS)."""

    def __init__(self):
        super().__init__()
        self.other = None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in _READS and not isinstance(args[0], _Tensor):
            return args[0]      # a wrapped number reaches modes as the number itself
        wrapped_number = func in _READS and args[0].device.type == "cpu"   # its value is in the signature
        if func not in _HARMLESS and not wrapped_number and self.other is None:
            self.other = func
        return func(*args, **(kwargs or {}))


class NotReplayable(Exception):
    pass


def _index(obj, flat: list) -> int:
    for i, a in enumerate(flat):
        if a is obj:
            return i
    raise NotReplayable


class Plan:
    """One recorded call, replayed: (kind, index) sources are ("arg", i) or ("new", j)."""

    __slots__ = ("_io", "_lock", "_tensors", "_last", "_new", "_returns", "_single")

    def __init__(self, compiled, inputs, outputs, flat: list, result):
        self._io = Binder(compiled.session)
        self._lock = threading.Lock()
        self._tensors = []                      # (bind fn, name, onnx type, shape, source)
        self._new = []                          # (shape, stride, dtype, device) of each allocated output
        fresh = []
        for name, obj, onnx_type, shape in inputs:
            if onnx_type is None:
                self._io.array(name, obj)       # constant: bound once
            else:
                self._tensors.append((self._io.pointer, name, onnx_type, shape, ("arg", _index(obj, flat))))
        for name, o, onnx_type, shape in outputs:
            if not isinstance(o, torch.Tensor):
                raise NotReplayable
            try:
                source = ("arg", _index(o, flat))
            except NotReplayable:
                source = ("new", len(self._new))
                self._new.append((tuple(o.shape), o.stride(), o.dtype, o.device))
                fresh.append(o)
            self._tensors.append((self._io.output, name, onnx_type, shape, source))
        self._last = [None] * len(self._tensors)
        self._single = not isinstance(result, (tuple, list))
        self._returns = []
        for r in [result] if self._single else result:
            if not isinstance(r, torch.Tensor):
                raise NotReplayable
            try:
                self._returns.append(("new", _index(r, fresh)))
            except NotReplayable:
                self._returns.append(("arg", _index(r, flat)))
        if len({s for s in self._returns if s[0] == "new"}) != len(self._new):
            raise NotReplayable                 # an output the caller never sees: keep it simple

    def run(self, flat: list):
        """The call's results, or _NO when another thread is replaying this plan right now."""
        if not self._lock.acquire(False):
            return _NO
        try:
            new = [_empty(shape, stride, dtype=dtype, device=device) for shape, stride, dtype, device in self._new]
            sources = {"arg": flat, "new": new}
            last = self._last
            i = 0
            for bind, name, onnx_type, shape, (kind, j) in self._tensors:
                ptr = sources[kind][j].data_ptr()
                if last[i] != ptr:
                    bind(name, onnx_type, shape, ptr)
                    last[i] = ptr
                i += 1
            self._io.run()
        finally:
            self._lock.release()
        if self._single:
            kind, j = self._returns[0]
            return sources[kind][j]
        return tuple(sources[kind][j] for kind, j in self._returns)


def replaying(fn):
    """`fn` (a kernel) with its calls recorded and replayed as the module docstring says."""
    plans: dict = {}
    _all_plans.append(plans)

    def call(*args, **kwargs):
        sig = signature(args, kwargs)
        if sig is None:
            return fn(*args, **kwargs)
        plan = plans.get(sig)
        if plan is _REFUSED:
            return fn(*args, **kwargs)
        flat = [*args, *kwargs.values()]
        if plan is not None:
            result = plan.run(flat)
            if result is not _NO:
                STATS.replayed += 1
                return result
            return fn(*args, **kwargs)
        if _current_mode() is not None:   # another dispatch mode is on: ours would nest in it
            return fn(*args, **kwargs)
        return _record(fn, args, kwargs, flat, sig, plans)
    call.__wrapped__ = fn
    return call


def _record(fn, args, kwargs, flat, sig, plans):
    previous = recorder()
    rec = _state.recorder = _Recorder()
    watch = _Watch()
    try:
        with watch:
            result = fn(*args, **kwargs)
    finally:
        _state.recorder = previous
    if len(plans) >= MAX_PLANS:
        plans.clear()
    plan = _REFUSED
    if result is not NotImplemented and watch.other is None and len(rec.runs) == 1:
        try:
            plan = Plan(*rec.runs[0], flat, result)
        except NotReplayable:
            pass
    plans[sig] = plan
    if plan is _REFUSED:
        STATS.refused += 1
    else:
        STATS.recorded += 1
    return result


def replayable(op: torch._ops.OpOverload) -> bool:
    """Ops whose kernels may be replayed: all but random ones."""
    return torch.Tag.nondeterministic_seeded not in op.tags


