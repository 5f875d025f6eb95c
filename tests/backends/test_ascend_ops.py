"""Operator results on the emulated Ascend backend match ATen on the CPU.

Each sample calls one aten overload on CPU tensors and on deeplink tensors (backend "ascend",
fallback mode "error": a call that did not run natively fails) and checks that the overload ran
natively and that outputs (and in-place updates) agree. The LLM tier (the ops of
deeplink/data/llm_workloads_cuda.json) is covered in float32, the matmul/softmax/norm/attention
core also in bfloat16 and float16. Verified against the emulator only: the emulator's reference
math is ATen on the CPU, so these tests check the backend's argument mapping, layouts, dtypes,
strides, outputs and protocol, not Ascend numerics.
"""
from __future__ import annotations

import math

import pytest
import torch

from deeplink.opset.names import has_kernel
from test_ascend_helpers import close, on_ascend, settle_and_check_clean

aten = torch.ops.aten
F32, BF16, F16 = torch.float32, torch.bfloat16, torch.float16


def _op(name):
    base, _, overload = name.partition(".")
    return getattr(getattr(aten, base), overload or "default")


def _to(x, device):
    if isinstance(x, torch.Tensor):
        if x.device.type == "cpu" and x.dim() == 0 and getattr(x, "_wrapped", False):
            return x
        return x.to(device)
    if isinstance(x, (list, tuple)):
        return type(x)(_to(v, device) for v in x)
    return x


def _compare(dev, ref, dtype, acc_dtype_ok=False):
    if isinstance(ref, torch.Tensor):
        assert isinstance(dev, torch.Tensor) and dev.device.type == "deeplink"
        d = dev.cpu()
        if acc_dtype_ok and d.dtype == F32 and ref.dtype in (BF16, F16):
            d = d.to(ref.dtype)  # statistics kept in float32, as CUDA (and the meta kernel) do
        assert d.shape == ref.shape and d.dtype == ref.dtype, (d.shape, ref.shape, d.dtype, ref.dtype)
        if ref.dtype in (F32, BF16, F16):
            close(d, ref, ref.dtype if ref.dtype != F32 else dtype)
        else:
            assert torch.equal(d, ref)
    elif isinstance(ref, (list, tuple)):
        assert len(dev) == len(ref)
        for a, b in zip(dev, ref):
            if b is None:
                continue
            _compare(a, b, dtype, acc_dtype_ok)
    else:
        assert dev == ref


g = torch.Generator().manual_seed(1234)


def r(*shape, dtype=F32, low=None):
    t = torch.randn(*shape, generator=g)
    if low is not None:
        t = t.abs() + low
    return t.to(dtype)


def ri(high, *shape):
    return torch.randint(0, high, shape, generator=g)


def _sample_table():
    S = []

    def add(name, build, dtypes=(F32,)):
        for dt in dtypes:
            S.append(pytest.param(name, build, dt, id=f"{name}-{str(dt).replace('torch.', '')}"))

    fl = (F32, BF16)
    # elementwise
    add("add.Tensor", lambda d: ((r(4, 5, dtype=d), r(4, 5, dtype=d)), {"alpha": 2}), (F32, BF16, F16))
    add("add.Tensor", lambda d: ((r(4, 5, dtype=d), r(5, dtype=d)), {}))
    add("add.Scalar", lambda d: ((r(3, 4, dtype=d), 1.5), {}))
    add("sub.Tensor", lambda d: ((r(3, 4, dtype=d), r(3, 1, dtype=d)), {"alpha": 0.5}))
    add("mul.Tensor", lambda d: ((r(4, 5, dtype=d), r(4, 5, dtype=d)), {}), fl)
    add("mul.Scalar", lambda d: ((r(4, 5, dtype=d), -3.0), {}), fl)
    add("div.Tensor", lambda d: ((r(4, 5, dtype=d), r(4, 5, dtype=d, low=0.5)), {}))
    add("div.Scalar", lambda d: ((r(4, 5, dtype=d), 8.0), {}))
    add("div.Tensor_mode", lambda d: ((r(4, 5, dtype=d) * 10, r(4, 5, dtype=d, low=0.5)), {"rounding_mode": "floor"}))
    add("pow.Tensor_Scalar", lambda d: ((r(4, 5, dtype=d), 2), {}), fl)
    add("pow.Tensor_Tensor", lambda d: ((r(4, 5, dtype=d, low=0.1), r(4, 5, dtype=d)), {}))
    add("pow.Scalar", lambda d: ((2.0, r(4, 5, dtype=d)), {}))
    for u in ("neg", "cos", "sin", "tanh", "silu", "exp", "sigmoid", "relu", "abs", "erf", "floor", "sign"):
        add(u, lambda d: ((r(3, 7, dtype=d),), {}), fl if u in ("neg", "silu", "tanh") else (F32,))
    for u in ("rsqrt", "sqrt", "log", "reciprocal", "log1p"):
        add(u, lambda d: ((r(3, 7, dtype=d, low=0.2),), {}))
    add("gelu", lambda d: ((r(3, 7, dtype=d),), {}))
    add("isnan", lambda d: ((torch.tensor([1.0, float("nan"), 3.0]),), {}))
    add("maximum", lambda d: ((r(3, 4), r(3, 4)), {}))
    add("eq.Tensor", lambda d: ((ri(3, 4, 4), ri(3, 4, 4)), {}))
    add("lt.Scalar", lambda d: ((r(4, 4), 0.1), {}))
    add("logical_and", lambda d: ((ri(2, 5).bool(), ri(2, 5).bool()), {}))
    add("where.self", lambda d: ((ri(2, 4, 5).bool(), r(4, 5), r(4, 5)), {}))
    add("clamp", lambda d: ((r(4, 5), -0.5, 0.5), {}))
    add("clamp_min", lambda d: ((r(4, 5), 0.0), {}))
    add("addcmul", lambda d: ((r(4, 5), r(4, 5), r(4, 5)), {"value": 0.3}))
    add("addcdiv", lambda d: ((r(4, 5), r(4, 5), r(4, 5, low=0.5)), {"value": -0.7}))
    add("lerp.Scalar", lambda d: ((r(4, 5), r(4, 5), 0.25), {}))
    # reductions, softmax
    add("sum.dim_IntList", lambda d: ((r(4, 5, 6, dtype=d), [1, 2]), {"keepdim": True}), fl)
    add("sum.dim_IntList", lambda d: ((ri(5, 4, 5), [0]), {}))
    add("sum", lambda d: ((r(4, 5),), {}))
    add("mean.dim", lambda d: ((r(4, 5, 6, dtype=d), [-1]), {"keepdim": True}), fl)
    add("amax", lambda d: ((r(4, 5, 6), [1]), {}))
    add("max.dim", lambda d: ((r(4, 5, 6), 2), {"keepdim": False}))
    add("argmax", lambda d: ((r(4, 5), 1), {}))
    add("argmax", lambda d: ((r(4, 5),), {}))
    add("cumsum", lambda d: ((r(4, 5), 1), {}))
    add("any.dims", lambda d: ((ri(2, 3, 4).bool(), [1]), {}))
    add("_softmax", lambda d: ((r(3, 9, dtype=d), -1, False), {}), (F32, BF16, F16))
    add("_log_softmax", lambda d: ((r(3, 9, dtype=d), 1, False), {}), fl)
    add("_softmax_backward_data", lambda d: ((r(3, 9), torch.softmax(r(3, 9), 1), 1, F32), {}))
    add("_log_softmax_backward_data", lambda d: ((r(3, 9), torch.log_softmax(r(3, 9), 1), 1, F32), {}))
    # matmul
    add("mm", lambda d: ((r(8, 16, dtype=d), r(16, 4, dtype=d)), {}), (F32, BF16, F16))
    add("mm", lambda d: ((r(16, 8).t(), r(16, 4)), {}))  # a transposed (strided) input
    add("bmm", lambda d: ((r(2, 8, 16, dtype=d), r(2, 16, 4, dtype=d)), {}), fl)
    add("addmm", lambda d: ((r(4, dtype=d), r(8, 16, dtype=d), r(16, 4, dtype=d)), {"beta": 0.5, "alpha": 2.0}), fl)
    add("baddbmm", lambda d: ((r(2, 8, 4), r(2, 8, 16), r(2, 16, 4)), {"alpha": 0.5}))
    # convolution: 1-D with bias and stride, 2-D grouped without bias, 2-D transposed; backward
    # with and without the bias gradient
    add("convolution", lambda d: ((r(2, 4, 9, dtype=d), r(6, 4, 3, dtype=d), r(6, dtype=d), [2], [1], [1], False, [0], 1),
                                  {}), fl)
    add("convolution", lambda d: ((r(1, 4, 6, 5), r(4, 2, 3, 3), None, [1, 1], [1, 0], [1, 2], False, [0, 0], 2), {}))
    add("convolution", lambda d: ((r(1, 3, 4, 4), r(3, 2, 2, 2), r(2), [2, 2], [0, 0], [1, 1], True, [1, 0], 1), {}))
    add("convolution_backward", lambda d: ((r(2, 6, 5), r(2, 4, 9), r(6, 4, 3), [6], [2], [1], [1], False, [0], 1,
                                            [True, True, True]), {}))
    add("convolution_backward", lambda d: ((r(1, 4, 6, 1), r(1, 4, 6, 5), r(4, 2, 3, 3), None, [1, 1], [1, 0], [1, 2],
                                            False, [0, 0], 2, [True, True, False]), {}))
    add("histc", lambda d: ((r(50), 7, -1.0, 1.0), {}))  # integer inputs: test_integer_histc_counts_exactly
    # normalisation and losses
    add("native_layer_norm", lambda d: ((r(4, 6, 16, dtype=d), [16], r(16, dtype=d), r(16, dtype=d), 1e-5), {}), fl)
    add("native_layer_norm_backward", lambda d: _layer_norm_backward(d), fl)
    add("nll_loss_forward", lambda d: ((torch.log_softmax(r(6, 10), 1), _targets(), None, 1, -100), {}))
    add("nll_loss_forward", lambda d: ((torch.log_softmax(r(6, 10), 1), _targets(3), r(10, low=0.1), 2, 3), {}))
    add("nll_loss_backward", lambda d: _nll_backward())
    # activations' backward
    add("silu_backward", lambda d: ((r(4, 5, dtype=d), r(4, 5, dtype=d)), {}), fl)
    add("tanh_backward", lambda d: ((r(4, 5), torch.tanh(r(4, 5))), {}))
    add("sigmoid_backward", lambda d: ((r(4, 5), torch.sigmoid(r(4, 5))), {}))
    add("gelu_backward", lambda d: ((r(4, 5), r(4, 5)), {}))
    add("threshold_backward", lambda d: ((r(4, 5), r(4, 5), 0.0), {}))
    # memory, shape, indexing
    add("embedding", lambda d: ((r(10, 8, dtype=d), ri(10, 3, 4)), {}), fl)
    add("embedding_dense_backward", lambda d: ((r(3, 4, 8, dtype=d), torch.tensor([[1, 2, 1, 0], [9, 9, 2, 5], [0, 0, 1, 7]]),
                                                10, 2, False), {}), fl)
    add("cat", lambda d: (([r(2, 3), r(4, 3), torch.empty(0)],), {}))
    add("cat", lambda d: (([r(2, 3), r(2, 5)], 1), {}))
    add("constant_pad_nd", lambda d: ((r(2, 3, 4), [1, 2, 0, 1], 0.5), {}))
    add("arange.start_step", lambda d: ((2, 20, 3), {"dtype": torch.int64, "device": "_device_"}))
    add("arange", lambda d: ((7,), {"dtype": F32, "device": "_device_"}))
    add("triu", lambda d: ((r(5, 5), 1), {}))
    add("tril", lambda d: ((r(5, 6), -1), {}))
    add("flip", lambda d: ((r(3, 4), [0, 1]), {}))
    add("index_select", lambda d: ((r(6, 4), 0, torch.tensor([5, 0, 2])), {}))
    add("gather", lambda d: ((r(4, 5), 1, ri(5, 4, 3)), {}))
    add("scatter_add", lambda d: ((r(4, 5), 1, ri(5, 4, 3), r(4, 3)), {}))
    add("index.Tensor", lambda d: ((r(6, 4), [torch.tensor([0, 5, 5])]), {}))
    add("gather", lambda d: ((r(5), 0, torch.zeros(2, 0, dtype=torch.uint8)), {}))  # cast to int64 first
    add("scatter.src", lambda d: ((r(3, 5), 1, torch.tensor([[0, 4], [1, 2], [3, 3]]), r(3, 2)), {}))
    add("scatter.value", lambda d: ((r(3, 5), 0, torch.tensor([[2, 0, 1, 1, 0]]), 9.0), {}))
    add("scatter.reduce", lambda d: ((r(3, 5), 1, torch.tensor([[0, 0], [1, 2], [3, 3]]), r(3, 2)), {"reduce": "add"}))
    add("slice_scatter", lambda d: ((r(6, 5), r(2, 5), 0, 1, 5, 2), {}))
    add("select_scatter", lambda d: ((r(6, 5), r(6), 1, 3), {}))
    add("prod", lambda d: ((r(3, 4),), {}))
    add("prod.dim_int", lambda d: ((r(3, 4), 1, True), {}))
    add("max.dim", lambda d: ((ri(2, 4, 5).bool(), 1), {}))
    add("reflection_pad2d", lambda d: ((r(1, 2, 4, 5), [1, 2, 2, 1]), {}))
    add("replication_pad1d", lambda d: ((r(2, 3, 5), [2, 1]), {}))
    add("reflection_pad1d_backward", lambda d: ((r(2, 3, 8), r(2, 3, 5), [2, 1]), {}))
    add("sort", lambda d: ((r(4, 7), 1, True), {}))
    add("topk", lambda d: ((r(4, 7), 3), {}))
    add("slice_backward", lambda d: ((r(2, 3, 4, dtype=d), [2, 9, 4], 1, 2, 8, 2), {}), fl)
    add("native_dropout_backward", lambda d: ((r(4, 5), ri(2, 4, 5).bool(), 2.0), {}))
    add("native_dropout", lambda d: ((r(4, 5), 0.0, True), {}))
    add("native_dropout", lambda d: ((r(4, 5), 0.3, False), {}))
    return S


def _targets(ignore=-100):
    t = ri(10, 6)
    t[1] = ignore  # one ignored sample
    t[4] = 3
    return t


def _layer_norm_backward(d):
    x, w, b = r(4, 6, 16, dtype=d), r(16, dtype=d), r(16, dtype=d)
    _, mean, rstd = aten.native_layer_norm(x, [16], w, b, 1e-5)
    return (r(4, 6, 16, dtype=d), x, [16], mean, rstd, w, b, [True, True, True]), {}


def _nll_backward():
    logp, t = torch.log_softmax(r(6, 10), 1), _targets()
    out, total = aten.nll_loss_forward(logp, t, None, 1, -100)
    return (torch.tensor(1.5), logp, t, None, 1, -100, total), {}


@pytest.mark.parametrize("name,build,dtype", _sample_table())
def test_op_matches_cpu(name, build, dtype):
    import deeplink
    args, kwargs = build(dtype)
    op = _op(name)
    cpu_kwargs = {k: ("cpu" if v == "_device_" else v) for k, v in kwargs.items()}
    expected = op(*args, **cpu_kwargs)
    with on_ascend():
        dev_args = _to(args, "deeplink")
        dev_kwargs = {k: (torch.device("deeplink") if v == "_device_" else _to(v, "deeplink")) for k, v in kwargs.items()}
        deeplink.reset_op_stats()
        got = op(*dev_args, **dev_kwargs)
        stats = deeplink.op_stats()
        if name in stats:
            assert {k: stats[name][k] for k in ("native", "decomposed", "fallback")} == \
                {"native": 1, "decomposed": 0, "fallback": 0}, stats[name]
        else:  # a CompositeImplicitAutograd op decomposes above the backend (its parts ran natively)
            assert has_kernel(name, "CompositeImplicitAutograd"), f"{name} never reached the backend"
        assert not deeplink.fallback_stats(), deeplink.fallback_stats()
        _compare(got, expected, dtype, acc_dtype_ok=name == "native_layer_norm")


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.uint8])
def test_integer_histc_counts_exactly(dtype):
    """Mixture-of-experts routing counts expert indices with histc on integer tensors (which CUDA
    and aclnnHistc take and ATen CPU does not): the counts equal float64 binning's."""
    import deeplink
    experts = ri(6, 40).to(dtype)
    expected = torch.histc(experts.double(), bins=6, min=0, max=5).to(dtype)
    with on_ascend():
        deeplink.reset_op_stats()
        got = torch.histc(experts.to("deeplink"), bins=6, min=0, max=5)
        assert deeplink.op_stats()["histc"]["native"] == 1
    assert got.dtype == dtype and torch.equal(got.cpu(), expected)


def test_softmax_half_to_float_casts_on_the_device():
    """aten._softmax(half, half_to_float=True) returns float32 (CUDA's fused form; the CPU has no
    kernel for it): the backend casts to float32 with aclnnCast, then runs aclnnSoftmax."""
    import deeplink
    x = r(3, 9, dtype=F16)
    with on_ascend():
        deeplink.reset_op_stats()
        got = aten._softmax(x.to("deeplink"), -1, True)
        assert got.dtype == F32 and deeplink.op_stats()["_softmax"]["native"] == 1
        close(got.cpu(), torch.softmax(x.float(), -1))


INPLACE = [
    ("add_.Tensor", lambda: ((r(3, 4), r(3, 4)), {"alpha": -1})),
    ("mul_.Scalar", lambda: ((r(3, 4), 0.5), {})),
    ("div_.Tensor", lambda: ((r(3, 4), r(3, 4, low=0.5)), {})),
    ("addcmul_", lambda: ((r(3, 4), r(3, 4), r(3, 4)), {"value": 2.0})),
    ("lerp_.Scalar", lambda: ((r(3, 4), r(3, 4), 0.1), {})),
    ("fill_.Scalar", lambda: ((r(3, 4), 7.0), {})),
    ("zero_", lambda: ((r(3, 4),), {})),
    ("masked_fill_.Scalar", lambda: ((r(3, 4), ri(2, 3, 4).bool(), -1.0), {})),
    ("sqrt_", lambda: ((r(3, 4, low=0.1),), {})),
    ("index_put_", lambda: ((r(5, 3), [torch.tensor([0, 2, 2])], r(3, 3)), {"accumulate": True})),
]


@pytest.mark.parametrize("name,build", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_op_matches_cpu(name, build):
    args, kwargs = build()
    op = _op(name)
    cpu_self = args[0].clone()
    op(cpu_self, *args[1:], **kwargs)
    with on_ascend():
        dev_args = _to(args, "deeplink")
        res = op(*dev_args, **kwargs)
        assert res is dev_args[0]
        close(dev_args[0].cpu(), cpu_self)


def test_foreach_ops_of_adamw_match_cpu():
    base = [r(4, 5), r(7), r(2, 3, 3)]
    grads = [r(*t.shape) for t in base]
    seq = [
        ("_foreach_mul_.Scalar", lambda p, q: (p, 0.9), {}),
        ("_foreach_add_.Scalar", lambda p, q: (p, 1.0), {}),
        ("_foreach_add_.Tensor", lambda p, q: (p, torch.tensor(2.0)), {"alpha": 0.5}),
        ("_foreach_lerp_.Scalar", lambda p, q: (p, q, 0.1), {}),
        ("_foreach_addcmul_.Scalar", lambda p, q: (p, q, q), {"value": 0.01}),
        ("_foreach_div_.ScalarList", lambda p, q: (p, [2.0, 3.0, 4.0]), {}),
        ("_foreach_addcdiv_.ScalarList", lambda p, q: (p, q, [t.abs() + 1 for t in q], [0.1, 0.2, 0.3]), {}),
    ]
    cpu = [t.clone() for t in base]
    for name, mk, kw in seq:
        _op(name)(*mk(cpu, grads), **kw)
    expected_sqrt = aten._foreach_sqrt([t.abs() for t in cpu])
    with on_ascend():
        dev = [t.to("deeplink") for t in base]
        dgrads = [t.to("deeplink") for t in grads]
        for name, mk, kw in seq:
            args = list(mk(dev, dgrads))
            if name == "_foreach_add_.Tensor":
                args[1] = args[1].to("deeplink")
            _op(name)(*args, **kw)
        for a, b in zip(dev, cpu):
            close(a.cpu(), b)
        got = aten._foreach_sqrt([t.abs() for t in dev])
        for a, b in zip(got, expected_sqrt):
            close(a.cpu(), b)


def test_python_level_arithmetic_with_numbers_and_views():
    """Numbers arrive as CPU wrapped scalars and pick the aclnn scalar forms; views and dtype
    conversions go through the core's shim."""
    x = r(6, 8)
    m = x > 0
    exprs = [
        lambda t, mk: t + 2, lambda t, mk: 3 * t - 1, lambda t, mk: t / 4, lambda t, mk: t ** 2,
        lambda t, mk: torch.where(mk, t, 0.0), lambda t, mk: t[1:5, ::2].sum(dim=0),
        lambda t, mk: t.t().contiguous() @ t, lambda t, mk: t.to(torch.bfloat16).float(),
        lambda t, mk: t.masked_fill(mk, 1.5), lambda t, mk: torch.nn.functional.gelu(t),
        lambda t, mk: t.mean(-1, keepdim=True), lambda t, mk: t.max(), lambda t, mk: t.clamp(max=0.3),
    ]
    with on_ascend():
        dx, dm = x.to("deeplink"), m.to("deeplink")
        for e in exprs:
            expected = e(x, m)
            got = e(dx, dm)
            close(got.cpu(), expected)
        assert dx.sum().item() == pytest.approx(x.sum().item(), rel=1e-5)


def test_random_ops_follow_the_deeplink_generator():
    with on_ascend():
        t = torch.empty(4096, device="deeplink")
        torch.manual_seed(7)
        a = t.uniform_(-2.0, 3.0).cpu()
        torch.manual_seed(7)
        b = t.uniform_(-2.0, 3.0).cpu()
        assert torch.equal(a, b) and a.min() >= -2.0 and a.max() < 3.0 and abs(a.mean().item() - 0.5) < 0.1
        n = torch.empty(4096, device="deeplink").normal_(1.0, 2.0).cpu()
        assert abs(n.mean().item() - 1.0) < 0.15 and abs(n.std().item() - 2.0) < 0.15
        k = torch.empty(4096, device="deeplink").bernoulli_(0.25).cpu()
        assert set(k.unique().tolist()) <= {0.0, 1.0} and abs(k.mean().item() - 0.25) < 0.03
        x = r(64, 64).to("deeplink")
        out, mask = aten.native_dropout(x, 0.4, True)
        out, mask, xc = out.cpu(), mask.cpu(), x.cpu()
        assert mask.dtype == torch.bool and abs(mask.float().mean().item() - 0.6) < 0.05
        close(out, xc * mask / 0.6)


def _attention_inputs(dtype, B=2, N=4, S=24, D=16, Nkv=None):
    q = r(B, N, S, D, dtype=dtype)
    k = r(B, Nkv or N, S, D, dtype=dtype)
    v = r(B, Nkv or N, S, D, dtype=dtype)
    return q, k, v


def _reference(q, k, v, bias, causal, scale, grad):
    """fp32 math on the CPU (with GQA expansion) -> out, lse, dq, dk, dv, dbias."""
    q, k, v = (t.float().detach().requires_grad_() for t in (q, k, v))
    groups = q.size(1) // k.size(1)
    ke, ve = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
    s = (q @ ke.transpose(-2, -1)) * scale
    b = None
    if bias is not None:
        b = bias.float().detach().requires_grad_()
        s = s + b
    if causal:
        s = s.masked_fill(torch.ones(s.shape[-2:], dtype=torch.bool).triu(1), float("-inf"))
    lse = torch.logsumexp(s, -1)
    out = torch.softmax(s, -1) @ ve
    out.backward(grad.float())
    return out.detach(), lse.detach(), q.grad, k.grad, v.grad, (b.grad if b is not None else None)


@pytest.mark.parametrize("dtype", [F32, BF16, F16])
@pytest.mark.parametrize("causal", [False, True])
def test_efficient_attention_forward_and_backward(dtype, causal):
    """aten._scaled_dot_product_efficient_attention(+_backward) run on aclnnFlashAttentionScore(+Grad)."""
    import deeplink
    q, k, v = _attention_inputs(dtype)
    bias = None if causal else r(2, 1, 24, 24, dtype=dtype)
    scale = 1 / math.sqrt(16)
    grad = r(2, 4, 24, 16, dtype=dtype)
    ref = _reference(q, k, v, bias, causal, scale, grad)
    with on_ascend():
        dq, dk, dv, dg = (t.to("deeplink") for t in (q, k, v, grad))
        db = bias.to("deeplink") if bias is not None else None
        deeplink.reset_op_stats()
        out, lse, seed, offset = aten._scaled_dot_product_efficient_attention(dq, dk, dv, db, True, 0.0, causal)
        grads = aten._scaled_dot_product_efficient_attention_backward(
            dg, dq, dk, dv, db, out, lse, seed, offset, 0.0,
            [True, True, True, db is not None], causal)
        stats = deeplink.op_stats()
        assert stats["_scaled_dot_product_efficient_attention"]["native"] == 1
        assert stats["_scaled_dot_product_efficient_attention_backward"]["native"] == 1
        # Attention outputs and gradients carry several float16 roundings (scores, softmax, two
        # matmuls), so one-rounding float16 tolerances are too tight (they flaked with other inputs):
        # half types get the bfloat16 tolerances.
        tol = F32 if dtype == F32 else BF16
        close(out.cpu().float(), ref[0], tol)
        close(lse.cpu()[..., :24], ref[1], F32 if dtype == F32 else BF16)
        for got, want in zip(grads[:3], ref[2:5]):
            close(got.cpu().float(), want, tol)
        if bias is not None:
            close(grads[3].cpu().float(), ref[5], tol)
        settle_and_check_clean()


def test_flash_and_cudnn_attention_ops():
    q, k, v = _attention_inputs(F32)
    grad = r(*q.shape)
    ref = _reference(q, k, v, None, True, 0.125, grad)
    with on_ascend():
        dq, dk, dv, dg = (t.to("deeplink") for t in (q, k, v, grad))
        res = aten._scaled_dot_product_flash_attention(dq, dk, dv, 0.0, True, False, scale=0.125)
        close(res[0].cpu(), ref[0])
        close(res[1].cpu(), ref[1])
        g = aten._scaled_dot_product_flash_attention_backward(dg, dq, dk, dv, res[0], res[1], res[2], res[3], res[4],
                                                              res[5], 0.0, True, res[6], res[7], scale=0.125)
        for got, want in zip(g, ref[2:5]):
            close(got.cpu(), want)
        res = aten._scaled_dot_product_cudnn_attention(dq, dk, dv, None, True, 0.0, True, False, scale=0.125)
        close(res[0].cpu(), ref[0])
        g = aten._scaled_dot_product_cudnn_attention_backward(dg, dq, dk, dv, res[0], res[1], res[6], res[7], None,
                                                              res[2], res[3], res[4], res[5], 0.0, True, scale=0.125)
        for got, want in zip(g, ref[2:5]):
            close(got.cpu(), want)


def test_overrideable_attention_with_grouped_kv_heads_through_autograd():
    """The PrivateUse1 fused-attention op takes grouped key/value heads (here 8 query heads on 2
    key/value heads), forward and backward, through autograd."""
    q, k, v = _attention_inputs(F32, N=8, Nkv=2)
    grad = r(*q.shape)
    ref = _reference(q, k, v, None, True, 0.25, grad)
    with on_ascend():
        dq, dk, dv = (t.to("deeplink").requires_grad_() for t in (q, k, v))
        out = aten._scaled_dot_product_fused_attention_overrideable(dq, dk, dv, None, 0.0, True, False, scale=0.25)[0]
        out.backward(grad.to("deeplink"))
        close(out.detach().cpu(), ref[0])
        for t, want in zip((dq, dk, dv), ref[2:5]):
            assert t.grad.shape == want.shape
            close(t.grad.cpu(), want)


def test_fused_sdp_choice_picks_flash_attention_when_it_can():
    with on_ascend():
        q, k, v = (t.to("deeplink") for t in _attention_inputs(F32))
        assert aten._fused_sdp_choice(q, k, v, None, 0.0, True) == 4       # overrideable -> FlashAttentionScore
        assert aten._fused_sdp_choice(q, k, v, None, 0.1, True) == 0       # dropout: math path
        assert aten._fused_sdp_choice(q.double(), k.double(), v.double()) == 0


def test_unsupported_calls_are_declined_not_miscomputed():
    """Calls an aclnn operator cannot take are declined (the dispatcher then falls back or, in
    error mode, raises naming the op); they are never silently computed differently."""
    x = r(4, 5)
    with on_ascend(fallback="error"):
        dx = x.to("deeplink")
        with pytest.raises(NotImplementedError) as err:
            torch.argmax(dx, keepdim=True)          # aclnnArgMax takes one dim, not "all, kept"
        assert "argmax" in str(err.value)
    with on_ascend(fallback="silent"):
        assert torch.equal(torch.argmax(dx, keepdim=True).cpu(), torch.argmax(x, keepdim=True))


def test_no_object_leaks_or_hazards_after_the_op_suite():
    with on_ascend():
        settle_and_check_clean()
