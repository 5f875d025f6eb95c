"""deeplink.aten_view / deeplink.from_aten: the zero-copy bridges Python kernels of ATen-backed
backends use (the convolution kernels of the cpu and cuda backends)."""
import pytest
import torch

import deeplink


def test_aten_view_shares_memory():
    d = torch.arange(12.0).reshape(3, 4).to("deeplink")
    v = deeplink.aten_view(d.t())
    assert v.device.type == "cpu" and v.shape == (4, 3) and v.stride() == (1, 4)
    v.mul_(2)                                   # writes land in deeplink memory
    torch.testing.assert_close(d.cpu(), torch.arange(12.0).reshape(3, 4) * 2)


def test_from_aten_adopts_without_copy():
    r = torch.randn(5, 7)
    before = torch.deeplink.memory_stats()["num_adopted"]
    d = deeplink.from_aten(r)
    assert d.device.type == "deeplink"
    assert deeplink.aten_view(d).data_ptr() == r.data_ptr()
    torch.testing.assert_close(d.cpu(), r)
    assert torch.deeplink.memory_stats()["num_adopted"] == before + 1


def test_errors_name_the_problem():
    with pytest.raises(RuntimeError, match="expected a deeplink tensor"):
        deeplink.aten_view(torch.ones(2))
    with pytest.raises(RuntimeError, match="expected a tensor on"):
        deeplink.from_aten(torch.ones(2, device="meta"))


def test_convolution_runs_natively_forward_and_backward():
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    ref = conv(x)
    ref.square().sum().backward()
    xd = x.detach().to("deeplink").requires_grad_()
    convd = torch.nn.Conv2d(3, 4, 3, padding=1).to("deeplink")
    convd.load_state_dict(conv.state_dict())
    deeplink.reset_op_stats()
    got = convd(xd)
    got.square().sum().backward()
    stats = deeplink.op_stats()
    assert stats["convolution_overrideable"]["native"] == 1
    assert stats["convolution_backward_overrideable"]["native"] == 1
    assert deeplink.fallback_stats() == {}
    torch.testing.assert_close(got.cpu(), ref)
    torch.testing.assert_close(xd.grad.cpu(), x.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(convd.weight.grad.cpu(), conv.weight.grad, rtol=1e-4, atol=1e-5)
