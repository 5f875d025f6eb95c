"""Move an ATen-level FX graph from the deeplink device to the ATen device behind the active
backend ("cpu" for the cpu backend, "cuda" for the cuda backend), and run the result on zero-copy
views: deeplink memory *is* memory of that ATen device, so a graph compiled for it (by Inductor,
or anything else) can read and write deeplink tensors directly.

`retarget_graph` returns a copy of the graph on the ATen device (device arguments and the fake
tensors in node metadata; the original stays as it is, since AOTAutograd reads the forward graph's
metadata again for the backward); `DeviceViews` turns deeplink inputs into ATen views before a call and the call's
ATen outputs back into deeplink tensors (views of an input stay views of that input).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch._subclasses.fake_tensor import FakeTensor

import deeplink

DEEPLINK = "deeplink"


def _is_deeplink(value) -> bool:
    return isinstance(value, torch.Tensor) and value.device.type == DEEPLINK


def _aten_device(device: torch.device, aten: str) -> torch.device:
    if aten == "cpu":
        return torch.device("cpu")
    return torch.device(aten, device.index if device.index is not None else torch.deeplink.current_device())


def _retarget_value(value, aten: str):
    if isinstance(value, torch.device) and value.type == DEEPLINK:
        return _aten_device(value, aten)
    if isinstance(value, FakeTensor) and value.device.type == DEEPLINK:
        return _fake_on(value, _aten_device(value.device, aten))
    if isinstance(value, (list, tuple)):
        out = [_retarget_value(v, aten) for v in value]
        return type(value)(out) if not hasattr(value, "_fields") else type(value)(*out)
    if isinstance(value, dict):
        return {k: _retarget_value(v, aten) for k, v in value.items()}
    return value


def _fake_on(fake: FakeTensor, device: torch.device) -> FakeTensor:
    """The same fake tensor (sizes, strides, offset, dtype, symbolic shapes) on another device."""
    mode = fake.fake_mode
    with torch._subclasses.fake_tensor.unset_fake_temporarily():
        meta = torch.empty_strided(fake.size(), fake.stride(), dtype=fake.dtype, device="meta")
        if fake.storage_offset() != 0:
            meta = meta.as_strided(fake.size(), fake.stride(), fake.storage_offset())
    moved = FakeTensor(mode, meta, device)
    moved.requires_grad_(fake.requires_grad)
    return moved


def retarget_graph(gm: torch.fx.GraphModule, aten: str) -> torch.fx.GraphModule:
    """A copy of `gm` with every deeplink device (call arguments, node metadata) on the ATen device."""
    for name, buf in list(gm.named_buffers()) + list(gm.named_parameters()):
        if _is_deeplink(buf):
            raise NotImplementedError(f"deeplink compile: graph attribute {name!r} lives on the device; "
                                      "lift it to a graph input")
    graph = torch.fx.Graph()
    graph.output(graph.graph_copy(gm.graph, {}))  # node metadata dicts are copied, their values shared
    gm = torch.fx.GraphModule(gm, graph)
    for node in gm.graph.nodes:
        node.args = _retarget_value(node.args, aten)
        node.kwargs = _retarget_value(node.kwargs, aten)
        for key in ("val", "example_value"):
            if key in node.meta:
                node.meta[key] = _retarget_value(node.meta[key], aten)
    gm.recompile()
    return gm


def retarget_inputs(example_inputs, aten: str) -> list:
    return [_retarget_value(v, aten) for v in example_inputs]


def output_devices(gm: torch.fx.GraphModule) -> list[bool]:
    """For each graph output: does the original (deeplink) graph produce it on deeplink?"""
    out = next(n for n in reversed(gm.graph.nodes) if n.op == "output")
    flat = out.args[0] if isinstance(out.args[0], (list, tuple)) else [out.args[0]]
    result = []
    for arg in flat:
        val = arg.meta.get("val") if isinstance(arg, torch.fx.Node) else None
        result.append(isinstance(val, torch.Tensor) and val.device.type == DEEPLINK)
    return result


@dataclass
class DeviceViews:
    """Maps a call's arguments to ATen views and its results back to deeplink tensors."""
    deeplink_outputs: list[bool]

    def inputs(self, args) -> tuple[list, list]:
        views, bases = [], []
        for a in args:
            if _is_deeplink(a):
                views.append(deeplink.aten_view(a))
                bases.append(a)
            else:
                views.append(a)
        return views, bases

    def outputs(self, results, bases) -> list:
        by_storage = {b.untyped_storage().data_ptr(): b for b in bases}
        mapped = []
        for is_dl, r in zip(self.deeplink_outputs, results):
            if not (is_dl and isinstance(r, torch.Tensor)):
                mapped.append(r)
                continue
            base = by_storage.get(r.untyped_storage().data_ptr()) if r.untyped_storage().nbytes() else None
            if base is not None:  # a view of (or the same memory as) an input: a deeplink view of that input
                mapped.append(base.as_strided(r.size(), r.stride(), r.storage_offset()))
            else:
                mapped.append(deeplink.from_aten(r))
        return mapped
