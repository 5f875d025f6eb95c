"""A deeplink backend named "planted": the CPU reference backend with deliberately wrong kernels
(planted_kernels.BUGS) and one missing one (tests/conformance/planted_kernels.py). Importing this file registers it; the conformance
workers import it through `--plugin tests/conformance/planted_backend.py`."""
from __future__ import annotations

import os
import sys
from collections import ChainMap
from collections.abc import Mapping

import torch

import deeplink
from deeplink.kernels import PythonKernel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import planted_kernels  # noqa: E402

from deeplink.backends.cpu import CpuBackend  # noqa: E402


def _on_host(fn):
    """Run a host-tensor kernel on deeplink tensors: host views in, result copied into a fresh
    deeplink tensor (the planted backend's memory is host memory)."""
    def kernel(*args, **kwargs):
        def view(x):
            return deeplink.host_view(x) if isinstance(x, torch.Tensor) and x.device.type == "deeplink" else x
        host = fn(*[view(a) for a in args], **{k: view(v) for k, v in kwargs.items()})
        out = torch.empty(host.shape, dtype=host.dtype, device="deeplink")
        deeplink.host_view(out).copy_(host)
        return out
    return kernel


class _Without(Mapping):
    """A kernel table minus some ops: those ops fall back to the CPU (or decompose)."""

    def __init__(self, table, missing_packets):
        self._table, self._missing = table, frozenset(missing_packets)

    def _gone(self, name) -> bool:
        return name.split(".", 1)[0] in self._missing      # every overload of the packet

    def __getitem__(self, name):
        if self._gone(name):
            raise KeyError(name)
        return self._table[name]

    def __contains__(self, name):
        return not self._gone(name) and name in self._table

    def __iter__(self):
        return (n for n in self._table if not self._gone(n))

    def __len__(self):
        return sum(1 for _ in self)


class PlantedBackend(CpuBackend):
    name = "planted"
    description = "CPU backend with planted bugs (conformance tests only)"
    priority = -100
    verified_on = "test fixture"

    def kernels(self):
        planted = {"add.Tensor": PythonKernel(_on_host(planted_kernels.noisy_add), impl="planted: noisy"),
                   "sum.dim_IntList": PythonKernel(_on_host(planted_kernels.wrong_dim_sum), impl="planted: wrong dim"),
                   "abs": PythonKernel(planted_kernels.segfault, impl="planted: segfault")}
        planted.update({op: PythonKernel(fn, impl="planted: " + planted_kernels.BUGS[op][3])
                        for op, fn in planted_kernels.DEVICE_KERNELS.items()})
        return ChainMap(planted, _Without(super().kernels(), planted_kernels.MISSING))


if not any(b["name"] == "planted" for b in deeplink.list_backends()):
    deeplink.register_backend(PlantedBackend())
