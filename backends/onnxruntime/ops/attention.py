"""The fused attention kernels of the LLM tier (CUDA-only in ATen), each one ONNX graph:
_scaled_dot_product_efficient_attention and _scaled_dot_product_cudnn_attention, forward and
backward. With both efficient kernels present, deeplink's SDPA choice routes
F.scaled_dot_product_attention here instead of the unfused math path.

Math (float32 throughout, as CUDA accumulates): S = scale * Q K^T (+ bias, causal mask),
lse = logsumexp(S), P = exp(S - lse), O = (P * Z) V with Z the dropout keep-mask over 1 - p;
backward recomputes P from lse and Z from the seeds the forward returned:
dV = (P*Z)^T dO, dS = P * ((dO V^T) * Z - rowsum(dO * O)), dQ = scale dS K, dK = scale dS^T Q.

Shapes: (B, H, L, E) inputs; 3-D ones line up with the last three dims as in SDPA's
broadcasting (a leading 1 is added), batch and head dims of size 1 broadcast, and grouped-query attention (H a multiple of the key/value heads, each
serving H/Hk consecutive query heads) views Q as (B, Hk, G, L, E) against K, V (B, Hk, 1, S, E).
Gradients of broadcast inputs are summed back to their shapes.

Output layouts follow the CUDA kernels: the efficient kernel's logsumexp is (B, H, L) padded to
a multiple of 32 with +inf, cuDNN's is (B, H, L, 1). Dropout uses this backend's counter-based
generator (ops/random.py): the two seeds travel in the philox_seed / philox_offset outputs, so
the backward regenerates the same mask; the values of the mask differ from CUDA's Philox stream.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .._vendor.execute import Scalar, run
from .common import empty
from .random import seeds, uniform01
from .registry import FLOATS, kernel

F32 = torch.float32


def _i64(values):
    return np.asarray(list(values), dtype=np.int64)


def _prepare(query, key, value):
    """4-D views of q, k, v with batch (and single-head) broadcasting made explicit (expanded
    views: no copies), or None when the shapes are not attention-shaped."""
    if not all(t.dim() in (3, 4) for t in (query, key, value)):
        return None
    q, k, v = (t.unsqueeze(0) if t.dim() == 3 else t for t in (query, key, value))
    batch = torch.broadcast_shapes(q.shape[:1], k.shape[:1], v.shape[:1])[0]
    hk = torch.broadcast_shapes(k.shape[1:2], v.shape[1:2])[0]
    hq = q.shape[1] if q.shape[1] != 1 else hk
    if hq % hk or k.shape[2] != v.shape[2] or q.shape[3] != k.shape[3]:
        return None
    q = q.expand(batch, hq, q.shape[2], q.shape[3])
    k = k.expand(batch, hk, k.shape[2], k.shape[3])
    v = v.expand(batch, hk, v.shape[2], v.shape[3])
    return q, k, v


class _Shapes:
    """Sizes of one attention call and the arrays the graph reshapes with."""

    def __init__(self, q, k, v):
        self.B, self.H, self.L, self.E = q.shape
        self.Hk, self.S = k.shape[1], k.shape[2]
        self.Ev = v.shape[3]
        self.G = self.H // self.Hk
        self.arrays = {
            "q5": _i64([self.B, self.Hk, self.G, self.L, self.E]),
            "s5": _i64([self.B, self.Hk, self.G, self.L, self.S]),
            "o5": _i64([self.B, self.Hk, self.G, self.L, self.Ev]),
            "s4": _i64([self.B, self.H, self.L, self.S]),
            "o4": _i64([self.B, self.H, self.L, self.Ev]),
            "ls": _i64([self.L, self.S]),
            "count": _i64([self.B * self.H * self.L * self.S]),
        }


def _bias_of(attn_bias):
    return attn_bias if attn_bias is not None and attn_bias.numel() else None


def _scores(g, q, k, bias, scale, causal, arr):
    """float32 scores (B, Hk, G, L, S), and Q, K viewed for grouped heads."""
    q5 = g.op("Reshape", g.cast(q, F32), arr["q5"])
    k5 = g.op("Unsqueeze", g.cast(k, F32), g.ints([2]))
    s = g.op("Mul", g.op("MatMul", q5, g.op("Transpose", k5, perm=[0, 1, 2, 4, 3])), scale)
    if bias is not None:
        b = g.op("Expand", g.cast(bias, F32), arr["s4"])
        s = g.op("Add", s, g.op("Reshape", b, arr["s5"]))
    if causal:   # torch's is_causal: query i sees keys j <= i (top-left aligned)
        keep = g.cast(g.op("Trilu", g.fill(arr["ls"], 1, torch.int64), upper=0), torch.bool)
        s = g.op("Where", keep, s, g.const(float("-inf"), F32))
    return s, q5, k5


def _keep_scale(g, arr, seed0, seed1, keep):
    """Dropout's Z = mask / keep over the (B, Hk, G, L, S) scores, from the two seeds."""
    u = g.op("Reshape", uniform01(g, arr["count"], seed0, seed1, F32), arr["s5"])
    return g.op("Div", g.cast(g.op("Less", u, keep), F32), keep)


def _logsumexp(g, s):
    m = g.op("ReduceMax", s, g.ints([-1]), keepdims=1)
    m = g.op("Where", g.op("IsInf", m), g.const(0.0, F32), m)
    total = g.op("ReduceSum", g.op("Exp", g.op("Sub", s, m)), g.ints([-1]), keepdims=1)
    return g.op("Add", g.op("Log", total), m)            # (B, Hk, G, L, 1)


def _scale_of(scale, e):
    return float(scale) if scale is not None else 1.0 / math.sqrt(e)


def _rng_inputs(dropout_p, seed_pair):
    if not dropout_p:
        return [None, None, None]
    return [Scalar(seed_pair[0], torch.int64), Scalar(seed_pair[1], torch.int64),
            Scalar(1.0 - float(dropout_p), F32)]


def _forward(name, q, k, v, attn_bias, dropout_p, is_causal, scale, lse_kind, seed_pair):
    sh = _Shapes(q, k, v)
    bias = _bias_of(attn_bias)
    out = empty((sh.B, sh.H, sh.L, sh.Ev), q.dtype, q.device)
    if lse_kind == "padded":
        lse_shape = (sh.B, sh.H, math.ceil(sh.L / 32) * 32)
    elif lse_kind == "column":
        lse_shape = (sh.B, sh.H, sh.L, 1)
    else:
        lse_shape = (sh.B, sh.H, 0)
    lse = empty(lse_shape, F32, q.device)
    want_lse = lse_kind is not None
    arr = dict(sh.arrays, lse=_i64(lse_shape), lse3=_i64([sh.B, sh.H, sh.L]),
               pad=_i64([0, 0, 0, 0, 0, lse_shape[-1] - sh.L if lse_kind == "padded" else 0]))
    names = list(arr)
    dropout = bool(dropout_p)

    def build(g, q_, k_, v_, b_, sc, s0, s1, keep, *arrays):
        a = dict(zip(names, arrays))
        s, _, _ = _scores(g, q_, k_, b_, sc, is_causal, a)
        lse5 = _logsumexp(g, s)
        p = g.op("Exp", g.op("Sub", s, lse5))
        if dropout:
            p = g.op("Mul", p, _keep_scale(g, a, s0, s1, keep))
        v5 = g.op("Unsqueeze", g.cast(v_, F32), g.ints([2]))
        res = [g.cast(g.op("Reshape", g.op("MatMul", p, v5), a["o4"]), q.dtype)]
        if want_lse:
            lse3 = g.op("Reshape", lse5, a["lse3"])            # (B, H, L)
            if lse_kind == "padded":
                lse3 = g.op("Pad", lse3, a["pad"], g.const(float("inf"), F32), mode="constant")
            res.append(g.op("Reshape", lse3, a["lse"]))
        return res
    run(name, (bias is not None, bool(is_causal), lse_kind, dropout),
        [q, k, v, bias, Scalar(_scale_of(scale, sh.E), F32)] + _rng_inputs(dropout_p, seed_pair)
        + [arr[n] for n in names], [out, lse] if want_lse else [out], build)
    return out, lse


def _backward(name, grad_out, q, k, v, attn_bias, out, logsumexp, dropout_p, is_causal, scale,
              want_bias_grad, seed_pair):
    sh = _Shapes(q, k, v)
    bias = _bias_of(attn_bias)
    dq = empty(q.shape, q.dtype, q.device)
    dk = empty(k.shape, k.dtype, k.device)
    dv = empty(v.shape, v.dtype, v.device)
    outs = [dq, dk, dv]
    reduce_axes = ()
    with_bias_grad = bias is not None and want_bias_grad
    if with_bias_grad:
        full = (sh.B, sh.H, sh.L, sh.S)
        lead = len(full) - bias.dim()
        reduce_axes = tuple(i for i in range(4) if i < lead or bias.shape[i - lead] == 1 and
                            full[i] != 1)
        outs.append(empty(bias.shape, bias.dtype, bias.device))
    arr = dict(sh.arrays, lse5=_i64([sh.B, sh.Hk, sh.G, sh.L, 1]), L=_i64([sh.L]),
               bias=_i64(bias.shape if bias is not None else ()))
    names = list(arr)
    dropout = bool(dropout_p)

    def build(g, gy, q_, k_, v_, b_, o_, lse, sc, s0, s1, keep, *arrays):
        a = dict(zip(names, arrays))
        s, q5, k5 = _scores(g, q_, k_, b_, sc, is_causal, a)
        lse = g.op("Reshape", lse, g.op("Concat", g.op("Slice", g.op("Shape", lse), g.ints([0]),
                                                       g.ints([2])), g.ints([-1]), axis=0))
        lse = g.op("Slice", lse, g.ints([0]), a["L"], g.ints([2]))      # drop CUDA's padding
        p = g.op("Exp", g.op("Sub", s, g.op("Reshape", lse, a["lse5"])))
        v5 = g.op("Unsqueeze", g.cast(v_, F32), g.ints([2]))
        go5 = g.op("Reshape", g.cast(gy, F32), a["o5"])
        o5 = g.op("Reshape", g.cast(o_, F32), a["o5"])
        last2 = [0, 1, 2, 4, 3]
        dp = g.op("MatMul", go5, g.op("Transpose", v5, perm=last2))
        p_used = p
        if dropout:
            z = _keep_scale(g, a, s0, s1, keep)
            p_used, dp = g.op("Mul", p, z), g.op("Mul", dp, z)
        dv5 = g.op("MatMul", g.op("Transpose", p_used, perm=last2), go5)
        delta = g.op("ReduceSum", g.op("Mul", go5, o5), g.ints([-1]), keepdims=1)
        ds = g.op("Mul", p, g.op("Sub", dp, delta))
        dq5 = g.op("Mul", g.op("MatMul", ds, k5), sc)
        dk5 = g.op("Mul", g.op("MatMul", g.op("Transpose", ds, perm=last2), q5), sc)
        res = [g.cast(g.op("Reshape", dq5, g.op("Shape", q_)), q.dtype),
               g.cast(g.op("ReduceSum", dk5, g.ints([2]), keepdims=0), k.dtype),
               g.cast(g.op("ReduceSum", dv5, g.ints([2]), keepdims=0), v.dtype)]
        if with_bias_grad:
            db = g.op("Reshape", ds, a["s4"])
            if reduce_axes:
                db = g.op("ReduceSum", db, g.ints(list(reduce_axes)), keepdims=1)
            res.append(g.cast(g.op("Reshape", db, a["bias"]), bias.dtype))
        return res
    run(name, (bias is not None, bool(is_causal), reduce_axes, len(outs), dropout),
        [grad_out, q, k, v, bias, out, logsumexp, Scalar(_scale_of(scale, sh.E), F32)]
        + _rng_inputs(dropout_p, seed_pair) + [arr[n] for n in names], outs, build)
    return dq, dk, dv, (outs[3] if with_bias_grad else None)


def _seed_tensors(pair, device):
    """CUDA returns the RNG seed/offset its dropout used; here: this backend's two seeds."""
    return (torch.full((), pair[0], dtype=torch.int64, device=device),
            torch.full((), pair[1], dtype=torch.int64, device=device))


def _like(grad, original):
    """A gradient computed for a broadcast input, summed back to the input's shape."""
    if tuple(grad.shape) == tuple(original.shape):
        return grad
    if original.dim() == 3:          # it was lined up as (1, B, L, E)
        grad = grad.sum(0)
    return grad.sum_to_size(original.shape)


def _attention(name, query, key, value, attn_bias, dropout_p, is_causal, scale, lse_kind):
    prepared = _prepare(query, key, value)
    if prepared is None:
        return None
    q, k, v = prepared
    pair = seeds(None, query.device) if dropout_p else (0, 0)
    out, lse = _forward(name, q, k, v, attn_bias, dropout_p, is_causal, scale, lse_kind, pair)
    if all(t.dim() == 3 for t in (query, key, value)):
        out = out.squeeze(0)
    return out, lse, _seed_tensors(pair, query.device)


def _attention_backward(name, grad_out, query, key, value, attn_bias, out, logsumexp, seed,
                        offset, dropout_p, is_causal, scale, want_bias_grad):
    prepared = _prepare(query, key, value)
    if prepared is None:
        return None
    q, k, v = prepared
    if grad_out.dim() == 3:
        grad_out, out = grad_out.unsqueeze(0), out.unsqueeze(0)
    pair = (int(seed.item()), int(offset.item())) if dropout_p else (0, 0)
    dq, dk, dv, db = _backward(name, grad_out, q, k, v, attn_bias, out, logsumexp, dropout_p,
                               is_causal, scale, want_bias_grad, pair)
    return _like(dq, query), _like(dk, key), _like(dv, value), db


@kernel("_scaled_dot_product_efficient_attention", dtypes=FLOATS,
        impl="onnx:MatMul,ReduceMax,Exp (one graph)")
def efficient_attention(query, key, value, attn_bias, compute_log_sumexp, dropout_p=0.0,
                        is_causal=False, *, scale=None):
    res = _attention("sdpa_efficient", query, key, value, attn_bias, dropout_p, is_causal, scale,
                     "padded" if compute_log_sumexp or dropout_p else None)
    if res is None:
        return NotImplemented
    out, lse, (seed, offset) = res
    return out, lse, seed, offset


@kernel("_scaled_dot_product_efficient_attention_backward", dtypes=FLOATS,
        impl="onnx:MatMul,Exp,ReduceSum (one graph)")
def efficient_attention_backward(grad_out_, query, key, value, attn_bias, out, logsumexp,
                                 philox_seed, philox_offset, dropout_p, grad_input_mask,
                                 is_causal=False, *, scale=None):
    res = _attention_backward("sdpa_efficient_backward", grad_out_, query, key, value, attn_bias,
                              out, logsumexp, philox_seed, philox_offset, dropout_p, is_causal,
                              scale, bool(grad_input_mask[3]))
    return NotImplemented if res is None else res


@kernel("_scaled_dot_product_cudnn_attention", dtypes=FLOATS,
        impl="onnx:MatMul,ReduceMax,Exp (one graph)")
def cudnn_attention(query, key, value, attn_bias, compute_log_sumexp, dropout_p=0.0,
                    is_causal=False, return_debug_mask=False, *, scale=None):
    res = _attention("sdpa_cudnn", query, key, value, attn_bias, dropout_p, is_causal, scale,
                     "column")
    if res is None:
        return NotImplemented
    out, lse, (seed, offset) = res
    none = torch.empty(0, dtype=torch.int32, device=query.device)
    return (out, lse, none, none, query.shape[-2], key.shape[-2], seed, offset,
            torch.empty(0, dtype=query.dtype, device=query.device))


@kernel("_scaled_dot_product_cudnn_attention_backward", dtypes=FLOATS,
        impl="onnx:MatMul,Exp,ReduceSum (one graph)")
def cudnn_attention_backward(grad_out, query, key, value, out, logsumexp, philox_seed,
                             philox_offset, attn_bias, cum_seq_q, cum_seq_k, max_q, max_k,
                             dropout_p, is_causal, *, scale=None):
    res = _attention_backward("sdpa_cudnn_backward", grad_out, query, key, value, attn_bias, out,
                              logsumexp, philox_seed, philox_offset, dropout_p, is_causal, scale,
                              False)
    return NotImplemented if res is None else res[:3]
