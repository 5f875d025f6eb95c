"""The Ascend runtime on the ACL API (against the emulator): memory, the three copy kinds, streams,
events, synchronisation, per-thread device binding, and ACL errors turned into Python errors."""
from __future__ import annotations

import ctypes
import threading

import pytest
import torch

from deeplink.runtime import D2D, D2H, H2D
from test_ascend_helpers import ascend_state, emulator, on_ascend, settle_and_check_clean


@pytest.fixture
def rt():
    _, acl, runtime, _ = ascend_state()
    emu = emulator()
    emu.clear_log()
    emu.clear_injections()
    yield runtime
    emu.clear_injections()


def _calls(prefix=""):
    return [c for c in emulator().calls() if c.func.startswith(prefix)]


def test_malloc_copies_and_free_round_trip(rt):
    src = torch.arange(64, dtype=torch.float32)
    a, b = rt.malloc(0, 256), rt.malloc(0, 256)
    rt.memcpy(a, src.data_ptr(), 256, H2D, 0, 0)
    rt.memcpy(b, a, 256, D2D, 0, 0)
    back = torch.empty(64)
    rt.memcpy(back.data_ptr(), b, 256, D2H, 0, 0)
    assert torch.equal(back, src)
    rt.free(0, a)
    rt.free(0, b)
    funcs = [c.func for c in _calls("aclrt")]
    kinds = [c.detail.split("kind=")[1].split()[0] for c in _calls("aclrtMemcpyAsync")]
    assert kinds == ["1", "3", "2"]  # ACL_MEMCPY_HOST_TO_DEVICE, DEVICE_TO_DEVICE, DEVICE_TO_HOST
    # host copies wait for their stream; the device-to-device copy stays queued
    i_h2d, i_d2d, i_d2h = [i for i, f in enumerate(funcs) if f == "aclrtMemcpyAsync"]
    assert funcs[i_h2d + 1] == "aclrtSynchronizeStream" and funcs[i_d2h + 1] == "aclrtSynchronizeStream"
    assert funcs[i_d2d + 1] != "aclrtSynchronizeStream"
    # memory goes back only after the device has finished with it
    i_free = funcs.index("aclrtFree")
    assert funcs[i_free - 1] == "aclrtSynchronizeDevice"


def test_zero_byte_requests_do_not_reach_acl(rt):
    assert rt.malloc(0, 0) == 0
    rt.free(0, 0)
    rt.memcpy(0, 0, 0, H2D, 0, 0)
    assert not _calls("aclrtMalloc") and not _calls("aclrtMemcpy")


def test_streams_events_and_timing(rt):
    s = rt.acl_stream_create(0)
    e0, e1 = rt.event_create(0), rt.event_create(0)
    buf = rt.malloc(0, 1 << 16)
    rt.event_record(0, e0, s)
    rt.memcpy(buf, buf, 0, D2D, 0, s)
    rt.event_record(0, e1, s)
    assert rt.event_query(0, e1) is False, "the emulator runs queued work only when the host waits"
    rt.event_synchronize(0, e1)
    assert rt.event_query(0, e1) is True
    assert rt.event_elapsed_ms(0, e0, e1) >= 0.0
    # another stream can wait for the event, and a stream can be queried
    s2 = rt.acl_stream_create(0)
    rt.stream_wait_event(0, s2, e1)
    rt.stream_synchronize(0, s2)
    assert rt.stream_query(0, s2) in (True, False)
    rt.stream_synchronize(0, s2)
    for e in (e0, e1):
        rt.event_destroy(0, e)
    rt.free(0, buf)
    rt.stream_destroy(0, s)
    rt.stream_destroy(0, s2)
    assert emulator().state()["events"] == 0


def test_elapsed_time_of_unfinished_events_is_a_clear_error(rt):
    from deeplink.backends.ascend._vendor.acl import AscendError
    s = rt.acl_stream_create(0)
    e0, e1 = rt.event_create(0), rt.event_create(0)
    rt.event_record(0, e0, s)
    rt.event_record(0, e1, s)
    with pytest.raises(AscendError) as err:
        rt.event_elapsed_ms(0, e0, e1)
    assert err.value.code == 507006 and "synchronize" in str(err.value)
    rt.stream_synchronize(0, s)
    rt.event_destroy(0, e0)
    rt.event_destroy(0, e1)
    rt.stream_destroy(0, s)


def test_every_thread_gets_the_device_bound(rt):
    """ACL keeps the current device per thread; PyTorch's autograd runs kernels on its own threads."""
    from deeplink.backends.ascend._vendor.acl import AscendError
    _, acl, _, _ = ascend_state()
    result = {}

    def raw():
        p = ctypes.c_void_p()
        try:
            acl.check(acl.aclrtMalloc(ctypes.byref(p), 64, 0), "aclrtMalloc")
        except AscendError as e:
            result["raw"] = e

    def via_runtime():
        ptr = rt.malloc(0, 64)
        rt.free(0, ptr)
        result["runtime"] = ptr

    for fn in (raw, via_runtime):
        t = threading.Thread(target=fn)
        t.start()
        t.join()
    err = result["raw"]
    assert err.code == 107002 and err.name == "ACL_ERROR_RT_CONTEXT_NULL" and "aclrtSetDevice" in str(err)
    assert result["runtime"]


def test_acl_error_codes_and_messages_become_python_errors(rt):
    from deeplink.backends.ascend._vendor.acl import AscendError
    from deeplink.runtime import RuntimeError_
    emulator().inject("aclrtMalloc", 207001, "HBM exhausted on purpose")
    with pytest.raises(AscendError) as err:
        rt.malloc(0, 1 << 20)
    e = err.value
    assert isinstance(e, RuntimeError_)  # catchable as any vendor runtime failure
    assert (e.code, e.name, e.function) == (207001, "ACL_ERROR_RT_MEMORY_ALLOCATION", "aclrtMalloc")
    text = str(e)
    assert "HBM exhausted on purpose" in text and "1048576 bytes on device 0" in text and "empty_cache" in text


def test_out_of_memory_and_bad_free_are_reported(rt):
    from deeplink.backends.ascend._vendor.acl import AscendError
    emu = emulator()
    emu.set_option("memory_limit_mb", 1)
    try:
        with pytest.raises(AscendError) as err:
            rt.malloc(0, 2 << 20)
        assert err.value.code == 207001 and "out of device memory" in str(err.value)
    finally:
        emu.set_option("memory_limit_mb", 16384)
    buf = torch.empty(16)
    with pytest.raises(AscendError) as err:
        rt.free(0, buf.data_ptr())
    assert err.value.name == "ACL_ERROR_RT_MEMORY_FREE" and "not the start of a live aclrtMalloc block" in str(err.value)


def test_a_copy_with_the_wrong_kind_is_rejected(rt):
    from deeplink.backends.ascend._vendor.acl import AscendError
    host = torch.zeros(8)
    dev = rt.malloc(0, 32)
    with pytest.raises(AscendError) as err:
        rt.memcpy(host.data_ptr(), dev, 32, H2D, 0, 0)  # really a device-to-host copy
    assert err.value.code == 100000 and "does not match the pointers" in str(err.value)
    rt.free(0, dev)


def test_memory_info(rt):
    free, total = rt.mem_get_info(0)
    assert 0 < free <= total


def test_deeplink_streams_and_events_use_acl_streams_and_events():
    with on_ascend():
        x = torch.arange(1024, dtype=torch.float32, device="deeplink")
        torch.deeplink.synchronize()
        emu = emulator()
        emu.clear_log()
        s = torch.deeplink.Stream()
        start, end = torch.deeplink.Event(enable_timing=True), torch.deeplink.Event(enable_timing=True)
        with torch.deeplink.stream(s):
            start.record()
            y = x * 2
            end.record()
        side = [c for c in emu.calls() if c.func == "aclrtCreateStream:result"][-1].detail.split()[0].split("=")[1]
        mul = [c for c in emu.calls() if c.func == "aclnnMuls"][-1]
        assert f"stream={side}" in mul.detail, "the kernel ran on the deeplink stream's ACL stream"
        torch.deeplink.current_stream().wait_stream(s)
        assert torch.equal(y.cpu(), torch.arange(1024, dtype=torch.float32) * 2)
        end.synchronize()
        assert start.elapsed_time(end) >= 0.0
        settle_and_check_clean()


def test_without_waiting_another_stream_sees_stale_memory():
    """The emulator runs each stream's work in its own order, only when someone waits for it, so
    reading a result produced on another stream without wait_stream shows stale data, the race a
    real device would have."""
    with on_ascend():
        x = torch.ones(256, device="deeplink")
        s = torch.deeplink.Stream()
        with torch.deeplink.stream(s):
            y = x + 1
        stale = y.cpu()  # default stream: not ordered after the side stream
        assert not torch.equal(stale, torch.full((256,), 2.0))
        torch.deeplink.current_stream().wait_stream(s)
        assert torch.equal(y.cpu(), torch.full((256,), 2.0))
        settle_and_check_clean()


@pytest.mark.parametrize("offset", [1, 3, 17])
def test_views_at_odd_storage_offsets_copy_correctly(offset):
    """aclrtMemcpyAsync needs 64-byte aligned dst and src (CANN docs; the emulator rejects others
    with ACL error 100000): views that start at an odd element must still copy both ways."""
    base = torch.arange(100, dtype=torch.float32)
    with on_ascend():
        dev = base.to("deeplink")
        view = dev[offset:offset + 40]
        assert torch.equal(view.cpu(), base[offset:offset + 40])                  # D2H from an unaligned src
        view.copy_(base[offset + 1:offset + 41])                                 # H2D from and to unaligned
        assert torch.equal(dev.cpu()[offset:offset + 40], base[offset + 1:offset + 41])
        other = torch.zeros(100).to("deeplink")
        other[offset:offset + 40].copy_(view)                                    # D2D, both unaligned
        assert torch.equal(other.cpu()[offset:offset + 40], base[offset + 1:offset + 41])
        settle_and_check_clean()


def test_the_emulator_rejects_unaligned_async_copies_like_the_runtime(rt):
    _, acl, _, _ = ascend_state()
    a = rt.malloc(0, 256)
    src = torch.zeros(64)
    try:
        code = acl.aclrtMemcpyAsync(a + 4, 128, src.data_ptr(), 128, 1, rt.default_stream(0))
        assert code == 100000
        assert "64-byte aligned" in acl.recent_error()
    finally:
        rt.free(0, a)
