"""Kernels whose checks are not a one-call comparison: random ops (by distribution and
reproducibility), fused attention (against the math formula, with grouped heads, bias, causal
mask and gradients), the multi-tensor _foreach_* graphs, and the dtype table of the backend."""
from __future__ import annotations

import math

import pytest
import torch

from test_onnxruntime_helpers import BF16, F16, F32, F64, kernel, on_onnxruntime, tolerance

import deeplink


# -- random -----------------------------------------------------------------------------------
def test_uniform_and_normal_have_the_right_distribution_and_replay_from_the_seed():
    with on_onnxruntime():
        torch.manual_seed(123)
        u = torch.empty(100_000, device="deeplink").uniform_().cpu()
        torch.manual_seed(123)
        again = torch.empty(100_000, device="deeplink").uniform_().cpu()
        n = torch.randn(100_000, device="deeplink").cpu()
    assert torch.equal(u, again)
    assert 0 <= u.min() and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    counts = torch.histc(u, 50, 0, 1)
    chi2 = ((counts - 2000) ** 2 / 2000).sum().item()
    assert chi2 < 100                      # 49 degrees of freedom: p < 1e-4 beyond ~95
    assert abs(n.mean()) < 0.02 and abs(n.std() - 1) < 0.02
    assert abs(((n > 1.96) | (n < -1.96)).float().mean() - 0.05) < 0.005


def test_native_dropout_keeps_1_minus_p_and_rescales():
    with on_onnxruntime():
        x = torch.ones(50_000, device="deeplink")
        out, mask = torch.ops.aten.native_dropout(x, 0.25, True)
        out, mask = out.cpu(), mask.cpu()
        grad = torch.ops.aten.native_dropout_backward(torch.ones(50_000, device="deeplink"),
                                                      mask.to("deeplink"), 1 / 0.75).cpu()
        eval_out, eval_mask = torch.ops.aten.native_dropout(x, 0.25, False)
        assert torch.equal(eval_out.cpu(), x.cpu()) and bool(eval_mask.cpu().all())
    assert mask.dtype == torch.bool and abs(mask.float().mean() - 0.75) < 0.01
    torch.testing.assert_close(out[mask], torch.full_like(out[mask], 1 / 0.75))
    assert bool((out[~mask] == 0).all())
    assert torch.equal(grad, out)


def test_bernoulli_and_randperm():
    with on_onnxruntime():
        b = torch.empty(40_000, device="deeplink").bernoulli_(0.3).cpu()
        p = torch.randperm(500, device="deeplink").cpu()
    assert set(b.unique().tolist()) <= {0.0, 1.0} and abs(b.mean() - 0.3) < 0.01
    assert torch.equal(p.sort().values, torch.arange(500))


# -- fused attention --------------------------------------------------------------------------
def _reference(q, k, v, bias, causal):
    g = q.shape[1] // k.shape[1]
    qr, kr, vr = (t.detach().clone().requires_grad_() for t in
                  (q, k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)))
    br = bias.clone().requires_grad_() if bias is not None else None
    out = torch.nn.functional.scaled_dot_product_attention(qr, kr, vr, attn_mask=br,
                                                           is_causal=causal)
    return out, (qr, kr, vr, br)


@pytest.mark.parametrize("heads,kv_heads,causal,bias", [(4, 4, False, None), (4, 2, True, None),
                                                        (2, 1, False, (1, 1, 9, 11)),
                                                        (2, 2, False, (9, 11))])
def test_efficient_attention_forward_and_backward(heads, kv_heads, causal, bias):
    torch.manual_seed(0)
    b, lq, lk, e = 2, 9, 9 if causal else 11, 8
    q, k, v = torch.randn(b, heads, lq, e), torch.randn(b, kv_heads, lk, e), \
        torch.randn(b, kv_heads, lk, e)
    bias_t = torch.randn(bias) if bias else None
    want, leaves = _reference(q, k, v, bias_t, causal)
    grad = torch.randn_like(want)
    want.backward(grad)
    with on_onnxruntime():
        dev = [t.to("deeplink") if t is not None else None for t in (q, k, v, bias_t, grad)]
        out, lse, seed, offset = torch.ops.aten._scaled_dot_product_efficient_attention(
            dev[0], dev[1], dev[2], dev[3], True, 0.0, causal)
        assert lse.shape == (b, heads, 32) and lse.dtype == F32      # CUDA pads L to 32
        dq, dk, dv, db = torch.ops.aten._scaled_dot_product_efficient_attention_backward(
            dev[4], dev[0], dev[1], dev[2], dev[3], out, lse, seed, offset, 0.0,
            [True, True, True, bias is not None], causal)
        got = [t.cpu() if t is not None else None for t in (out, dq, dk, dv, db)]
    g = heads // kv_heads
    torch.testing.assert_close(got[0], want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got[1], leaves[0].grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got[2], leaves[1].grad.view(b, kv_heads, g, lk, e).sum(2),
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got[3], leaves[2].grad.view(b, kv_heads, g, lk, e).sum(2),
                               rtol=1e-4, atol=1e-5)
    if bias:
        torch.testing.assert_close(got[4], leaves[3].grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [F16, BF16])
def test_attention_in_reduced_precision_accumulates_in_float32(dtype):
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 16, 8) for _ in range(3))
    want = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).to(dtype)
    with on_onnxruntime():
        got = torch.nn.functional.scaled_dot_product_attention(
            *(t.to(dtype).to("deeplink") for t in (q, k, v)), is_causal=True).cpu()
    torch.testing.assert_close(got, want, **tolerance(dtype))


def test_cudnn_attention_layout():
    q, k, v = (torch.randn(1, 2, 5, 4) for _ in range(3))
    res = kernel("_scaled_dot_product_cudnn_attention")(q, k, v, None, True)
    assert res[1].shape == (1, 2, 5, 1)
    torch.testing.assert_close(res[0], torch.nn.functional.scaled_dot_product_attention(q, k, v))


def test_attention_dropout_mask_is_replayed_by_the_backward():
    """With V = identity the output is the dropped-out probabilities P*Z themselves: every entry
    is 0 or P/(1-p); the backward, given the forward's seeds, must be the gradient of exactly
    that masked attention."""
    torch.manual_seed(0)
    p_drop, s = 0.3, 6
    q, k = torch.randn(1, 2, s, 4), torch.randn(1, 2, s, 4)
    eye = torch.eye(s).expand(1, 2, s, s).contiguous()
    probs = torch.softmax(q @ k.transpose(-2, -1) / 2.0, -1)
    with on_onnxruntime():
        qd, kd, vd = q.to("deeplink"), k.to("deeplink"), eye.to("deeplink")
        out, lse, seed, offset = torch.ops.aten._scaled_dot_product_efficient_attention(
            qd, kd, vd, None, True, p_drop)
        pz = out.cpu()
        kept = pz != 0
        assert 0.5 < kept.float().mean() < 0.9
        torch.testing.assert_close(pz[kept], (probs / (1 - p_drop))[kept])
        v = torch.randn(1, 2, s, 4)
        out_v, lse_v, seed_v, offset_v = torch.ops.aten._scaled_dot_product_efficient_attention(
            qd, kd, v.to("deeplink"), None, True, p_drop)
        go = torch.randn(1, 2, s, 4)
        grads = torch.ops.aten._scaled_dot_product_efficient_attention_backward(
            go.to("deeplink"), qd, kd, v.to("deeplink"), None, out_v, lse_v, seed_v, offset_v,
            p_drop, [True, True, True, False])
        grads = [t.cpu() for t in grads[:3]]
        out_v = out_v.cpu()
    # the second call drew its own seeds: read its mask back with V = I and those seeds
    mask = _mask_from_seeds(q, k, eye, p_drop, seed_v, offset_v)
    qr, kr, vr = (t.clone().requires_grad_() for t in (q, k, v))
    ref = (torch.softmax(qr @ kr.transpose(-2, -1) / 2.0, -1) * mask / (1 - p_drop)) @ vr
    ref.backward(go)
    torch.testing.assert_close(out_v, ref.detach(), rtol=1e-5, atol=1e-5)
    for got, want in zip(grads, (qr.grad, kr.grad, vr.grad)):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def _mask_from_seeds(q, k, eye, p_drop, seed, offset):
    """The keep-mask a (seed, offset) pair gives, read back through a forward with V = I."""
    from deeplink.backends.onnxruntime.ops.attention import _forward, _prepare
    with on_onnxruntime():
        qd, kd, vd = _prepare(q.to("deeplink"), k.to("deeplink"), eye.to("deeplink"))
        pz, _ = _forward("sdpa_efficient", qd, kd, vd, None, p_drop, False, None, "padded",
                         (int(seed.cpu()), int(offset.cpu())))
        return (pz.cpu() != 0).float()


# -- foreach ----------------------------------------------------------------------------------
def _lists(dtype):
    return [torch.randn(3, 4).to(dtype), torch.randn(5).to(dtype),
            torch.randn(2, 3, 2).to(dtype).transpose(0, 2)]


@pytest.mark.parametrize("dtype", [F32, BF16])
def test_adamw_foreach_ops_match_aten(dtype):
    torch.manual_seed(0)
    calls = [
        ("_foreach_lerp_.Scalar", lambda a, b, c: (a, b, 0.1)),
        ("_foreach_mul_.Scalar", lambda a, b, c: (a, 0.999)),
        ("_foreach_addcmul_.Scalar", lambda a, b, c: (a, b, b, 0.001)),
        ("_foreach_sqrt", lambda a, b, c: ([x.abs() for x in a],)),
        ("_foreach_div_.ScalarList", lambda a, b, c: (a, [0.5, 2.0, 3.0])),
        ("_foreach_add_.Scalar", lambda a, b, c: (a, 1e-8)),
        ("_foreach_addcdiv_.ScalarList", lambda a, b, c: (a, b, c, [-0.1, -0.2, -0.3])),
        ("_foreach_add_.List", lambda a, b, c: (a, b)),
        ("_foreach_norm.Scalar", lambda a, b, c: (a, 2)),
    ]
    for name, make in calls:
        a, b, c = _lists(dtype), _lists(dtype), [x.abs() + 1 for x in _lists(dtype)]
        args_ref = make([x.clone() for x in a], b, c)
        args_ort = make([x.clone() for x in a], b, c)
        base, _, overload = name.partition(".")
        op = getattr(getattr(torch.ops.aten, base), overload or "default")
        with on_onnxruntime():
            dev = [[x.to("deeplink") for x in arg] if isinstance(arg, list) and
                   isinstance(arg[0], torch.Tensor) else arg for arg in args_ort]
            deeplink.reset_op_stats()
            res = op(*dev)
            assert deeplink.op_stats()[name]["native"] == 1
            got = [x.cpu() for x in (dev[0] if res is None else res)]
        want = op(*args_ref)
        want = args_ref[0] if want is None else want
        for g_, w_ in zip(got, want):
            torch.testing.assert_close(g_, w_, msg=name, **tolerance(dtype))


def test_a_foreach_call_is_one_graph_for_the_whole_list():
    from deeplink.backends.onnxruntime import reset_stats, stats
    with on_onnxruntime():
        params = [torch.randn(4, 4, device="deeplink") for _ in range(10)]
        torch._foreach_mul_(params, 0.9)
        reset_stats()
        torch._foreach_mul_(params, 0.8)
        assert stats()["hits"] == 1 and stats()["misses"] == 0


# -- declared dtypes ----------------------------------------------------------------------------
def test_dtype_table_is_honest_for_float64():
    """Kernels that accept float64 must build their graph for it: ORT's CPU EP lacks double Erf,
    Tan and the inverse-trig kernels, and those ops decline float64 (falling back) instead."""
    x = torch.rand(5, dtype=torch.float64) * 0.5 + 0.25
    for name in ("exp", "log", "sqrt", "tanh", "sigmoid", "sin", "cos", "rsqrt"):
        torch.testing.assert_close(kernel(name)(x), getattr(torch, name)(x), rtol=1e-12, atol=0)
    from deeplink.backends.onnxruntime.ops import TABLE as KERNELS
    for name in ("erf", "tan", "asin", "acos", "atan", "gelu"):
        assert torch.float64 not in KERNELS[name].dtypes
    assert math.isclose(kernel("erf")(torch.tensor([0.5]))[0].item(), math.erf(0.5),
                        rel_tol=1e-6)


# -- out= forms and equal -----------------------------------------------------------------------
def test_out_variants_resize_cast_and_refuse_like_aten():
    with on_onnxruntime():
        a, b = torch.randn(3, 4, device="deeplink"), torch.randn(3, 4, device="deeplink")
        out = torch.empty(0, device="deeplink")
        torch.add(a, b, alpha=2, out=out)                          # resized from empty
        torch.testing.assert_close(out.cpu(), a.cpu() + 2 * b.cpu())
        summed = torch.empty(3, dtype=F64, device="deeplink")
        torch.sum(a, 1, out=summed)                                # float32 result into float64
        torch.testing.assert_close(summed.cpu(), a.cpu().sum(1).double())
        rng = torch.empty(4, dtype=F64, device="deeplink")
        torch.arange(0, 2, 0.5, out=rng)                           # factory out= form
        assert torch.equal(rng.cpu(), torch.arange(0, 2, 0.5, dtype=F64))
        with pytest.raises(RuntimeError, match="can't be cast"):
            torch.add(a, b, out=torch.empty(3, 4, dtype=torch.int64, device="deeplink"))
        assert torch.equal(a, a) and not torch.equal(a, b) and not torch.equal(a, a[:2])
        deeplink.reset_op_stats()
        torch.mm(a, b.t(), out=torch.empty(3, 3, device="deeplink"))
        assert deeplink.op_stats()["mm.out"]["native"] == 1
