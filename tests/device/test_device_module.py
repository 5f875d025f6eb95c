"""torch.deeplink, shaped like torch.cuda."""
import torch

import deeplink  # noqa: F401


def test_availability_and_devices():
    assert torch.deeplink.is_available()
    assert torch.deeplink.device_count() >= 1
    assert torch.deeplink.current_device() == 0
    assert "cpu" in torch.deeplink.get_device_name()


def test_set_device_and_context():
    if torch.deeplink.device_count() < 2:
        return
    with torch.deeplink.device(1):
        assert torch.deeplink.current_device() == 1
        assert torch.empty(1, device="deeplink").device.index == 1
    assert torch.deeplink.current_device() == 0
    torch.deeplink.set_device(1)
    try:
        assert torch.deeplink.current_device() == 1
    finally:
        torch.deeplink.set_device(0)


def test_invalid_device_index_is_a_clear_error():
    import pytest
    with pytest.raises(RuntimeError, match="invalid device index"):
        torch.deeplink.set_device(99)


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
