"""A small backend for tests: memory from libc through a Python runtime, two Python kernels
(add.Tensor, mul.Tensor) for float32 only. Everything else must decompose or fall back."""
import torch

import deeplink
from deeplink.backend import Availability, Backend
from deeplink.kernels import PythonKernel
from deeplink.runtime import HostRuntime

class RecordingRuntime(HostRuntime):
    """libc host memory that records what the shim asked of it."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def malloc(self, device, nbytes):
        self.calls.append(("malloc", nbytes))
        return super().malloc(device, nbytes)

    def memcpy(self, dst, src, nbytes, kind, device, stream):
        self.calls.append(("memcpy", kind, nbytes))
        super().memcpy(dst, src, nbytes, kind, device, stream)


def _binary(fn):
    def kernel(self, other, *args, **kwargs):
        a = deeplink.host_view(self)
        b = deeplink.host_view(other) if other.device.type == "deeplink" else other
        res = fn(a, b, *args, **kwargs)
        out = torch.empty(res.shape, dtype=res.dtype, device=self.device)
        deeplink.host_view(out).copy_(res)
        return out
    return kernel


SEEN_DTYPES = []


def _sum(self, *, dtype=None):
    SEEN_DTYPES.append(dtype)  # the test checks this arrives as a torch.dtype, not an int
    res = deeplink.host_view(self).sum(dtype=dtype)
    out = torch.empty((), dtype=res.dtype, device=self.device)
    deeplink.host_view(out).copy_(res)
    return out


class MiniBackend(Backend):
    name = "mini"
    version = "0.1"
    priority = -100  # never the default

    def __init__(self):
        self.rt = RecordingRuntime()

    def probe(self):
        return Availability.yes(memory="libc malloc")

    def runtime(self):
        return self.rt

    def kernels(self):
        f32 = {torch.float32}
        return {
            "add.Tensor": PythonKernel(_binary(lambda a, b, alpha=1: torch.add(a, b, alpha=alpha)), frozenset(f32)),
            "mul.Tensor": PythonKernel(_binary(torch.mul), frozenset(f32)),
            "sum": PythonKernel(_sum, frozenset(f32)),
        }


def ensure_registered():
    try:
        return deeplink._registry.get("mini")
    except ValueError:
        return deeplink.register_backend(MiniBackend())
