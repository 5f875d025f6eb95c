"""Cases for LLM-tier ops that no OpInfo sample reaches on the CPU-recorded golden data.

CUDA's fused attention kernels (`_scaled_dot_product_efficient_attention`, the cuDNN one, and their
backwards) are called by training steps on the CUDA path but by no OpInfo, and the `_foreach_*`
ops AdamW uses have no OpInfo golden either. Each generator here draws seeded inputs shaped like
an LLM step's, calls the aten overload directly on the target device, and checks the result
against ATen CPU in float64 (the report labels these cases `aten-cpu-float64`, not CUDA).

    enumerate_cases(dtypes) -> [(overload, dtype, index, params)]     (parent, cheap)
    build(case) -> program with execute(device) / check(outputs)      (worker)
"""
from __future__ import annotations

import math

import torch

from .compare import Comparison, compare_leaf
from .tolerance import for_case

REF_FLOAT64 = "aten-cpu-float64"
FLOAT_DTYPES = ("float32", "bfloat16", "float16")

# ---------------------------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------------------------

# (batch, heads, q_len, kv_len, head_dim, is_causal, bias, scale): shapes of LLaMA/GPT-2 style
# heads (64, 128), a ragged q/kv pair, an additive bias and a custom scale.
ATTENTION_SHAPES = [
    dict(B=2, H=4, L=64, S=64, E=64, causal=True, bias=False, scale=None),
    dict(B=1, H=2, L=40, S=40, E=32, causal=False, bias=True, scale=None),
    dict(B=2, H=3, L=17, S=33, E=16, causal=False, bias=False, scale=0.3),
    dict(B=1, H=2, L=128, S=128, E=128, causal=True, bias=False, scale=None),
]

ATTENTION_OPS = {
    # overload: (dtypes CUDA runs it in, is backward, flavour)
    "_scaled_dot_product_efficient_attention": (FLOAT_DTYPES, False, "efficient"),
    "_scaled_dot_product_efficient_attention_backward": (FLOAT_DTYPES, True, "efficient"),
    # cuDNN's fused attention only takes half types.
    "_scaled_dot_product_cudnn_attention": (("bfloat16", "float16"), False, "cudnn"),
    "_scaled_dot_product_cudnn_attention_backward": (("bfloat16", "float16"), True, "cudnn"),
}


def _seed(op: str, dtype: str, index: int) -> int:
    return sum((i + 1) * ord(c) for i, c in enumerate(f"{op}/{dtype}/{index}")) % 2**31


def _attention_inputs(p: dict, dtype: torch.dtype, seed: int):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(p["B"], p["H"], p["L"], p["E"], generator=g).to(dtype)
    k = torch.randn(p["B"], p["H"], p["S"], p["E"], generator=g).to(dtype)
    v = torch.randn(p["B"], p["H"], p["S"], p["E"], generator=g).to(dtype)
    bias = torch.randn(p["B"], p["H"], p["L"], p["S"], generator=g).to(dtype) if p["bias"] else None
    grad_out = torch.randn(p["B"], p["H"], p["L"], p["E"], generator=g).to(dtype)
    return q, k, v, bias, grad_out


def _attention_probs(q, k, bias, causal: bool, scale):
    """(softmax(q k^T * scale + bias, causal top-left mask), logsumexp, scale) in float64, k
    already with q's heads."""
    s = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
    scores = q @ k.transpose(-2, -1) * s
    if bias is not None:
        scores = scores + bias.double()
    if causal:
        keep = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        scores = scores.masked_fill(~keep, -math.inf)
    return torch.softmax(scores, dim=-1), torch.logsumexp(scores, dim=-1), s


def _heads_of_q(q, k, v):
    """k and v in float64 with q's number of heads: grouped-query attention's k and v heads each
    serve H/Hk query heads."""
    k, v = k.double(), v.double()
    if k.shape[-3] != q.shape[-3]:
        k, v = (t.repeat_interleave(q.shape[-3] // t.shape[-3], dim=-3) for t in (k, v))
    return k, v


def attention_reference(q, k, v, bias, causal: bool, scale):
    """out, logsumexp (float64) of softmax(q k^T * scale + bias, causal top-left mask) v; k and v
    may have fewer heads than q (grouped-query attention)."""
    k, v = _heads_of_q(q, k, v)
    p, lse, _ = _attention_probs(q.double(), k, bias, causal, scale)
    return p @ v, lse


def attention_reference_grads(q, k, v, bias, grad_out, causal: bool, scale):
    """[grad q, grad k, grad v(, grad bias)] in float64, in closed form rather than by autograd so
    that it also runs where autograd is off (inside a kernel, or a dispatch mode judging one):
    dV = P^T dO, dS = P * (dO V^T - rowsum(dO * out)), dQ = dS K s, dK = dS^T Q s, dBias = dS."""
    q64 = q.double()
    k64, v64 = _heads_of_q(q, k, v)
    p, _, s = _attention_probs(q64, k64, bias, causal, scale)
    d_out = grad_out.double()
    d_scores = p * (d_out @ v64.transpose(-2, -1) - (d_out * (p @ v64)).sum(-1, keepdim=True))
    grads = [d_scores @ k64 * s, d_scores.transpose(-2, -1) @ q64 * s, p.transpose(-2, -1) @ d_out]
    for i, t in ((1, k), (2, v)):     # grouped-query attention: sum over the query heads a kv head served
        if t.shape[-3] != q.shape[-3]:
            g = grads[i]
            grads[i] = g.reshape(*g.shape[:-3], t.shape[-3], -1, *g.shape[-2:]).sum(-3)
    if bias is not None:
        extra = d_scores.dim() - bias.dim()
        d_bias = d_scores.sum(dim=tuple(range(extra))) if extra else d_scores
        broadcast = tuple(i for i, n in enumerate(bias.shape) if n == 1 and d_bias.shape[i] != 1)
        grads.append(d_bias.sum(dim=broadcast, keepdim=True) if broadcast else d_bias)
    return grads


def _lse_rows(lse: torch.Tensor, B: int, H: int, L: int) -> torch.Tensor:
    """The (B, H, L) logsumexp from a kernel's layout: (B, H, L), (B, H, L, 1), or the efficient
    kernel's (B, H, ceil(L/32)*32) with padding."""
    t = lse
    if t.dim() == 4 and t.shape[-1] == 1:
        t = t[..., 0]
    if t.dim() != 3 or tuple(t.shape[:2]) != (B, H) or t.shape[2] < L:
        raise ValueError(f"logsumexp of shape {tuple(lse.shape)} does not hold (B, H, L) = {(B, H, L)}")
    return t[..., :L]


class AttentionProgram:
    reference = REF_FLOAT64

    def __init__(self, op: str, dtype: str, index: int, params: dict):
        self.op, self.dtype_name, self.p = op, dtype, params
        self.dtype = getattr(torch, dtype)
        _, self.backward, self.flavour = ATTENTION_OPS[op]
        self.tol = for_case(self.dtype, [op], kind="forward")
        self.lse_tol = for_case(torch.float32, [op], kind="forward")
        self.q, self.k, self.v, self.bias, self.grad_out = _attention_inputs(params, self.dtype, _seed(op, dtype, index))
        p = params
        out64, lse64 = attention_reference(self.q, self.k, self.v, self.bias, p["causal"], p["scale"])
        self.out_ref, self.lse_ref = out64.to(self.dtype), lse64.float()
        if self.backward:
            grads = attention_reference_grads(self.q, self.k, self.v, self.bias, self.grad_out,
                                              p["causal"], p["scale"])
            if self.flavour != "efficient":
                grads = grads[:3]
            self.expected = [g.to(self.dtype) for g in grads]
            self.check_kind = "value (gradients of q, k, v" + (", bias)" if len(grads) == 4 else ")")
        else:
            self.check_kind = "value (output and logsumexp)"

    def execute(self, device: str):
        p = self.p
        d = {name: (t.to(device, copy=True) if t is not None else None)
             for name, t in (("q", self.q), ("k", self.k), ("v", self.v), ("bias", self.bias))}
        aten = torch.ops.aten
        if not self.backward:
            if self.flavour == "efficient":
                res = aten._scaled_dot_product_efficient_attention(
                    d["q"], d["k"], d["v"], d["bias"], True, 0.0, p["causal"], scale=p["scale"])
            else:
                res = aten._scaled_dot_product_cudnn_attention(
                    d["q"], d["k"], d["v"], d["bias"], True, 0.0, p["causal"], False, scale=p["scale"])
            return [res[0].cpu(), res[1].cpu()]
        grad_out = self.grad_out.to(device)
        out = self.out_ref.to(device)
        # The backward schemas take a non-optional bias; CUDA passes an undefined tensor when there
        # is none, which torch.ops spells None. (An empty tensor is *defined*: CUDA's kernels then
        # treat it as a bias, or the empty sequence lengths as a nested batch, and raise.)
        bias = d["bias"]
        seed = torch.zeros((), dtype=torch.int64).to(device)
        offset = torch.zeros((), dtype=torch.int64).to(device)
        if self.flavour == "efficient":
            # The efficient kernel's logsumexp is padded to a multiple of 32 rows.
            padded = math.ceil(p["L"] / 32) * 32
            lse = torch.zeros(p["B"], p["H"], padded)
            lse[..., : p["L"]] = self.lse_ref
            grads = aten._scaled_dot_product_efficient_attention_backward(
                grad_out, d["q"], d["k"], d["v"], bias, out, lse.to(device), seed, offset, 0.0,
                [True, True, True, d["bias"] is not None], p["causal"], scale=p["scale"])
        else:
            lse = self.lse_ref.unsqueeze(-1).to(device)
            grads = aten._scaled_dot_product_cudnn_attention_backward(
                grad_out, d["q"], d["k"], d["v"], out, lse, seed, offset, bias, None, None,
                p["L"], p["S"], 0.0, p["causal"], scale=p["scale"])
        # Only the efficient kernel returns a bias gradient (cuDNN's schema has three outputs).
        n = 4 if self.bias is not None and self.flavour == "efficient" else 3
        return [g.cpu() if g is not None else None for g in list(grads)[:n]]

    def check(self, out) -> Comparison:
        c = Comparison()
        if not self.backward:
            c.merge(compare_leaf(out[0], self.out_ref, self.tol, "output"))
            try:
                lse = _lse_rows(out[1], self.p["B"], self.p["H"], self.p["L"])
            except ValueError as e:
                c.fail(str(e))
                return c
            c.merge(compare_leaf(lse.float(), self.lse_ref, self.lse_tol, "logsumexp"))
            return c
        names = ["grad_query", "grad_key", "grad_value", "grad_bias"]
        for i, expected in enumerate(self.expected):
            got = out[i] if i < len(out) else None
            if got is None:
                c.fail(f"{names[i]}: not returned")
                continue
            c.merge(compare_leaf(got, expected, self.tol, names[i]))
        return c


# ---------------------------------------------------------------------------------------------
# _foreach_* (what torch.optim's foreach AdamW calls)
# ---------------------------------------------------------------------------------------------

# The per-tensor op each _foreach_ overload applies, in float64 for the reference.
FOREACH_OPS = {
    "_foreach_add_.Scalar": ("add", ["self", "scalar"]),
    "_foreach_add_.Tensor": ("add", ["self", "tensor0d", "alpha"]),
    "_foreach_add_.List": ("add", ["self", "list", "alpha"]),
    "_foreach_mul_.Scalar": ("mul", ["self", "scalar"]),
    "_foreach_mul_.Tensor": ("mul", ["self", "tensor0d"]),
    "_foreach_div_.ScalarList": ("div", ["self", "scalarlist"]),
    "_foreach_lerp_.Scalar": ("lerp", ["self", "list", "scalar"]),
    "_foreach_addcmul_.Scalar": ("addcmul", ["self", "list", "list", "scalar"]),
    "_foreach_addcdiv_.ScalarList": ("addcdiv", ["self", "list", "list_nonzero", "scalarlist"]),
    "_foreach_sqrt": ("sqrt", ["self_positive"]),
    "_foreach_sqrt_": ("sqrt", ["self_positive"]),
}

FOREACH_SHAPES = [[(64,), (16, 32), (3, 5, 7), ()], [(1024,), (4, 256), (7,)]]


def _foreach_reference(base: str, *elems):
    """One element of the foreach op in float64."""
    if base == "add":
        x, y, *alpha = elems
        return torch.add(x, y, alpha=alpha[0] if alpha else 1)
    if base == "mul":
        return torch.mul(*elems)
    if base == "div":
        return torch.div(*elems)
    if base == "lerp":
        return torch.lerp(*elems)
    if base == "addcmul":
        x, a, b, value = elems
        return torch.addcmul(x, a, b, value=value)
    if base == "addcdiv":
        x, a, b, value = elems
        return torch.addcdiv(x, a, b, value=value)
    if base == "sqrt":
        return torch.sqrt(*elems)
    raise KeyError(base)


class ForeachProgram:
    reference = REF_FLOAT64

    def __init__(self, op: str, dtype: str, index: int, params: dict):
        self.op, self.dtype = op, getattr(torch, dtype)
        self.base, self.roles = FOREACH_OPS[op]
        self.inplace = op.split(".")[0].endswith("_")
        self.tol = for_case(self.dtype, [op], kind="forward")
        self.check_kind = "value (the updated tensors)" if self.inplace else "value"
        g = torch.Generator().manual_seed(_seed(op, dtype, index))
        shapes = params["shapes"]
        n = len(shapes)

        def tensors(positive=False, nonzero=False):
            out = []
            for s in shapes:
                t = torch.randn(s, generator=g)
                if positive:
                    t = t.abs() + 0.1
                elif nonzero:
                    t = torch.where(t >= 0, t + 0.5, t - 0.5)
                out.append(t.to(self.dtype))
            return out

        self.args, self.kwargs, self.per_elem = [], {}, []
        for role in self.roles:
            if role in ("self", "self_positive"):
                arg = tensors(positive=role == "self_positive")
                self.args.append(arg)
                self.per_elem.append(lambda i, a=arg: a[i].double())
            elif role in ("list", "list_nonzero"):
                arg = tensors(nonzero=role == "list_nonzero")
                self.args.append(arg)
                self.per_elem.append(lambda i, a=arg: a[i].double())
            elif role == "scalar":
                value = 0.37
                self.args.append(value)
                self.per_elem.append(lambda i, v=value: v)
            elif role == "scalarlist":
                values = [0.5 + 0.25 * i for i in range(n)]
                self.args.append(values)
                self.per_elem.append(lambda i, v=values: v[i])
            elif role == "tensor0d":
                t = torch.tensor(1.7, dtype=self.dtype)
                self.args.append(t)
                self.per_elem.append(lambda i, t=t: t.double())
            elif role == "alpha":
                self.kwargs["alpha"] = 0.5
                self.per_elem.append(lambda i: 0.5)
        self.expected = [_foreach_reference(self.base, *(f(i) for f in self.per_elem)).to(self.dtype)
                         for i in range(n)]

    def execute(self, device: str):
        # copy=True: on the "cpu" target .to() would alias the stored inputs, and the in-place
        # foreach ops would then change them for every later run of the case (blame re-runs).
        def move(a):
            if isinstance(a, list) and a and isinstance(a[0], torch.Tensor):
                return [t.to(device, copy=True) for t in a]
            return a.to(device, copy=True) if isinstance(a, torch.Tensor) else a
        args = [move(a) for a in self.args]
        base, _, overload = self.op.partition(".")
        fn = getattr(getattr(torch.ops.aten, base), overload or "default")
        result = fn(*args, **self.kwargs)
        updated = args[0] if self.inplace else result
        return [t.cpu() for t in updated]

    def check(self, out) -> Comparison:
        c = Comparison()
        if len(out) != len(self.expected):
            c.fail(f"{len(out)} tensors, expected {len(self.expected)}")
            return c
        for i, (got, exp) in enumerate(zip(out, self.expected)):
            c.merge(compare_leaf(got, exp, self.tol, f"tensor[{i}]"))
        return c


# ---------------------------------------------------------------------------------------------

def enumerate_cases(dtypes: list[str]):
    """(overload, dtype, index, params) for every generated case of the requested dtypes."""
    out = []
    for op, (op_dtypes, _, _) in ATTENTION_OPS.items():
        for dtype in dtypes:
            if dtype in op_dtypes:
                out += [(op, dtype, i, dict(p)) for i, p in enumerate(ATTENTION_SHAPES)]
    for op in FOREACH_OPS:
        for dtype in dtypes:
            if dtype in FLOAT_DTYPES:
                out += [(op, dtype, i, {"shapes": s}) for i, s in enumerate(FOREACH_SHAPES)]
    return out


def build(case: dict):
    op, dtype, index, params = case["op"], case["dtype"], case["index"], case["params"]
    if op in ATTENTION_OPS:
        return AttentionProgram(op, dtype, index, params)
    if op in FOREACH_OPS:
        return ForeachProgram(op, dtype, index, params)
    raise KeyError(f"no generator for {op}")


__all__ = ["enumerate_cases", "build"]
