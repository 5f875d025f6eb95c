"""The vendor runtime interface: what a backend must supply so deeplink can hold its memory.

A backend hands deeplink one of two things:

* a Python object shaped like `Runtime` below (subclass it: only `device_count`, `malloc`, `free`
  and `memcpy` are required; the defaults make streams and events synchronous and time events on
  the host clock), or
* a `CRuntime` wrapping the address of a `dl_runtime_v1` function table (csrc/include/deeplink/runtime.h),
  for runtimes written in C. The CPU reference backend uses this path.

(Backends built on an ATen device, cpu and cuda, may instead hand over that device's own
allocator and streams: backends/_aten/runtime.py.)

The C++ allocator, copy kernels, device guard, streams and events call the runtime; kernels never
allocate through it directly (they call torch.empty(..., device="deeplink"), which lands here).
Every method takes plain ints (device index, pointers, byte counts, opaque handles), so a runtime
can be backed by ctypes/cffi calls into any vendor library.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

# memcpy kinds, shared with csrc/include/deeplink/runtime.h (DL_MEMCPY_*)
H2D, D2H, D2D = 1, 2, 3
MEMCPY_KIND_NAMES = {H2D: "h2d", D2H: "d2h", D2D: "d2d"}


class RuntimeError_(RuntimeError):
    """A vendor runtime call failed; the message carries the runtime's own error text."""


class Runtime:
    """Base class for runtimes written in Python. Handles are opaque ints chosen by the runtime."""

    #: True when device memory is ordinary host memory the CPU can read and write. Lets deeplink
    #: expose zero-copy host views (deeplink.host_view) to kernels written against host arrays.
    host_accessible: bool = False

    def device_count(self) -> int:
        raise NotImplementedError

    def malloc(self, device: int, nbytes: int) -> int:
        raise NotImplementedError

    def free(self, device: int, ptr: int) -> None:
        raise NotImplementedError

    def memcpy(self, dst: int, src: int, nbytes: int, kind: int, device: int, stream: int) -> None:
        """Copy nbytes; kind is H2D, D2H or D2D. Must be complete w.r.t. the host when it returns
        for H2D/D2H (deeplink copies are synchronous from the host's point of view)."""
        raise NotImplementedError

    def synchronize(self, device: int) -> None:
        pass

    # Streams: 0 is the default stream. Synchronous runtimes need not override these.
    def stream_create(self, device: int) -> int:
        self._next_stream = getattr(self, "_next_stream", 0) + 1
        return self._next_stream

    def stream_destroy(self, device: int, stream: int) -> None:
        pass

    def stream_synchronize(self, device: int, stream: int) -> None:
        self.synchronize(device)

    def stream_query(self, device: int, stream: int) -> bool:
        return True

    def stream_wait_event(self, device: int, stream: int, event: int) -> None:
        pass

    # Events: the default records the host clock at record time, which is exact for runtimes
    # that execute synchronously (the CPU reference backend, host-memory plugins).
    def event_create(self, device: int) -> int:
        self._events = getattr(self, "_events", {})
        handle = len(self._events) + 1
        self._events[handle] = None
        return handle

    def event_destroy(self, device: int, event: int) -> None:
        getattr(self, "_events", {}).pop(event, None)

    def event_record(self, device: int, event: int, stream: int) -> None:
        self.stream_synchronize(device, stream)
        self._events[event] = time.perf_counter()

    def event_synchronize(self, device: int, event: int) -> None:
        pass

    def event_query(self, device: int, event: int) -> bool:
        return True

    def event_elapsed_ms(self, device: int, start: int, end: int) -> float:
        t0, t1 = self._events.get(start), self._events.get(end)
        if t0 is None or t1 is None:
            raise RuntimeError_("both events must be recorded before elapsed_time()")
        return (t1 - t0) * 1000.0


@dataclass(frozen=True)
class CRuntime:
    """A runtime given as a C function table: `table_address` points at a `dl_runtime_v1`
    (csrc/include/deeplink/runtime.h) that stays alive for the life of the process.
    `keepalive` holds whatever owns that memory (a cffi object, a ctypes library)."""

    table_address: int
    host_accessible: bool = False
    keepalive: object = None


class HostRuntime(Runtime):
    """Host memory as device memory: 64-byte aligned blocks from libc's posix_memalign, one
    device, synchronous copies (memmove). The runtime of host-memory backends (onnxruntime, the
    scaffold's plugins, test backends), and a starting point for a vendor's own: override malloc,
    free and memcpy with the driver's calls. Frees of unknown pointers raise instead of corrupting
    the heap; `bytes_in_use`, `peak_bytes` and `live_allocations()` are for tests and leak checks."""

    host_accessible = True
    #: Bytes; what ONNX Runtime's own CPU allocator gives its kernels, and enough for any vector load.
    ALIGNMENT = 64

    def __init__(self, name: str = "host"):
        import ctypes
        import threading
        self.name = name
        self._ctypes = ctypes
        libc = ctypes.CDLL(None)
        libc.posix_memalign.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_size_t]
        libc.posix_memalign.restype = ctypes.c_int
        libc.free.argtypes = [ctypes.c_void_p]
        self._libc = libc
        self._sizes: dict[int, int] = {}
        self._lock = threading.Lock()
        self.bytes_in_use = 0
        self.peak_bytes = 0

    def device_count(self) -> int:
        return 1

    def _check_device(self, device: int) -> None:
        if device != 0:
            raise RuntimeError_(f"{self.name} runtime: device {device} does not exist (it has one host-memory "
                                f"device, index 0)")

    def malloc(self, device: int, nbytes: int) -> int:
        self._check_device(device)
        ptr = self._ctypes.c_void_p()
        # Never 0 bytes: every allocation gets a distinct, non-null address.
        err = self._libc.posix_memalign(self._ctypes.byref(ptr), self.ALIGNMENT, max(int(nbytes), 1))
        if err != 0 or not ptr.value:
            raise MemoryError(f"{self.name} runtime: posix_memalign({nbytes} bytes) failed (errno {err})")
        with self._lock:
            self._sizes[ptr.value] = int(nbytes)
            self.bytes_in_use += int(nbytes)
            self.peak_bytes = max(self.peak_bytes, self.bytes_in_use)
        return ptr.value

    def free(self, device: int, ptr: int) -> None:
        with self._lock:
            nbytes = self._sizes.pop(ptr, None)
            if nbytes is None:
                raise RuntimeError_(f"{self.name} runtime: free of unknown pointer {ptr:#x}")
            self.bytes_in_use -= nbytes
        self._libc.free(ptr)

    def memcpy(self, dst: int, src: int, nbytes: int, kind: int, device: int, stream: int) -> None:
        if kind not in MEMCPY_KIND_NAMES:
            raise RuntimeError_(f"{self.name} runtime: unknown memcpy kind {kind} (expected H2D={H2D}, D2H={D2H} "
                                f"or D2D={D2D})")
        if nbytes:
            self._ctypes.memmove(dst, src, nbytes)

    def live_allocations(self) -> int:
        return len(self._sizes)
