"""TorchDispatchModes the worker uses around one case's op call.

* `RecordMode`: which aten overloads the call dispatched (in order), and which one raised.
* `SubstituteMode`: runs chosen overloads on ATen CPU (copy in, run, copy back) and everything
  else on the backend. A failing case that passes with overload X substituted blames X: that is
  how a wrong `add` is told apart from the ten other ops a composite sample calls
  (the worker's blame step).
* `TraceMode`: writes "> op" / "< op" lines with unbuffered os.write, so after a segfault or a
  hang the parent reads which kernel never returned.
* `OverrideMode`: replaces chosen overloads with Python functions; the reference target's way to
  carry planted-bug kernels before (or without) the deeplink device.

Modes see ops after autograd and CompositeImplicitAutograd decomposition, i.e. the ops a backend
is asked to run, which is the granularity at which a backend can be wrong.
"""
from __future__ import annotations

import os

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map

from deeplink.opset.names import from_op


def is_view_op(func) -> bool:
    """Ops returning aliases of an input (view, t, expand, ...): pure metadata, never substituted."""
    returns = func._schema.returns
    return bool(returns) and all(r.alias_info is not None and not r.alias_info.is_write for r in returns)


class RecordMode(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.seen: list[str] = []
        self.views: set[str] = set()
        self.raised_in: str | None = None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = from_op(func)
        if name not in self.seen:
            self.seen.append(name)
            if is_view_op(func):
                self.views.add(name)
        try:
            return func(*args, **(kwargs or {}))
        except Exception:
            if self.raised_in is None:
                self.raised_in = name
            raise


def _to(device):
    def move(x):
        return x.to(device) if isinstance(x, torch.Tensor) else x
    return move


class SubstituteMode(TorchDispatchMode):
    """Run `names` on ATen CPU; results are copied back to `device` (in-place ops write back into
    the device tensors they mutated)."""

    def __init__(self, names, device: str):
        super().__init__()
        self.names = set(names)
        self.device = device

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if from_op(func) not in self.names:
            return func(*args, **kwargs)
        cpu_args, cpu_kwargs = tree_map(_to("cpu"), (args, kwargs))
        if "device" in cpu_kwargs and cpu_kwargs["device"] is not None:
            cpu_kwargs["device"] = "cpu"
        out = func(*cpu_args, **cpu_kwargs)
        # Write back every argument the schema says the op mutates.
        mutated = []
        for i, arg in enumerate(func._schema.arguments):
            if arg.alias_info is not None and arg.alias_info.is_write:
                original = args[i] if i < len(args) and not arg.kwarg_only else kwargs.get(arg.name)
                computed = cpu_args[i] if i < len(args) and not arg.kwarg_only else cpu_kwargs.get(arg.name)
                pairs = zip(original, computed) if isinstance(original, (list, tuple)) else [(original, computed)]
                for o, c in pairs:
                    if isinstance(o, torch.Tensor):
                        if o.shape != c.shape:     # an out= argument the op resized
                            o.resize_(c.shape)
                        o.copy_(c)
                        mutated.append((c, o))

        def back(x):
            if not isinstance(x, torch.Tensor):
                return x
            for c, o in mutated:
                if x is c:
                    return o
            return x.to(self.device)
        return tree_map(back, out)


class TraceMode(TorchDispatchMode):
    def __init__(self, fd: int):
        super().__init__()
        self.fd = fd

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = from_op(func)
        os.write(self.fd, f"> {name}\n".encode())
        out = func(*args, **(kwargs or {}))
        os.write(self.fd, f"< {name}\n".encode())
        return out


def last_unfinished(trace_text: str) -> str | None:
    """The op a TraceMode log entered last and never left (the crashing or hanging kernel)."""
    stack: list[str] = []
    for line in trace_text.splitlines():
        if line.startswith("> "):
            stack.append(line[2:])
        elif line.startswith("< ") and stack:
            stack.pop()
    return stack[-1] if stack else None


class OverrideMode(TorchDispatchMode):
    """Replace overloads by Python functions (called with the aten arguments)."""

    def __init__(self, kernels: dict):
        super().__init__()
        self.kernels = dict(kernels)
        self.disabled: set[str] = set()
        self.calls: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = from_op(func)
        fn = self.kernels.get(name)
        if fn is None or name in self.disabled:
            return func(*args, **(kwargs or {}))
        self.calls[name] = self.calls.get(name, 0) + 1
        return fn(*args, **(kwargs or {}))
