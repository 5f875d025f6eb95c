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


def test_sparse_and_quantized_layouts_say_deeplink_has_none():
    """deeplink tensors are strided only: an op that would make a sparse or quantized tensor on the
    device names itself, the layout, and what to do (run it on the CPU), instead of ATen's
    "Cannot access storage of SparseTensorImpl"."""
    x = torch.randn(3, 3, device="deeplink")
    dense_only = r"deeplink has strided \(dense\) tensors only"
    with pytest.raises(NotImplementedError, match=r"aten::_to_sparse makes a tensor of layout torch\.sparse_coo .*"
                                                  + dense_only + r".*x\.cpu\(\)\.to_sparse\(\)"):
        x.to_sparse()
    with pytest.raises(NotImplementedError, match=r"torch\.sparse_csr.*" + dense_only):
        x.to_sparse_csr()
    with pytest.raises(NotImplementedError, match=r"quantized.*" + dense_only):
        torch.quantize_per_tensor(x, 0.1, 0, torch.qint8)
    with pytest.raises(NotImplementedError, match=dense_only):
        torch.randn(3, 3).to_sparse().to("deeplink")
    with pytest.raises(NotImplementedError, match=r"torch\.sparse_coo.*" + dense_only):
        torch.zeros(2, 2, layout=torch.sparse_coo, device="deeplink")
    assert torch.equal(x.cpu().to_sparse().to_dense().to("deeplink").cpu(), x.cpu())  # the way round it
