import torch

import deeplink


def _pair(*shape):
    c = torch.randn(*shape, dtype=torch.float64)
    return c.clone().requires_grad_(), c.to("deeplink").requires_grad_()


def test_backward_matches_cpu():
    xc, xd = _pair(8, 5)
    wc, wd = _pair(5, 3)
    for x, w in ((xc, wc), (xd, wd)):
        y = torch.nn.functional.gelu(x @ w).softmax(-1).log().sum()
        y.backward()
    assert xd.grad.device.type == "deeplink"
    torch.testing.assert_close(xd.grad.cpu(), xc.grad)
    torch.testing.assert_close(wd.grad.cpu(), wc.grad)


def test_views_and_inplace_under_autograd():
    xc, xd = _pair(4, 4)
    for x in (xc, xd):
        y = x * 1.0
        y[:, 1].mul_(3)
        y.t().sum().backward()
    torch.testing.assert_close(xd.grad.cpu(), xc.grad)


def test_gradcheck_on_device():
    x = torch.randn(3, 3, dtype=torch.float64, device="deeplink", requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: (t.sin() * t).sum(dim=0), (x,))


def test_sdpa_backward():
    qc, qd = _pair(2, 2, 6, 8)
    for q in (qc, qd):
        torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True).sum().backward()
    torch.testing.assert_close(qd.grad.cpu(), qc.grad)


def test_zero_gradients_are_real_tensors():
    # sgn's derivative for real inputs is ATen's storage-less "efficient zero" tensor.
    x = torch.randn(5, device="deeplink", requires_grad=True)
    (g,) = torch.autograd.grad(torch.sgn(x), x, torch.ones(5, device="deeplink"))
    assert torch.equal(g.cpu(), torch.zeros(5))


def test_conv2d_forward_and_backward():
    xc, xd = _pair(2, 3, 9, 9)
    wc, wd = _pair(4, 3, 3, 3)
    for x, w in ((xc, wc), (xd, wd)):
        torch.nn.functional.conv2d(x, w, stride=2, padding=1).square().sum().backward()
    torch.testing.assert_close(xd.grad.cpu(), xc.grad)
    torch.testing.assert_close(wd.grad.cpu(), wc.grad)
    deeplink.set_fallback_mode("error")  # convolution is native on the cpu backend
    try:
        torch.nn.functional.conv1d(torch.randn(1, 2, 8, device="deeplink"), torch.randn(3, 2, 3, device="deeplink"))
    finally:
        deeplink.set_fallback_mode("warn")
