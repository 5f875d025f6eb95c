"""The Ascend vendor runtime for deeplink, on the ACL runtime API.

Streams: handle 0 (deeplink's default stream) maps to one explicitly created aclrtStream per
device; other handles are aclrtStream pointers from aclrtCreateStream. Kernels and copies are
queued on the stream, so device work stays in order; copies to or from the host wait for their
stream before returning, as the deeplink runtime contract requires.

Threads: ACL keeps the current device per thread, and PyTorch runs backward passes on its own
threads, so every call first makes sure the calling thread has done aclrtSetDevice(device).
"""
from __future__ import annotations

import ctypes as C
import threading

from deeplink.runtime import D2D, D2H, H2D, Runtime

from ._vendor.acl import Acl
from ._vendor.constants import (ACL_ERROR_REPEAT_INITIALIZE, ACL_EVENT_RECORDED_STATUS_COMPLETE,
                                ACL_MEM_MALLOC_HUGE_FIRST, ACL_MEMCPY_DEVICE_TO_DEVICE, ACL_MEMCPY_DEVICE_TO_HOST,
                                ACL_MEMCPY_HOST_TO_DEVICE, ACL_STREAM_STATUS_COMPLETE)

_ACL_KIND = {H2D: ACL_MEMCPY_HOST_TO_DEVICE, D2H: ACL_MEMCPY_DEVICE_TO_HOST, D2D: ACL_MEMCPY_DEVICE_TO_DEVICE}
_KIND_NAME = {H2D: "host to device", D2H: "device to host", D2D: "device to device"}
ACL_HBM_MEM = 1  # aclrtMemAttr

_init_lock = threading.Lock()
_initialized_libs = set()


def acl_init(acl: Acl) -> None:
    """aclInit once per process (a second aclInit, e.g. by torch_npu, is not an error)."""
    with _init_lock:
        key = id(acl.libs.runtime)
        if key in _initialized_libs:
            return
        ret = acl.aclInit(None)
        if ret not in (0, ACL_ERROR_REPEAT_INITIALIZE):
            acl.check(ret, "aclInit")
        _initialized_libs.add(key)


ASYNC_COPY_ALIGNMENT = 64   # bytes; aclrtMemcpyAsync's documented requirement on dst and src


class AscendRuntime(Runtime):
    host_accessible = False  # device memory is HBM on the NPU, not addressable by the CPU

    def __init__(self, acl: Acl):
        self.acl = acl
        acl_init(acl)
        self._thread = threading.local()
        self._lock = threading.Lock()
        self._default_streams: dict[int, int] = {}

    # -- devices ---------------------------------------------------------------------------------
    def bind(self, device: int) -> None:
        """Makes `device` current on the calling thread (ACL contexts are per thread)."""
        if getattr(self._thread, "device", None) != device:
            self.acl.check(self.acl.aclrtSetDevice(device), "aclrtSetDevice", f"device {device}")
            self._thread.device = device

    def device_count(self) -> int:
        count = C.c_uint32(0)
        self.acl.check(self.acl.aclrtGetDeviceCount(C.byref(count)), "aclrtGetDeviceCount")
        return int(count.value)

    def synchronize(self, device: int) -> None:
        self.bind(device)
        self.acl.check(self.acl.aclrtSynchronizeDevice(), "aclrtSynchronizeDevice", f"device {device}")

    def mem_get_info(self, device: int) -> tuple[int, int]:
        """(free, total) bytes of device memory, when the runtime exports aclrtGetMemInfo."""
        if self.acl.aclrtGetMemInfo is None:
            raise NotImplementedError("aclrtGetMemInfo is not exported by this CANN runtime")
        self.bind(device)
        free, total = C.c_size_t(0), C.c_size_t(0)
        self.acl.check(self.acl.aclrtGetMemInfo(ACL_HBM_MEM, C.byref(free), C.byref(total)), "aclrtGetMemInfo")
        return int(free.value), int(total.value)

    # -- memory ----------------------------------------------------------------------------------
    def malloc(self, device: int, nbytes: int) -> int:
        if nbytes == 0:
            return 0
        self.bind(device)
        ptr = C.c_void_p()
        self.acl.check(self.acl.aclrtMalloc(C.byref(ptr), nbytes, ACL_MEM_MALLOC_HUGE_FIRST),
                       "aclrtMalloc", f"{nbytes} bytes on device {device}")
        return int(ptr.value)

    def free(self, device: int, ptr: int) -> None:
        if not ptr:
            return
        self.bind(device)
        # Queued kernels may still read or write the block: let them finish before it goes back.
        self.acl.check(self.acl.aclrtSynchronizeDevice(), "aclrtSynchronizeDevice", f"before freeing {ptr:#x}")
        self.acl.check(self.acl.aclrtFree(ptr), "aclrtFree", f"{ptr:#x} on device {device}")

    def memcpy(self, dst: int, src: int, nbytes: int, kind: int, device: int, stream: int) -> None:
        if nbytes == 0:
            return
        self.bind(device)
        s = self.acl_stream(device, stream)
        context = f"{_KIND_NAME[kind]}, {nbytes} bytes, device {device}"
        if dst % ASYNC_COPY_ALIGNMENT or src % ASYNC_COPY_ALIGNMENT:
            # aclrtMemcpyAsync takes only 64-byte aligned addresses (CANN docs) and views start
            # anywhere: wait for the stream's queued work, then copy synchronously.
            self.acl.check(self.acl.aclrtSynchronizeStream(s), "aclrtSynchronizeStream", context)
            self.acl.check(self.acl.aclrtMemcpy(dst, nbytes, src, nbytes, _ACL_KIND[kind]), "aclrtMemcpy",
                           f"{context}, unaligned dst {dst:#x} / src {src:#x}")
            return
        # Queued on the stream so the copy lands after the kernels already queued there.
        self.acl.check(self.acl.aclrtMemcpyAsync(dst, nbytes, src, nbytes, _ACL_KIND[kind], s),
                       "aclrtMemcpyAsync", context)
        if kind in (H2D, D2H):  # host memory is read/written: complete before returning
            self.acl.check(self.acl.aclrtSynchronizeStream(s), "aclrtSynchronizeStream", context)

    # -- streams ---------------------------------------------------------------------------------
    def default_stream(self, device: int) -> int:
        with self._lock:
            s = self._default_streams.get(device)
        if s is None:
            s = self._new_stream(device)
            with self._lock:
                s = self._default_streams.setdefault(device, s)
        return s

    def acl_stream(self, device: int, handle: int) -> int:
        return handle if handle else self.default_stream(device)

    def acl_stream_create(self, device: int) -> int:
        """A new ACL stream that is not a deeplink stream (deeplink's come from stream_create)."""
        return self._new_stream(device)

    def _new_stream(self, device: int) -> int:
        self.bind(device)
        s = C.c_void_p()
        self.acl.check(self.acl.aclrtCreateStream(C.byref(s)), "aclrtCreateStream", f"device {device}")
        return int(s.value)

    def stream_create(self, device: int) -> int:
        return self._new_stream(device)

    def stream_destroy(self, device: int, stream: int) -> None:
        if not stream or stream == self._default_streams.get(device):
            return
        self.bind(device)
        self.acl.check(self.acl.aclrtDestroyStream(stream), "aclrtDestroyStream", f"device {device}")

    def stream_synchronize(self, device: int, stream: int) -> None:
        self.bind(device)
        self.acl.check(self.acl.aclrtSynchronizeStream(self.acl_stream(device, stream)),
                       "aclrtSynchronizeStream", f"device {device}")

    def stream_query(self, device: int, stream: int) -> bool:
        if self.acl.aclrtStreamQuery is not None:
            self.bind(device)
            status = C.c_int()
            self.acl.check(self.acl.aclrtStreamQuery(self.acl_stream(device, stream), C.byref(status)),
                           "aclrtStreamQuery", f"device {device}")
            return status.value == ACL_STREAM_STATUS_COMPLETE
        # Older CANN has no stream query: record an event and ask whether it has completed.
        event = self.event_create(device)
        try:
            self.event_record(device, event, stream)
            return self.event_query(device, event)
        finally:
            self.event_destroy(device, event)

    def stream_wait_event(self, device: int, stream: int, event: int) -> None:
        self.bind(device)
        self.acl.check(self.acl.aclrtStreamWaitEvent(self.acl_stream(device, stream), event),
                       "aclrtStreamWaitEvent", f"device {device}")

    # -- events ----------------------------------------------------------------------------------
    def event_create(self, device: int) -> int:
        self.bind(device)
        e = C.c_void_p()
        self.acl.check(self.acl.aclrtCreateEvent(C.byref(e)), "aclrtCreateEvent", f"device {device}")
        return int(e.value)

    def event_destroy(self, device: int, event: int) -> None:
        self.bind(device)
        self.acl.check(self.acl.aclrtDestroyEvent(event), "aclrtDestroyEvent", f"device {device}")

    def event_record(self, device: int, event: int, stream: int) -> None:
        self.bind(device)
        self.acl.check(self.acl.aclrtRecordEvent(event, self.acl_stream(device, stream)),
                       "aclrtRecordEvent", f"device {device}")

    def event_synchronize(self, device: int, event: int) -> None:
        self.bind(device)
        self.acl.check(self.acl.aclrtSynchronizeEvent(event), "aclrtSynchronizeEvent", f"device {device}")

    def event_query(self, device: int, event: int) -> bool:
        self.bind(device)
        status = C.c_int(0)
        self.acl.check(self.acl.aclrtQueryEventStatus(event, C.byref(status)), "aclrtQueryEventStatus",
                       f"device {device}")
        return status.value == ACL_EVENT_RECORDED_STATUS_COMPLETE

    def event_elapsed_ms(self, device: int, start: int, end: int) -> float:
        self.bind(device)
        ms = C.c_float(0.0)
        self.acl.check(self.acl.aclrtEventElapsedTime(C.byref(ms), start, end), "aclrtEventElapsedTime",
                       f"device {device}")
        return float(ms.value)
