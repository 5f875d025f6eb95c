"""AtenKernels: every aten overload that ATen implements for an ATen device, as Passthrough."""
from __future__ import annotations

from collections.abc import Mapping

import torch

from deeplink.kernels import Passthrough
from deeplink.opset.names import qualified


class AtenKernels(Mapping):
    """Every aten overload that ATen implements for `device` ("cpu"/"cuda"), as Passthrough.

    The CPU reference and CUDA backends use this: their kernel set *is* ATen's, so it is read from
    the dispatcher rather than listed. Ops that only have composite kernels are not in it: those
    never reach a backend (they run as compositions of ops that do)."""

    def __init__(self, device: str):
        self._device = device
        self._key = {"cpu": "CPU", "cuda": "CUDA"}[device]
        self._kernel = Passthrough(device)
        self._names = None

    def __getitem__(self, name: str):
        if name not in self:
            raise KeyError(name)
        return self._kernel

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and torch._C._dispatch_has_kernel_for_dispatch_key(qualified(name), self._key)

    def _all(self):
        if self._names is None:
            self._names = sorted(n[len("aten::"):] for n in torch._C._dispatch_get_all_op_names()
                                 if n.startswith("aten::") and
                                 torch._C._dispatch_has_kernel_for_dispatch_key(n, self._key))
        return self._names

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())
