"""Device memory of the onnxruntime backend: aligned host memory that ORT's CPU EP reads in place.

Buffers are numpy byte arrays held in a table keyed by their (aligned) address; freeing drops the
reference. 64-byte alignment matches what ORT's own CPU allocator gives its kernels (MLAS uses
aligned vector loads on the fast paths). Copies are plain memmove: host and "device" are the same
memory, which is also what makes `deeplink.host_view` zero-copy on this backend.
"""
from __future__ import annotations

import ctypes
import threading

import numpy as np

from deeplink.runtime import D2D, D2H, H2D, MEMCPY_KIND_NAMES, Runtime, RuntimeError_

ALIGNMENT = 64


class HostRuntime(Runtime):
    host_accessible = True

    def __init__(self):
        self._buffers: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()
        self.bytes_in_use = 0
        self.peak_bytes = 0

    def device_count(self) -> int:
        return 1

    def _check_device(self, device: int) -> None:
        if device != 0:
            raise RuntimeError_(f"onnxruntime backend: device {device} does not exist "
                                f"(it has one host-memory device, index 0)")

    def malloc(self, device: int, nbytes: int) -> int:
        self._check_device(device)
        # Over-allocate so the returned address can be rounded up to ALIGNMENT; never 0 bytes,
        # so every allocation has a distinct, non-null address.
        raw = np.empty(max(int(nbytes), 1) + ALIGNMENT, dtype=np.uint8)
        base = raw.ctypes.data
        ptr = (base + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
        with self._lock:
            self._buffers[ptr] = raw
            self.bytes_in_use += raw.nbytes
            self.peak_bytes = max(self.peak_bytes, self.bytes_in_use)
        return ptr

    def free(self, device: int, ptr: int) -> None:
        with self._lock:
            raw = self._buffers.pop(ptr, None)
            if raw is None:
                raise RuntimeError_(f"onnxruntime backend: free of unknown pointer {ptr:#x}")
            self.bytes_in_use -= raw.nbytes

    def memcpy(self, dst: int, src: int, nbytes: int, kind: int, device: int, stream: int) -> None:
        if kind not in MEMCPY_KIND_NAMES:
            raise RuntimeError_(f"onnxruntime backend: unknown memcpy kind {kind} "
                                f"(expected H2D={H2D}, D2H={D2H} or D2D={D2D})")
        if nbytes:
            ctypes.memmove(dst, src, nbytes)

    def synchronize(self, device: int) -> None:
        # IO-bound runs return only when ORT has finished writing the outputs.
        return None

    def live_allocations(self) -> int:
        return len(self._buffers)
