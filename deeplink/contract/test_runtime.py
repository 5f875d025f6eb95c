"""Runtime contract: memory, copies, streams, events and statistics, seen through the device (so
the same checks hold for Python, C-table and ATen-device runtimes)."""
from __future__ import annotations

import pytest
import torch

import deeplink

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.int8,
          torch.uint8, torch.bool, torch.complex64]


def _sample(shape, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        return torch.rand(shape, generator=g) > 0.5
    if dtype.is_complex or dtype.is_floating_point:
        return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype) if not dtype.is_complex else \
            torch.randn(shape, generator=g, dtype=dtype)
    return torch.randint(-100 if dtype.is_signed else 0, 100, shape, generator=g, dtype=dtype)


def test_allocations_of_every_size_are_distinct_and_usable(backend):
    sizes = [0, 1, 3, 64, 1000, 1 << 20]
    ts = [torch.empty(n, dtype=torch.uint8, device="deeplink") for n in sizes]
    live = [t.data_ptr() for t in ts if t.numel()]
    assert len(set(live)) == len(live), "live allocations share an address"
    for t in ts:
        t.fill_(7)
        assert bool((t.cpu() == 7).all())
    assert deeplink.tensor_backend(ts[-1]) == backend


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_host_device_round_trip_is_exact(backend, dtype):
    x = _sample((5, 7), dtype)
    d = x.to("deeplink")
    assert d.device.type == "deeplink" and d.dtype == dtype
    assert torch.equal(d.cpu(), x)
    assert torch.equal(d.clone().cpu(), x)  # device to device


def test_strided_and_offset_copies_in_every_direction(backend):
    x = _sample((6, 8), torch.float32)
    d = x.to("deeplink")
    assert torch.equal(d.t().cpu(), x.t())                       # D2H of a transposed view
    assert torch.equal(d[1:5:2, 3:].cpu(), x[1:5:2, 3:])          # D2H of a stepped view with offset
    assert torch.equal(d.t().contiguous().cpu(), x.t().contiguous())  # D2D strided -> dense
    e = torch.zeros(8, 6, device="deeplink")
    e[2:, 1:4] = x[:6, :3]                                          # H2D into a view with offset
    want = torch.zeros(8, 6)
    want[2:, 1:4] = x[:6, :3]
    assert torch.equal(e.cpu(), want)
    f = torch.zeros(6, 8, device="deeplink")
    f.t().copy_(d.t())                                              # D2D between strided views
    assert torch.equal(f.cpu(), x)


def test_dtype_changing_and_non_blocking_copies(backend):
    x = _sample((4, 4), torch.float32)
    d = x.to("deeplink", dtype=torch.float64)
    assert torch.equal(d.cpu(), x.double())
    assert torch.equal(d.to(torch.float16).cpu(), x.half())
    nb = x.to("deeplink", non_blocking=True)
    back = nb.to("cpu", non_blocking=True)
    torch.deeplink.synchronize()
    assert torch.equal(back, x)


def test_streams_order_work_and_events_time_it(backend):
    s = torch.deeplink.Stream()
    x = torch.ones(256, 256, device="deeplink")
    s.wait_stream(torch.deeplink.current_stream())  # x was written on the default stream
    start, end = torch.deeplink.Event(enable_timing=True), torch.deeplink.Event(enable_timing=True)
    with torch.deeplink.stream(s):
        start.record()
        y = x @ x
        end.record()
    torch.deeplink.current_stream().wait_stream(s)
    end.synchronize()
    assert end.query()
    assert start.elapsed_time(end) >= 0
    assert torch.equal(y.cpu(), torch.full((256, 256), 256.0))
    s.synchronize()
    assert s.query()  # an asynchronous stream may still be busy before this synchronize
    torch.deeplink.synchronize()


def test_memory_statistics_follow_allocations(backend):
    torch.deeplink.synchronize()
    base = torch.deeplink.memory_allocated()
    t = torch.empty(1 << 18, dtype=torch.float32, device="deeplink")
    assert torch.deeplink.memory_allocated() >= base + t.numel() * 4
    assert torch.deeplink.max_memory_allocated() >= torch.deeplink.memory_allocated()
    del t
    assert torch.deeplink.memory_allocated() == base
    torch.deeplink.empty_cache()
    keep = torch.arange(10., device="deeplink")
    torch.deeplink.empty_cache()          # must not free live memory
    assert torch.equal(keep.cpu(), torch.arange(10.))


def test_an_impossible_allocation_is_an_error_and_the_device_survives(backend):
    with pytest.raises((RuntimeError, MemoryError)):
        torch.empty(1 << 60, dtype=torch.uint8, device="deeplink")
    assert torch.equal((torch.ones(3, device="deeplink") * 2).cpu(), torch.full((3,), 2.0))


def test_devices_are_counted_and_bad_indices_rejected(backend):
    n = torch.deeplink.device_count()
    assert n >= 1
    with pytest.raises((RuntimeError, ValueError, IndexError)):
        torch.empty(1, device=f"deeplink:{n + 7}")


def test_host_views_share_memory_where_the_runtime_says_so(backend):
    d = torch.zeros(4, device="deeplink")
    if not deeplink._C._backend_host_accessible(deeplink._registry.active().slot):
        with pytest.raises(RuntimeError):
            deeplink.host_view(d)
        return
    deeplink.host_view(d)[2] = 5
    assert d.cpu().tolist() == [0, 0, 5, 0]
