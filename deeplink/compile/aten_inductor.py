"""The graph compiler of backends built on an ATen device (cpu, cuda): Inductor itself, for that
device, run on zero-copy views of deeplink memory. The cpu backend thereby gets Inductor's C++ /
OpenMP code, the cuda backend Inductor's Triton kernels, each on deeplink tensors without copies.

This is the worked example of a backend graph compiler (see deeplink/compile/__init__.py): it
takes an ATen-level graph and its fake example inputs, and returns a function of real inputs.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import torch
from torch._inductor.output_code import OutputCode

from .graph_device import DeviceViews, output_devices, retarget_graph, retarget_inputs


@dataclasses.dataclass
class OnDeviceViews(OutputCode):
    """Inductor's compiled graph for the ATen device, called with ATen views of deeplink tensors."""
    inner: Any = None
    views: DeviceViews = None
    _boxed_call: bool = True

    def __call__(self, inputs: Sequence[Any]) -> Any:
        args, bases = self.views.inputs(inputs)
        if isinstance(inputs, list):
            inputs.clear()  # boxed calling convention: the callee owns (and frees) its inputs
        return self.views.outputs(self.inner(args), bases)

    def post_compile(self, example_inputs, constants, graph_kwargs) -> None:
        self.inner.post_compile(example_inputs, constants, graph_kwargs)

    def prepare_for_serialization(self) -> None:
        self.inner.prepare_for_serialization()

    def set_triton_bundle(self, triton_bundle: Any) -> None:
        self.inner.set_triton_bundle(triton_bundle)


def inductor_inner_compile(aten_device: str):
    """An `inner_compile` for torch._inductor.compile_fx: retargets the graph from deeplink to
    `aten_device`, compiles it with Inductor's own compile_fx_inner, and wraps the result."""
    from torch._inductor.compile_fx import compile_fx_inner

    def inner(gm: torch.fx.GraphModule, example_inputs, **kwargs):
        deeplink_outputs = output_devices(gm)
        compiled = compile_fx_inner(retarget_graph(gm, aten_device), retarget_inputs(example_inputs, aten_device), **kwargs)
        return OnDeviceViews(inner=compiled, views=DeviceViews(deeplink_outputs))
    return inner


def compile_aten_graph(gm: torch.fx.GraphModule, example_inputs, aten_device: str):
    """A complete `Backend.compile_graph` for a backend whose memory is `aten_device` memory: the
    AOTAutograd graph, retargeted, compiled by Inductor's compile_fx_inner, called on views."""
    from torch._inductor.compile_fx import compile_fx_inner
    views = DeviceViews(output_devices(gm))
    compiled = compile_fx_inner(retarget_graph(gm, aten_device), retarget_inputs(example_inputs, aten_device))

    def run(*args):
        inputs, bases = views.inputs(args)
        return views.outputs(compiled(inputs), bases)
    return run
