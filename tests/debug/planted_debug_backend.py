"""Backends with one deliberately wrong kernel each, for the debugging kit's tests (the CPU reference
backend otherwise). Importing this file registers them:

    planted-gelu      gelu ignores `approximate` (always the exact erf form)
    planted-softmax   _softmax normalises over the wrong dimension when dim is the last one
    planted-gelu-backward   gelu_backward ignores `approximate` (the forward is right)
"""
from __future__ import annotations

from collections import ChainMap

import torch

import deeplink
from deeplink.backends.cpu import CpuBackend
from deeplink.kernels import PythonKernel


# The kernels compute with ATen CPU on zero-copy views of the deeplink tensors (deeplink.aten_view)
# and adopt the result (deeplink.from_aten), as kernels of ATen-device backends may.
def gelu_ignoring_approximate(x, approximate="none"):
    return deeplink.from_aten(torch.ops.aten.gelu.default(deeplink.aten_view(x)))


def gelu_backward_ignoring_approximate(grad, x, approximate="none"):
    return deeplink.from_aten(torch.ops.aten.gelu_backward.default(deeplink.aten_view(grad), deeplink.aten_view(x)))


def softmax_wrong_axis(x, dim, half_to_float):
    dim = dim % x.dim()
    if x.dim() >= 2 and dim == x.dim() - 1:
        dim = dim - 1
    return deeplink.from_aten(torch.ops.aten._softmax.default(deeplink.aten_view(x), dim, half_to_float))


class _Planted(CpuBackend):
    priority = -100
    verified_on = "test fixture"
    planted: dict = {}

    def kernels(self):
        return ChainMap({op: PythonKernel(fn, impl="planted") for op, fn in self.planted.items()},
                        super().kernels())


class PlantedGelu(_Planted):
    name = "planted-gelu"
    description = "CPU backend whose gelu ignores approximate (debugging-kit tests only)"
    planted = {"gelu": gelu_ignoring_approximate}


class PlantedSoftmax(_Planted):
    name = "planted-softmax"
    description = "CPU backend whose softmax normalises over the wrong axis (debugging-kit tests only)"
    planted = {"_softmax": softmax_wrong_axis}


class PlantedGeluBackward(_Planted):
    name = "planted-gelu-backward"
    description = "CPU backend whose gelu_backward ignores approximate (debugging-kit tests only)"
    planted = {"gelu_backward": gelu_backward_ignoring_approximate}


def register() -> None:
    known = {b["name"] for b in deeplink.list_backends()}
    for cls in (PlantedGelu, PlantedSoftmax, PlantedGeluBackward):
        if cls.name not in known:
            deeplink.register_backend(cls())


register()
