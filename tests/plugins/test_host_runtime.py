"""deeplink.runtime.HostRuntime, the host-memory runtime of onnxruntime, plugins and test backends:
aligned, distinct allocations, checked frees and copies. (Its use as device memory, host views
included, is checked by the contract suite on every backend: tests/contract/.)"""
from __future__ import annotations

import ctypes

import pytest

from deeplink.runtime import D2D, H2D, HostRuntime, RuntimeError_


def test_malloc_is_aligned_and_distinct_and_freed():
    rt = HostRuntime()
    ptrs = [rt.malloc(0, n) for n in (0, 1, 3, 64, 1000)]
    assert all(p % HostRuntime.ALIGNMENT == 0 for p in ptrs)
    assert len(set(ptrs)) == len(ptrs)
    assert rt.live_allocations() == 5 and rt.peak_bytes >= 1068
    for p in ptrs:
        rt.free(0, p)
    assert rt.live_allocations() == 0 and rt.bytes_in_use == 0
    with pytest.raises(RuntimeError_, match="unknown pointer"):
        rt.free(0, ptrs[0])


def test_memcpy_moves_bytes_and_checks_its_kind():
    rt = HostRuntime()
    src, dst = rt.malloc(0, 16), rt.malloc(0, 16)
    ctypes.memmove(src, b"0123456789abcdef", 16)
    rt.memcpy(dst, src, 16, D2D, 0, 0)
    assert ctypes.string_at(dst, 16) == b"0123456789abcdef"
    with pytest.raises(RuntimeError_, match="memcpy kind"):
        rt.memcpy(dst, src, 16, 99, 0, 0)
    with pytest.raises(RuntimeError_, match="device 1"):
        rt.malloc(1, 8)
    rt.free(0, src), rt.free(0, dst)
    assert H2D != D2D
