"""A small backend for tests: memory from libc through a Python runtime, two Python kernels
(add.Tensor, mul.Tensor) for float32 only. Everything else must decompose or fall back."""
import ctypes

import torch

import deeplink
from deeplink.backend import Availability, Backend
from deeplink.kernels import PythonKernel
from deeplink.runtime import Runtime

_libc = ctypes.CDLL(None)
_libc.malloc.restype = ctypes.c_void_p
_libc.malloc.argtypes = [ctypes.c_size_t]
_libc.free.argtypes = [ctypes.c_void_p]


class LibcRuntime(Runtime):
    host_accessible = True

    def __init__(self):
        self.live = {}
        self.calls = []

    def device_count(self):
        return 1

    def malloc(self, device, nbytes):
        p = _libc.malloc(nbytes)
        self.live[p] = nbytes
        self.calls.append(("malloc", nbytes))
        return p

    def free(self, device, ptr):
        self.live.pop(ptr)
        _libc.free(ptr)

    def memcpy(self, dst, src, nbytes, kind, device, stream):
        self.calls.append(("memcpy", kind, nbytes))
        ctypes.memmove(dst, src, nbytes)


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
        self.rt = LibcRuntime()

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
