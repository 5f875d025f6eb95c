"""Dispatch order on a backend that lacks ops: native kernel, decomposition, CPU fallback, error."""
import warnings

import pytest
import torch

import deeplink

from .minibackend import ensure_registered


@pytest.fixture
def mini():
    rec = ensure_registered()
    deeplink.use("mini")
    deeplink.reset_op_stats()
    try:
        yield rec.backend
    finally:
        deeplink.set_fallback_mode("warn")
        deeplink.use("cpu")


def test_python_kernels_run_natively(mini):
    x = torch.tensor([1.0, 2.0, 3.0]).to("deeplink")
    assert deeplink.tensor_backend(x) == "mini"
    assert torch.equal((x + x).cpu(), torch.tensor([2.0, 4.0, 6.0]))
    assert torch.equal((x * 3).cpu(), torch.tensor([3.0, 6.0, 9.0]))  # wrapped scalar stays a tensor
    stats = deeplink.op_stats()
    assert stats["add.Tensor"]["native"] == 1 and stats["mul.Tensor"]["native"] == 1
    assert deeplink.fallback_stats() == {}
    assert ("malloc", 512) in mini.rt.calls  # memory came from the backend's own runtime


def test_fallback_warns_once_and_counts(mini):
    x = torch.tensor([1.0, 2.0, 3.0]).to("deeplink")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = x - x
        z = x - x
    msgs = [str(w.message) for w in caught if "deeplink" in str(w.message)]
    assert len(msgs) == 1 and "sub" in msgs[0] and "'mini'" in msgs[0]
    assert torch.equal(y.cpu(), torch.zeros(3)) and torch.equal(z.cpu(), torch.zeros(3))
    assert y.device.type == "deeplink"
    assert sum(deeplink.fallback_stats().values()) == 2


def test_fallback_error_mode_names_op_dtype_shape_backend(mini):
    deeplink.set_fallback_mode("error")
    x = torch.tensor([[1.0, 2.0]]).to("deeplink")
    with pytest.raises(NotImplementedError) as e:
        torch.sigmoid(x)
    msg = str(e.value)
    for part in ("sigmoid", "Float", "[1, 2]", "'mini'", "DEEPLINK_FALLBACK=error"):
        assert part in msg, (part, msg)


def test_unsupported_dtype_falls_back_or_errors(mini):
    x = torch.tensor([1.0, 2.0], dtype=torch.float64).to("deeplink")
    y = x + x  # the mini add kernel takes float32 only
    assert torch.equal(y.cpu(), torch.tensor([2.0, 4.0], dtype=torch.float64))
    assert deeplink.fallback_stats() == {"add.Tensor": 1}
    deeplink.set_fallback_mode("error")
    with pytest.raises(NotImplementedError, match="Double"):
        x + x


def test_decomposition_runs_on_device(mini):
    x = torch.tensor([1.0, 2.0, 3.0]).to("deeplink")
    r = torch.addcmul(x, x, x, value=2)
    assert torch.equal(r.cpu(), torch.tensor([3.0, 10.0, 21.0]))
    stats = deeplink.op_stats()
    assert stats["addcmul"]["decomposed"] == 1
    assert deeplink.fallback_stats() == {}


def test_decomposition_needing_missing_ops_falls_back(mini):
    x = torch.tensor([0.0]).to("deeplink")
    r = torch.sigmoid(x)  # decomposes into exp/neg/div, which mini lacks
    assert torch.allclose(r.cpu(), torch.tensor([0.5]))
    assert deeplink.fallback_stats() == {"sigmoid": 1}


def test_route_of(mini):
    assert deeplink.route_of("add.Tensor") == "native"
    assert deeplink.route_of("addcmul") == "decomposed"
    assert deeplink.route_of("sub.out") == "fallback"
    assert deeplink.route_of("add.Tensor", backend="cpu") == "native"


def test_tensor_of_another_backend_is_rejected(mini):
    x = torch.ones(2).to("deeplink")  # owned by mini
    deeplink.use("cpu")
    with pytest.raises(RuntimeError, match="belongs to backend 'mini'"):
        x + x
    assert torch.equal(x.cpu().to("deeplink").cpu(), torch.ones(2))  # moving through the CPU works


def test_enum_arguments_arrive_as_torch_objects(mini):
    from .minibackend import SEEN_DTYPES
    x = torch.tensor([1.0, 2.0]).to("deeplink")
    r = torch.sum(x, dtype=torch.float64)
    assert r.dtype == torch.float64 and r.item() == 3.0
    assert SEEN_DTYPES[-1] is torch.float64


def test_device_hooks_fall_back_through_the_generic_op(mini):
    """ATen sends convolution on an unknown device to convolution_overrideable, whose default kernel
    raises NotImplementedError; a backend without convolution falls back instead (CUDA/CPU semantics)."""
    deeplink.set_fallback_mode("silent")
    x, w, b = torch.randn(1, 2, 6, 6), torch.randn(3, 2, 3, 3), torch.randn(3)
    leaves = [t.clone().requires_grad_() for t in (x, w, b)]
    torch.nn.functional.conv2d(*leaves, padding=1).sum().backward()
    dl = [t.to("deeplink").requires_grad_() for t in (x, w, b)]
    y = torch.nn.functional.conv2d(*dl, padding=1)
    y.sum().backward()
    torch.testing.assert_close(y.cpu(), torch.nn.functional.conv2d(x, w, b, padding=1))
    for got, want in zip(dl, leaves):
        torch.testing.assert_close(got.grad.cpu(), want.grad)
    yt = torch.nn.functional.conv_transpose2d(dl[0].detach(), torch.randn(2, 4, 3, 3).to("deeplink"), groups=1)
    assert yt.shape == (1, 4, 8, 8)
    stats = deeplink.fallback_stats()
    assert stats["convolution_overrideable"] >= 2 and stats["convolution_backward_overrideable"] == 1
    deeplink.set_fallback_mode("error")
    with pytest.raises(NotImplementedError, match="convolution_overrideable has no native kernel on backend 'mini'"):
        torch.nn.functional.conv2d(*[t.detach() for t in dl])
