"""Kernel contract: a fixed sample of the ops every model uses. Each op the backend claims (its
kernel table has it) runs natively, with no CPU fallback anywhere inside it (DEEPLINK_FALLBACK=error),
and agrees with ATen on the CPU. Ops the backend does not claim are skipped, and say so: the
conformance suite (deeplink conformance run) is where coverage is measured; this is where a claim
is checked."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import deeplink


def _f(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


#: (aten overload the call reaches, the call, its inputs (CPU tensors; moved to the device for the run))
SAMPLE = [
    ("add.Tensor", lambda a, b: a + b * 2, (_f(4, 5), _f(5, seed=1))),
    ("sub.Tensor", lambda a, b: a - b, (_f(4, 5), _f(4, 5, seed=1))),
    ("mul.Tensor", lambda a, b: a * b, (_f(3, 1, 4), _f(2, 4, seed=1))),
    ("div.Tensor", lambda a, b: a / b, (_f(6), _f(6, seed=1).abs() + 0.5)),
    ("neg", lambda a: -a, (_f(7),)),
    ("exp", torch.exp, (_f(7),)),
    ("log", torch.log, (_f(7).abs() + 0.1,)),
    ("sqrt", torch.sqrt, (_f(7).abs(),)),
    ("rsqrt", torch.rsqrt, (_f(7).abs() + 0.1,)),
    ("tanh", torch.tanh, (_f(7),)),
    ("sigmoid", torch.sigmoid, (_f(7),)),
    ("relu", torch.relu, (_f(7),)),
    ("gelu", F.gelu, (_f(9),)),
    ("silu", F.silu, (_f(9),)),
    ("pow.Tensor_Scalar", lambda a: a ** 2, (_f(5),)),
    ("clamp", lambda a: a.clamp(-0.5, 0.5), (_f(8),)),
    ("where.self", lambda c, a, b: torch.where(c > 0, a, b), (_f(6), _f(6, seed=1), _f(6, seed=2))),
    ("mm", torch.mm, (_f(8, 16), _f(16, 4, seed=1))),
    ("bmm", torch.bmm, (_f(2, 3, 5), _f(2, 5, 4, seed=1))),
    ("addmm", lambda b, x, w: torch.addmm(b, x, w), (_f(4), _f(3, 6, seed=1), _f(6, 4, seed=2))),
    ("sum.dim_IntList", lambda a: a.sum(1), (_f(4, 6),)),
    ("mean.dim", lambda a: a.mean(-1, keepdim=True), (_f(4, 6),)),
    ("amax", lambda a: a.amax(0), (_f(4, 6),)),
    ("max.dim", lambda a: a.max(1), (_f(4, 6),)),
    ("argmax", lambda a: a.argmax(1), (_f(4, 6),)),
    ("_softmax", lambda a: torch.softmax(a, -1), (_f(3, 10),)),
    ("_log_softmax", lambda a: torch.log_softmax(a, -1), (_f(3, 10),)),
    ("native_layer_norm", lambda a, w, b: F.layer_norm(a, (8,), w, b), (_f(3, 8), _f(8, seed=1), _f(8, seed=2))),
    ("cat", lambda a, b: torch.cat([a, b], 1), (_f(2, 3), _f(2, 5, seed=1))),
    ("index_select", lambda a: a.index_select(0, torch.tensor([2, 0, 2], device=a.device)), (_f(4, 3),)),
    ("gather", lambda a: a.gather(1, torch.tensor([[0, 2], [1, 1]], device=a.device)), (_f(2, 3),)),
    ("embedding", lambda w: F.embedding(torch.tensor([[1, 3], [0, 3]], device=w.device), w), (_f(5, 4),)),
    ("masked_fill.Scalar", lambda a: a.masked_fill(a > 0, 0.0), (_f(6),)),
    ("cumsum", lambda a: a.cumsum(0), (_f(6),)),
    ("sort", lambda a: a.sort(-1), (_f(3, 7),)),
    ("topk", lambda a: a.topk(3), (_f(10),)),
    ("nll_loss_forward", lambda a: F.nll_loss(torch.log_softmax(a, 1), torch.tensor([1, 0, 3], device=a.device)),
     (_f(3, 4),)),
]


def _claimed(name: str) -> bool:
    kernels = deeplink._registry.active().kernels()
    return name in kernels


@pytest.mark.parametrize("op,fn,inputs", SAMPLE, ids=[s[0] for s in SAMPLE])
def test_claimed_ops_run_natively_and_agree_with_aten(backend, strict, op, fn, inputs):
    if not _claimed(op):
        pytest.skip(f"backend {backend!r} does not claim aten::{op}")
    want = fn(*inputs)
    deeplink.reset_op_stats()
    got = fn(*[t.to("deeplink") for t in inputs])
    stats = deeplink.op_stats().get(op, {})
    assert stats.get("native", 0) >= 1, f"aten::{op} did not run on {backend}'s kernel: {stats}"
    for g, w in zip(torch.utils._pytree.tree_leaves(got), torch.utils._pytree.tree_leaves(want)):
        assert g.device.type == "deeplink", f"aten::{op} returned a {g.device} tensor"
        torch.testing.assert_close(g.cpu(), w, rtol=1e-4, atol=1e-5)
