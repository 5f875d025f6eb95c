"""Kernels on raw emulated device pointers, without the deeplink core.

In the emulator, device memory is host memory, so a block from aclrtMalloc can be looked at as a
CPU tensor (torch.frombuffer over the address). `HostPointerContext` gives the op runner exactly
that: outputs and workspaces come from aclrtMalloc, kernels run on the runtime's default stream,
and `upload` / `download` copy through aclrtMemcpyAsync + aclrtSynchronizeStream like the
backend's runtime does. Reading a result tensor directly, without `download` or a synchronize,
shows what the device has actually written so far (nothing, in the emulator's lazy mode).

Test-only: on real hardware device memory is not host-addressable.
"""
from __future__ import annotations

import ctypes
import math

import torch

from deeplink.runtime import D2H, H2D

from deeplink.backends.ascend.ops.runner import DeviceContext


class HostPointerContext(DeviceContext):
    def __init__(self, runtime, device: int = 0, seed: int = 0):
        self.runtime = runtime
        self.device = device
        self.blocks: dict[int, int] = {}  # pointer -> bytes
        self.generator = torch.Generator().manual_seed(seed)

    # -- DeviceContext ---------------------------------------------------------------------------
    def is_device_tensor(self, t) -> bool:
        if t.numel() == 0 and t.untyped_storage().nbytes() == 0:
            return False
        p = t.untyped_storage().data_ptr()
        return any(base <= p < base + n for base, n in self.blocks.items())

    def device_of(self, t) -> int:
        return self.device

    def current_device(self) -> int:
        return self.device

    def empty(self, shape, dtype, device: int):
        shape = tuple(int(s) for s in shape)
        itemsize = torch.empty((), dtype=dtype).element_size()
        nbytes = max(math.prod(shape) * itemsize, itemsize)
        ptr = self.runtime.malloc(device, nbytes)
        self.blocks[ptr] = nbytes
        raw = (ctypes.c_byte * nbytes).from_address(ptr)
        return torch.frombuffer(raw, dtype=dtype)[: math.prod(shape)].view(shape)

    def stream(self, device: int) -> int:
        self.runtime.bind(device)
        return self.runtime.default_stream(device)

    def cpu_generator(self, generator, device: int) -> torch.Generator:
        return generator if generator is not None else self.generator

    # -- host <-> device -------------------------------------------------------------------------
    def upload(self, cpu: torch.Tensor):
        cpu = cpu.contiguous()
        t = self.empty(cpu.shape, cpu.dtype, self.device)
        if cpu.numel():
            self.runtime.memcpy(t.data_ptr(), cpu.data_ptr(), cpu.numel() * cpu.element_size(), H2D, self.device, 0)
        return t

    def download(self, t) -> torch.Tensor:
        """A CPU copy of device tensor t (any strides), through aclrtMemcpyAsync + synchronize."""
        base = t.untyped_storage().data_ptr()
        nbytes = t.untyped_storage().nbytes()
        host = torch.empty(nbytes, dtype=torch.uint8)
        if nbytes:
            self.runtime.memcpy(host.data_ptr(), base, nbytes, D2H, self.device, 0)
        return host.view(t.dtype).as_strided(t.shape, t.stride(), t.storage_offset()).clone()

    def close(self) -> None:
        """Frees every block (after the device has finished with them)."""
        for ptr in list(self.blocks):
            self.runtime.free(self.device, ptr)
        self.blocks.clear()
