"""The fused attention reference autocompare judges with (conformance/llm_cases.py): its gradients
in closed form equal autograd's through attention's definition, for grouped-query attention and
broadcast biases, and it runs where autograd is off (inside a backward pass)."""
import pytest
import torch

from deeplink.conformance.llm_cases import attention_reference, attention_reference_grads

CASES = [  # (B, H, Hk, L, S, E, causal, bias shape, scale)
    (2, 4, 4, 8, 8, 16, True, None, None),
    (1, 4, 2, 5, 7, 8, False, (1, 4, 5, 7), 0.3),
    (2, 2, 1, 6, 6, 4, True, (2, 1, 6, 6), None),
    (1, 2, 2, 3, 9, 4, False, (3, 9), None),
]


def _autograd_grads(q, k, v, bias, grad_out, causal, scale):
    leaves = [t.double().requires_grad_() for t in (q, k, v)] + ([bias.double().requires_grad_()] if bias is not None
                                                                  else [])
    out, _ = attention_reference(*leaves[:3], leaves[3] if bias is not None else None, causal, scale)
    return torch.autograd.grad(out, leaves, grad_out.double())


@pytest.mark.parametrize("B,H,Hk,L,S,E,causal,bias_shape,scale", CASES)
def test_closed_form_gradients_equal_autograd(B, H, Hk, L, S, E, causal, bias_shape, scale):
    g = torch.Generator().manual_seed(0)
    q, grad_out = torch.randn(B, H, L, E, generator=g), torch.randn(B, H, L, E, generator=g)
    k, v = torch.randn(B, Hk, S, E, generator=g), torch.randn(B, Hk, S, E, generator=g)
    bias = torch.randn(*bias_shape, generator=g) if bias_shape else None
    want = _autograd_grads(q, k, v, bias, grad_out, causal, scale)
    got = attention_reference_grads(q, k, v, bias, grad_out, causal, scale)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_runs_with_autograd_off():
    q = torch.randn(1, 2, 4, 8)
    with torch.no_grad(), torch.inference_mode():
        grads = attention_reference_grads(q, q, q, None, torch.ones_like(q), True, None)
    assert [t.shape for t in grads] == [q.shape] * 3
