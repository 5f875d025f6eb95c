"""torch.compile on the deeplink device.

What `import deeplink` registers, once torch._dynamo / Inductor are imported (import hooks, so
importing deeplink does not import the compiler stack):

* the dynamo device interface for "deeplink" (device_interface.py);
* the `deeplink` compile backend: `torch.compile(fn, backend="deeplink")` (backend.py);
* graphs on deeplink tensors in the default `torch.compile(fn)` (Inductor): Inductor's own code
  generator of the ATen device behind the backend (C++ for cpu, Triton for cuda) on zero-copy
  views (aten_inductor.py); backends without an ATen device take the `deeplink` backend's route.

A vendor backend supplies a graph compiler through its Backend object:

    class MyBackend(deeplink.Backend):
        def compile_graph(self, gm, example_inputs):
            # gm: torch.fx.GraphModule of ATen ops (AOTAutograd's forward or backward graph,
            #     functional, decomposed by graph_decompositions()); its inputs and outputs are
            #     deeplink tensors. example_inputs: fake tensors with their shapes and dtypes.
            # Return a callable taking the graph's inputs positionally and returning its outputs
            # as a list/tuple (like gm.forward), or None (or raise NotImplementedError) to let
            # the graph run op by op on the backend's kernels.
            ...

        def graph_decompositions(self):   # optional; default: torch._decomp.core_aten_decompositions()
            return {...}

deeplink.compile.aten_inductor.compile_aten_graph is a complete compile_graph for backends whose
memory is an ATen device's (the worked example; the cpu backend's compile_graph calls it).
"""
from __future__ import annotations

from .import_hooks import when_imported


def _register_dynamo() -> None:
    import torch._dynamo
    from torch._dynamo.backends.registry import _COMPILER_FNS
    from torch._dynamo.device_interface import register_interface_for_device

    from .backend import deeplink_backend
    from .device_interface import DeeplinkInterface
    register_interface_for_device("deeplink", DeeplinkInterface)
    if "deeplink" not in _COMPILER_FNS:
        torch._dynamo.register_backend(deeplink_backend, name="deeplink")


def _wrap_inductor() -> None:
    import torch._inductor.compile_fx as cfx

    from .backend import default_inductor
    if not hasattr(cfx.compile_fx, "_deeplink_wrapped"):
        cfx.compile_fx = default_inductor(cfx.compile_fx)


def install() -> None:
    when_imported("torch._dynamo", _register_dynamo)
    when_imported("torch._inductor.compile_fx", _wrap_inductor)
