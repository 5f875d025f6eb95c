"""Backends with one deliberately wrong kernel each, for the debugging kit's tests (the CPU reference
backend otherwise). Importing this file registers them:

    planted-gelu      gelu ignores `approximate` (always the exact erf form)
    planted-softmax   _softmax normalises over the wrong dimension when dim is the last one
"""
from __future__ import annotations

from collections import ChainMap

import torch

import deeplink
from deeplink.backends.cpu import CpuBackend
from deeplink.kernels import PythonKernel


def _on_host(fn):
    """A kernel over host views of deeplink tensors, its result copied into a new deeplink tensor."""
    def kernel(*args, **kwargs):
        def view(x):
            return deeplink.host_view(x) if isinstance(x, torch.Tensor) and x.device.type == "deeplink" else x
        host = fn(*[view(a) for a in args], **{k: view(v) for k, v in kwargs.items()})
        out = torch.empty(host.shape, dtype=host.dtype, device="deeplink")
        deeplink.host_view(out).copy_(host)
        return out
    return kernel


def gelu_ignoring_approximate(x, approximate="none"):
    return torch.ops.aten.gelu.default(x)


def softmax_wrong_axis(x, dim, half_to_float):
    dim = dim % x.dim()
    if x.dim() >= 2 and dim == x.dim() - 1:
        dim = dim - 1
    return torch.ops.aten._softmax.default(x, dim, half_to_float)


class _Planted(CpuBackend):
    priority = -100
    verified_on = "test fixture"
    planted: dict = {}

    def kernels(self):
        return ChainMap({op: PythonKernel(_on_host(fn), impl="planted") for op, fn in self.planted.items()},
                        super().kernels())


class PlantedGelu(_Planted):
    name = "planted-gelu"
    description = "CPU backend whose gelu ignores approximate (debugging-kit tests only)"
    planted = {"gelu": gelu_ignoring_approximate}


class PlantedSoftmax(_Planted):
    name = "planted-softmax"
    description = "CPU backend whose softmax normalises over the wrong axis (debugging-kit tests only)"
    planted = {"_softmax": softmax_wrong_axis}


def register() -> None:
    known = {b["name"] for b in deeplink.list_backends()}
    for cls in (PlantedGelu, PlantedSoftmax):
        if cls.name not in known:
            deeplink.register_backend(cls())


register()
