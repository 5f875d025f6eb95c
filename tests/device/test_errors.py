"""Misuse gets a clear error, never a crash."""
import pytest
import torch

import deeplink


def test_mixing_with_cpu_tensor():
    with pytest.raises(RuntimeError, match="same device.*deeplink.*cpu"):
        torch.ones(2, 2, device="deeplink") + torch.ones(2, 2)
    # a zero-dim CPU tensor is a scalar, as for CUDA
    assert torch.equal((torch.ones(2, device="deeplink") + torch.tensor(3.0)).cpu(), torch.full((2,), 4.0))


def test_mixing_devices():
    if torch.deeplink.device_count() < 2:
        pytest.skip("one device")
    with pytest.raises(RuntimeError, match="same device"):
        torch.ones(2, device="deeplink:0") + torch.ones(2, device="deeplink:1")


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown backend 'nope'.*Known backends"):
        deeplink.use("nope")


def test_unsupported_dtype_on_reference_backend():
    # ATen's own message, naming op and dtype; not a crash.
    a = torch.ones(2, 2, dtype=torch.int32, device="deeplink")
    with pytest.raises(RuntimeError, match="Int"):
        torch.linalg.inv(a)


def test_fallback_mode_validation():
    with pytest.raises(ValueError, match="expected one of"):
        deeplink.set_fallback_mode("sometimes")
