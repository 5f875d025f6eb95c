"""Memory of the deeplink device: torch.deeplink and torch.accelerator statistics, mem_get_info,
summaries, raw allocations, pinned host memory."""
import gc

import pytest
import torch

import deeplink  # noqa: F401


def test_memory_statistics():
    torch.deeplink.synchronize()
    base = torch.deeplink.memory_allocated()
    torch.deeplink.reset_peak_memory_stats()
    x = torch.empty(1024, 1024, device="deeplink")  # 4 MiB through the caching allocator
    assert torch.deeplink.memory_allocated() >= base + 4 * 2**20
    assert torch.deeplink.max_memory_allocated() >= base + 4 * 2**20
    assert torch.deeplink.memory_reserved() >= 4 * 2**20
    del x
    assert torch.deeplink.memory_allocated() == base
    assert torch.deeplink.max_memory_allocated() >= base + 4 * 2**20
    reserved = torch.deeplink.memory_reserved()
    y = torch.empty(1024, 1024, device="deeplink")  # same size: served from the cache
    hits = torch.deeplink.memory_stats()["num_cache_hits"]
    assert hits >= 1 and torch.deeplink.memory_reserved() == reserved
    del y
    torch.deeplink.empty_cache()
    assert torch.deeplink.memory_reserved() < reserved


def test_kernel_outputs_are_counted():
    base = torch.deeplink.memory_allocated()
    a = torch.randn(256, 256, device="deeplink")
    b = a @ a  # output produced by the ATen kernel and adopted zero-copy
    assert torch.deeplink.memory_allocated() >= base + 2 * 256 * 256 * 4
    del a, b
    assert torch.deeplink.memory_allocated() == base


def test_torch_accelerator_reads_the_same_statistics():
    gc.collect()
    torch.deeplink.synchronize()
    base = torch.accelerator.memory_allocated()
    assert base == torch.deeplink.memory_allocated()
    x = torch.empty(256, 1024, device="deeplink")
    assert torch.accelerator.memory_allocated() >= base + 2**20
    assert torch.accelerator.max_memory_allocated() >= torch.accelerator.memory_allocated()
    assert torch.accelerator.memory_reserved() >= torch.accelerator.memory_allocated()
    stats = torch.accelerator.memory_stats()
    assert stats["allocation.all.current"] >= 1 and stats["allocated_bytes.all.allocated"] >= 2**20
    del x
    torch.accelerator.empty_cache()
    torch.accelerator.reset_peak_memory_stats()
    assert torch.accelerator.max_memory_allocated() == torch.accelerator.memory_allocated() <= base


def test_accumulated_statistics_and_reset():
    torch.deeplink.reset_accumulated_memory_stats()
    for _ in range(3):
        y = torch.empty(1000, device="deeplink")
        del y
    s = torch.deeplink.memory_stats()
    assert s["allocation.all.allocated"] >= 3 and s["allocation.all.freed"] >= 3
    assert s["allocated_bytes.all.freed"] >= 3 * 4000
    torch.deeplink.reset_accumulated_memory_stats()
    assert torch.deeplink.memory_stats()["allocation.all.allocated"] == 0
    nested = torch.deeplink.memory_stats_as_nested_dict()
    assert nested["allocated_bytes"]["all"]["current"] == torch.deeplink.memory_allocated()


def test_mem_get_info_and_summary():
    free, total = torch.deeplink.mem_get_info()
    assert 0 < free <= total
    assert torch.accelerator.get_memory_info()[1] == total
    x = torch.empty(1024, device="deeplink")  # noqa: F841
    summary = torch.deeplink.memory_summary()
    assert "Allocated memory" in summary and "backend 'cpu'" in summary and "num_cache_hits" in summary


def test_caching_allocator_alloc_and_delete():
    base = torch.deeplink.memory_allocated()
    ptr = torch.deeplink.caching_allocator_alloc(1 << 16)
    assert ptr != 0 and torch.deeplink.memory_allocated() >= base + (1 << 16)
    torch.deeplink.caching_allocator_delete(ptr)
    assert torch.deeplink.memory_allocated() == base
    with pytest.raises(ValueError, match="not allocated"):
        torch.deeplink.caching_allocator_delete(ptr)


def test_out_of_memory_error_is_torchs():
    assert torch.deeplink.OutOfMemoryError is torch.OutOfMemoryError


def test_pin_memory_pins():
    t = torch.randn(10)
    assert not t.is_pinned()
    p = t.pin_memory()
    assert p.is_pinned() and p[2:5].is_pinned() and torch.equal(p, t)
    assert p.untyped_storage().is_pinned() and not torch.randn(3).untyped_storage().is_pinned()
    s = torch.deeplink.host_memory_stats()
    assert s["allocated_bytes.current"] >= 40 and s["reserved_bytes.current"] >= s["allocated_bytes.current"]
    d = p.to("deeplink", non_blocking=True)
    assert torch.equal(d.cpu(), t)
    del p, d
    gc.collect()
    torch.deeplink.empty_host_cache()


def test_dataloader_pin_memory():
    ds = torch.utils.data.TensorDataset(torch.arange(16.0).reshape(8, 2))
    loader = torch.utils.data.DataLoader(ds, batch_size=4, pin_memory=True)
    batches = [b for (b,) in loader]
    assert all(b.is_pinned() for b in batches)
    assert torch.equal(torch.cat(batches), torch.arange(16.0).reshape(8, 2))


def test_tensor_lifecycle_does_not_leak():
    torch.deeplink.synchronize()
    base = torch.deeplink.memory_allocated()
    for i in range(200):
        x = torch.randn(500 + i, device="deeplink", requires_grad=True)
        y = (x * 2).sum()
        y.backward()
        c = x.detach().cpu().to("deeplink").clone()
        del x, y, c
    gc.collect()
    assert torch.deeplink.memory_allocated() == base
