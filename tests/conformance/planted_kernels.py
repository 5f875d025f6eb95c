"""Deliberately wrong kernels, to prove the conformance suite can fail (tests only).

Each is a realistic bug of the kinds vendor backends ship (BUGS below: the overload, which dtypes
it breaks, its kind, and what finds it). A bug that breaks only some dtypes computes correctly in
the others, so each must be reported for exactly its overload and dtypes.

The first three are written against host tensors (`planted_backend.py` wraps them through host
views, `reference_overrides()` as ATen CPU overrides for the reference mode); the others work on
zero-copy ATen views of the deeplink tensors (deeplink.aten_view) and adopt their results
(deeplink.from_aten), as kernels of ATen-device backends may.
"""
from __future__ import annotations

import ctypes

import torch

ALL = ("float32", "bfloat16")      # the dtypes the planted-bug run covers

# overload -> (status it must get, dtypes it breaks, kind, what the bug does, what finds it)
BUGS = {
    "add.Tensor": ("mismatch", ALL, "wrong values", "adds 1% noise", "golden samples"),
    "sum.dim_IntList": ("mismatch", ALL, "wrong values", "reduces the next dim", "golden samples"),
    "abs": ("crash", ("float32",), "crash", "float32 kernel reads address 0 (SIGSEGV)", "golden samples"),
    "neg": ("mismatch", ALL, "stride", "reads a strided input as if contiguous", "strided/transposed variants"),
    "mul_.Tensor": ("mismatch", ALL, "in-place", "returns a new tensor, self unchanged", "in-place variant"),
    "sub.out": ("mismatch", ALL, "out=", "ignores out, returns a new tensor", "out= variant"),
    "div.out": ("mismatch", ALL, "out=", "does not resize out (an empty out stays empty)", "out= variant"),
    "exp": ("mismatch", ("bfloat16",), "dtype slip", "returns float32 for bfloat16", "golden samples"),
    "amax": ("mismatch", ALL, "ignored argument", "ignores keepdim", "golden samples"),
    "sub.Tensor": ("mismatch", ALL, "ignored argument", "ignores alpha", "golden samples"),
    "mm": ("mismatch", ("float32",), "precision downcast", "float32 matmul through bfloat16",
           "golden samples"),
    "argmax": ("mismatch", ALL, "tie-breaking", "last index among equal maxima", "ties variant"),
    "min.dim": ("mismatch", ("float32",), "tie-breaking", "last index among equal minima", "ties variant"),
    "maximum": ("mismatch", ALL, "NaN handling", "drops NaN (where(a > b, a, b))", "extremal variant"),
    "clamp.Tensor": ("mismatch", ("bfloat16",), "NaN handling", "drops NaN in bfloat16 (fmax/fmin)",
                     "extremal variant"),
    "mul.Tensor": ("mismatch", ("bfloat16",), "per-dtype", "bfloat16 multiplies by |other|",
                   "golden samples"),
    "tanh_backward": ("mismatch", ("float32",), "backward-only", "grad * (1 - y) for 1 - y^2",
                      "gradient samples"),
    "embedding_dense_backward": ("mismatch", ALL, "backward-only, ignored argument",
                                 "ignores padding_idx", "embedding_dense_backward generator"),
    "_foreach_mul_.Scalar": ("mismatch", ALL, "foreach list", "skips the last tensor", "foreach generator"),
}
PLANTED = {op: status for op, (status, *_rest) in BUGS.items()}
# Op packets left out of the planted backend's kernel table (every overload): they run through
# the CPU fallback, so their cases are `fallback`.
MISSING = ("cumsum",)


def noisy_add(a, b, *, alpha=1):
    r = torch.ops.aten.add.Tensor(a, b, alpha=alpha)
    if r.is_floating_point() or r.is_complex():
        return r + 0.01 * r.abs().clamp_min(1.0)
    if r.dtype == torch.bool:
        return ~r
    return r + 1


def wrong_dim_sum(x, dim, keepdim=False, *, dtype=None):
    if x.dim() >= 2 and dim:
        dims = [d % x.dim() for d in dim]
        dim = [(d + 1) % x.dim() for d in dims]
        if sorted(dim) == sorted(dims):
            dim = [(d + 1) % x.dim() for d in dim]
    return torch.ops.aten.sum.dim_IntList(x, dim, keepdim, dtype=dtype)


def segfault(x):
    """float32 only: every crash costs a worker restart (seconds), so the other dtypes compute."""
    if x.dtype == torch.float32:
        ctypes.string_at(0)
    if x.device.type == "deeplink":
        return _adopt(torch.ops.aten.abs.default(_av(x)))
    return torch.ops.aten.abs.default(x)


def reference_overrides() -> dict:
    """For `conformance run --backend reference --plugin this_file.py`."""
    return {"add.Tensor": noisy_add, "sum.dim_IntList": wrong_dim_sum, "abs": segfault}


# ---------------------------------------------------------------------------------------------
# Kernels on deeplink tensors
# ---------------------------------------------------------------------------------------------

def _deeplink():
    import deeplink  # noqa: PLC0415  (only the planted backend, in a worker, calls these)

    return deeplink


def _av(x):
    """The ATen view of a deeplink tensor; anything else as it is."""
    if isinstance(x, torch.Tensor) and x.device.type == "deeplink":
        return _deeplink().aten_view(x)
    return x


def _adopt(t):
    return _deeplink().from_aten(t.contiguous())


def _contiguous_strides(shape):
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return strides[::-1]


def neg_reading_contiguous(x):
    h = _av(x)
    raw = torch.as_strided(h, h.shape, _contiguous_strides(h.shape), h.storage_offset())
    return _adopt(torch.neg(raw))


def mul_not_in_place(self, other):
    return _adopt(torch.mul(_av(self), _av(other)))


def sub_out_ignoring_out(self, other, *, alpha=1, out):
    return _adopt(torch.sub(_av(self), _av(other), alpha=alpha))


def div_out_without_resize(self, other, *, out):
    r = torch.div(_av(self), _av(other))
    if tuple(out.shape) == tuple(r.shape):
        _av(out).copy_(r)
    return out


def exp_returning_float32(x):
    h = _av(x)
    return _adopt(torch.exp(h.float()) if h.dtype == torch.bfloat16 else torch.exp(h))


def amax_ignoring_keepdim(x, dim=(), keepdim=False):
    return _adopt(torch.amax(_av(x), dim, False))


def sub_ignoring_alpha(self, other, *, alpha=1):
    return _adopt(torch.sub(_av(self), _av(other)))


def mm_through_bfloat16(a, b):
    ha, hb = _av(a), _av(b)
    if ha.dtype == torch.float32:
        return _adopt(torch.mm(ha.bfloat16(), hb.bfloat16()).float())
    return _adopt(torch.mm(ha, hb))


def argmax_last_of_ties(x, dim=None, keepdim=False):
    h = _av(x)
    if dim is None:
        flat = h.reshape(-1)
        r = flat.numel() - 1 - torch.argmax(flat.flip(0))
        return _adopt(r.reshape([1] * h.dim()) if keepdim else r)
    d = dim % max(h.dim(), 1)
    n = h.shape[d] if h.dim() else 1
    return _adopt(n - 1 - torch.argmax(h.flip(d) if h.dim() else h, d, keepdim))


def min_dim_last_of_ties(x, dim, keepdim=False):
    h = _av(x)
    if h.dtype != torch.float32 or h.dim() == 0:
        v, i = torch.min(h, dim, keepdim)
        return _adopt(v), _adopt(i)
    d = dim % h.dim()
    v, i = torch.min(h.flip(d), d, keepdim)
    return _adopt(v), _adopt(h.shape[d] - 1 - i)


def maximum_dropping_nan(a, b):
    ha, hb = _av(a), _av(b)
    return _adopt(torch.where(ha > hb, ha, hb).to(torch.result_type(ha, hb)))


def clamp_dropping_nan(x, min=None, max=None):  # noqa: A002  (aten's argument names)
    h, lo, hi = _av(x), _av(min), _av(max)
    if h.dtype != torch.bfloat16:
        return _adopt(torch.clamp(h, lo, hi))
    r = h
    if lo is not None:
        r = torch.fmax(r, lo.to(r.dtype))
    if hi is not None:
        r = torch.fmin(r, hi.to(r.dtype))
    return _adopt(r)


def mul_bfloat16_by_abs(a, b):
    ha, hb = _av(a), _av(b)
    if ha.dtype == torch.bfloat16 and isinstance(hb, torch.Tensor):
        hb = hb.abs()
    return _adopt(torch.mul(ha, hb))


def tanh_backward_wrong_formula(grad, y):
    g, hy = _av(grad), _av(y)
    if g.dtype == torch.float32:
        return _adopt(g * (1 - hy))
    return _adopt(torch.ops.aten.tanh_backward(g, hy))


def embedding_backward_ignoring_padding(grad, indices, num_weights, padding_idx, scale_grad_by_freq):
    return _adopt(torch.ops.aten.embedding_dense_backward(_av(grad), _av(indices), num_weights, -1,
                                                          scale_grad_by_freq))


def foreach_mul_skipping_last(tensors, scalar):
    for t in list(tensors)[:-1]:
        _av(t).mul_(scalar)


DEVICE_KERNELS = {
    "neg": neg_reading_contiguous,
    "mul_.Tensor": mul_not_in_place,
    "sub.out": sub_out_ignoring_out,
    "div.out": div_out_without_resize,
    "exp": exp_returning_float32,
    "amax": amax_ignoring_keepdim,
    "sub.Tensor": sub_ignoring_alpha,
    "mm": mm_through_bfloat16,
    "argmax": argmax_last_of_ties,
    "min.dim": min_dim_last_of_ties,
    "maximum": maximum_dropping_nan,
    "clamp.Tensor": clamp_dropping_nan,
    "mul.Tensor": mul_bfloat16_by_abs,
    "tanh_backward": tanh_backward_wrong_formula,
    "embedding_dense_backward": embedding_backward_ignoring_padding,
    "_foreach_mul_.Scalar": foreach_mul_skipping_last,
}
