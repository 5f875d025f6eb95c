"""scaled_dot_product_attention on the deeplink device: the PrivateUse1 fused-attention hook
(_fused_sdp_choice -> OVERRIDEABLE -> _scaled_dot_product_fused_attention_overrideable) on the
cpu backend's fused kernel, and a learnable attention bias getting its gradient."""
import pytest
import torch
from torch.nn.attention import SDPBackend

import deeplink

F = torch.nn.functional


def _qkv(shape=(2, 4, 16, 8), dtype=torch.float32, requires_grad=False, kv_heads=None):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(*shape, generator=g, dtype=dtype)
    kv_shape = (shape[0], kv_heads or shape[1], *shape[2:])
    k, v = torch.randn(*kv_shape, generator=g, dtype=dtype), torch.randn(*kv_shape, generator=g, dtype=dtype)
    cpu = [t.requires_grad_(requires_grad) for t in (q, k, v)]
    dev = [t.detach().to("deeplink").requires_grad_(requires_grad) for t in (q, k, v)]
    return cpu, dev


def test_fused_choice_is_the_overrideable_kernel():
    _, (q, k, v) = _qkv((4, 2, 256, 128), torch.float16)
    assert torch._fused_sdp_choice(q, k, v) == SDPBackend.OVERRIDEABLE.value
    mask = torch.rand(4, 2, 256, 256, dtype=torch.float16).to("deeplink")
    assert torch._fused_sdp_choice(q, k, v, mask) == SDPBackend.OVERRIDEABLE.value
    assert torch._fused_sdp_choice(q, k, v, dropout_p=0.1) == SDPBackend.MATH.value


@pytest.mark.parametrize("causal", [False, True])
def test_attention_forward_backward_match_cpu(causal):
    deeplink.reset_op_stats()
    (qc, kc, vc), (q, k, v) = _qkv(requires_grad=True)
    F.scaled_dot_product_attention(qc, kc, vc, is_causal=causal).sum().backward()
    out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    out.sum().backward()
    torch.testing.assert_close(out.cpu(), F.scaled_dot_product_attention(qc, kc, vc, is_causal=causal).detach())
    for a, b in ((q, qc), (k, kc), (v, vc)):
        torch.testing.assert_close(a.grad.cpu(), b.grad, rtol=1e-4, atol=1e-5)
    stats = deeplink.op_stats()
    assert stats["_scaled_dot_product_fused_attention_overrideable"]["native"] == 1
    assert stats["_scaled_dot_product_fused_attention_overrideable_backward"]["native"] == 1


def test_grouped_kv_heads():
    (qc, kc, vc), (q, k, v) = _qkv((1, 4, 8, 8), requires_grad=True, kv_heads=2)
    F.scaled_dot_product_attention(qc, kc, vc, enable_gqa=True).sum().backward()
    F.scaled_dot_product_attention(q, k, v, enable_gqa=True).sum().backward()
    torch.testing.assert_close(k.grad.cpu(), kc.grad, rtol=1e-4, atol=1e-5)


def test_learnable_bias_gets_its_gradient():
    (qc, kc, vc), (q, k, v) = _qkv((1, 2, 8, 16), requires_grad=True)
    bias_c = torch.randn(1, 2, 8, 8, requires_grad=True)
    bias = bias_c.detach().to("deeplink").requires_grad_()
    F.scaled_dot_product_attention(qc, kc, vc, attn_mask=bias_c).sum().backward()
    F.scaled_dot_product_attention(q, k, v, attn_mask=bias).sum().backward()
    assert bias.grad is not None
    torch.testing.assert_close(bias.grad.cpu(), bias_c.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(q.grad.cpu(), qc.grad, rtol=1e-4, atol=1e-5)


def test_overrideable_ops_called_directly():
    (qc, kc, vc), (q, k, v) = _qkv((2, 2, 16, 8), torch.float16)
    mask = torch.rand(2, 2, 16, 16, dtype=torch.float16).to("deeplink")
    out, lse, *rest = torch.ops.aten._scaled_dot_product_fused_attention_overrideable(q, k, v, attn_bias=mask)
    expected = F.scaled_dot_product_attention(qc.float(), kc.float(), vc.float(), attn_mask=mask.cpu().float())
    torch.testing.assert_close(out.cpu().float(), expected, rtol=2e-3, atol=2e-3)
    grads = torch.ops.aten._scaled_dot_product_fused_attention_overrideable_backward(
        torch.ones_like(out), q, k, v, mask, [True, True, True, True], out, lse, rest[0], rest[1], rest[2], rest[3],
        dropout_p=0.0, is_causal=False, philox_seed=rest[4], philox_offset=rest[5])
    assert all(g is not None and g.device.type == "deeplink" for g in grads)


def test_dropout_takes_the_math_path():
    _, (q, k, v) = _qkv()
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert out.shape == q.shape and out.device.type == "deeplink"
