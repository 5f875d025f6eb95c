"""`torch.compile(fn, backend="deeplink")`, and the default `torch.compile(fn)` on deeplink tensors.

Which compiler a graph gets depends on the active backend:

1. a backend with a graph compiler (`Backend.compile_graph`, see deeplink/compile/__init__.py)
   gets AOTAutograd's forward and backward graphs (ATen ops, decomposed with the backend's
   `graph_decompositions()`) and compiles them itself;
2. a backend built on an ATen device (cpu, cuda) without its own compiler gets Inductor for that
   device, run on zero-copy views (aten_inductor.py);
3. any other backend runs the AOTAutograd graphs op by op on the device (every op dispatches to
   the backend's kernels, as in eager mode), with a one-time notice.

The default `torch.compile(fn)` (Inductor) takes route 2 for every ATen-device backend (Inductor's
full pipeline for that device) and otherwise behaves as backend="deeplink", since Inductor has no
code generator for a vendor's device.

A compiled graph belongs to the backend that was active when it was compiled, but dynamo's guards
(shapes, dtypes, device type) cannot see which deeplink backend is active. So `deeplink.use()`
switching away from a backend that compiled graphs drops dynamo's compiled code
(`torch._dynamo.reset()`, forget_other_backends below): the next call recompiles for the new backend.
"""
from __future__ import annotations

import functools
import sys
import warnings

import torch

from deeplink import registry


def _vendor_compiler(rec):
    compile_graph = rec.backend.compile_graph
    if compile_graph is None:
        return None

    def compile_one(gm: torch.fx.GraphModule, example_inputs):
        from torch._functorch.aot_autograd import make_boxed_func
        try:
            fn = compile_graph(gm, example_inputs)
        except NotImplementedError as e:
            fn = None
            reason = str(e)
        else:
            reason = "its compile_graph returned None"
        if fn is None:
            _warn_once(rec.name, f"backend '{rec.name}' declined a graph ({reason}); it runs op by op on the device")
            return make_boxed_func(gm.forward)
        if getattr(fn, "_boxed_call", False):
            return fn
        return make_boxed_func(fn)
    return compile_one


def _decompositions(rec):
    if rec.backend.graph_decompositions is not None:
        return rec.backend.graph_decompositions()
    from torch._decomp import core_aten_decompositions
    return core_aten_decompositions()


_warned: set = set()
_compiled_for: set = set()  # names of the backends dynamo holds compiled deeplink graphs of


def forget_other_backends(active: str) -> None:
    """Called when `active` becomes the active backend: drop dynamo's compiled code if any of it was
    compiled for another deeplink backend (its guards would let it run here)."""
    if _compiled_for - {active} and "torch._dynamo" in sys.modules:
        sys.modules["torch._dynamo"].reset()
        _compiled_for.clear()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(f"deeplink: {message}", stacklevel=3)


def _op_by_op(gm: torch.fx.GraphModule, example_inputs):
    from torch._functorch.aot_autograd import make_boxed_func
    return make_boxed_func(gm.forward)


def deeplink_backend(gm: torch.fx.GraphModule, example_inputs, **kwargs):
    """The `deeplink` torch.compile backend (registered with torch._dynamo)."""
    from torch._dynamo.backends.common import aot_autograd
    rec = registry.active()
    _compiled_for.add(rec.name)
    compile_one = _vendor_compiler(rec)
    if compile_one is not None:
        return aot_autograd(fw_compiler=compile_one, bw_compiler=compile_one,
                            decompositions=_decompositions(rec))(gm, example_inputs)
    if rec.backend.aten_device is not None:
        from torch._inductor.compile_fx import compile_fx
        return compile_fx(gm, example_inputs, **kwargs)  # Inductor on the ATen device (see default_inductor)
    _warn_once(rec.name, f"backend '{rec.name}' has no graph compiler (Backend.compile_graph); compiled graphs run "
               "op by op on its kernels")
    return aot_autograd(fw_compiler=_op_by_op, bw_compiler=_op_by_op)(gm, example_inputs)


def _on_deeplink(example_inputs) -> bool:
    return any(isinstance(t, torch.Tensor) and t.device.type == "deeplink" for t in example_inputs)


def default_inductor(compile_fx):
    """Wraps torch._inductor.compile_fx.compile_fx: graphs on deeplink tensors take the routes
    in this module's docstring; every other graph is Inductor's as before."""
    @functools.wraps(compile_fx)
    def compile_fx_on_deeplink(model_, example_inputs_, inner_compile=None, **kwargs):
        if not _on_deeplink(example_inputs_):
            if inner_compile is not None:
                kwargs["inner_compile"] = inner_compile
            return compile_fx(model_, example_inputs_, **kwargs)
        rec = registry.active()
        if rec.backend.aten_device is None:
            return deeplink_backend(model_, example_inputs_)
        _compiled_for.add(rec.name)
        from .aten_inductor import inductor_inner_compile
        return compile_fx(model_, example_inputs_, inner_compile=inductor_inner_compile(rec.backend.aten_device),
                          **kwargs)
    compile_fx_on_deeplink._deeplink_wrapped = compile_fx
    return compile_fx_on_deeplink
