"""Pooling: max_pool{2,3}d_with_indices (+2d backward), avg_pool{2,3}d (+2d backward),
_adaptive_avg_pool{2,3}d (+2d backward).

ATen's rules are kept exactly, rather than left to ONNX's own pooling attributes:
* output sizes follow ATen's pooling_output_shape (ceil_mode drops a last window that would
  start in the right padding); ceil_mode is realised as extra right padding, so ORT never
  applies a ceil rule of its own;
* max pooling indices are ATen's per-plane offsets (ORT's MaxPool numbers the whole N*C*H*W
  tensor: taken modulo the plane size);
* average pooling sums each window with a depthwise ones-kernel Conv over the zero-padded input
  and divides by ATen's divisor (window clipped to input+padding, or to the input without
  count_include_pad, or divisor_override), computed from the shapes alone;
* adaptive pooling is a product with averaging matrices (windows floor(i*H/O) .. ceil((i+1)*H/O)).
"""
from __future__ import annotations

import numpy as np
import torch

from .._vendor.execute import run
from .common import empty, opmath, run_into
from .registry import FLOATS, FLOATS_NO_F64, kernel


def _list(v, k, default=None):
    if v is None or (isinstance(v, (list, tuple)) and len(v) == 0):
        return list(default) if default is not None else None
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    return v * k if len(v) == 1 else v


def out_size(i, k, s, p, d, ceil_mode):
    """ATen's pooling_output_shape."""
    num = i + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    o = num // s + 1
    if ceil_mode and (o - 1) * s >= i + p:
        o -= 1
    return o


def _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode, k):
    ks = _list(kernel_size, k)
    st = _list(stride, k, ks)
    pd = _list(padding, k)
    dl = _list(dilation, k)
    sp = list(x.shape[-k:])
    outs = [out_size(i, kk, ss, pp, dd, ceil_mode) for i, kk, ss, pp, dd in
            zip(sp, ks, st, pd, dl)]
    # right padding that makes the last (ceil_mode) window fit, on top of the symmetric one
    extra = [max(0, (o - 1) * ss + dd * (kk - 1) + 1 - (i + 2 * pp)) for o, i, kk, ss, pp, dd in
             zip(outs, sp, ks, st, pd, dl)]
    return ks, st, pd, dl, sp, outs, extra


def _max_pool(self, kernel_size, stride, padding, dilation, ceil_mode, k):
    ks, st, pd, dl, sp, outs, extra = _pool_geometry(self, kernel_size, stride, padding,
                                                     dilation, ceil_mode, k)
    lead = list(self.shape[:-k])
    values = empty(lead + outs, self.dtype, self.device)
    indices = empty(lead + outs, torch.int64, self.device)
    ext = [i + e for i, e in zip(sp, extra)]          # spatial sizes after the ceil_mode extension
    cdt = opmath(self.dtype)
    unbatched = self.dim() == k + 1

    def build(g, x):
        x = g.cast(x, cdt)
        if unbatched:
            x = g.op("Unsqueeze", x, g.ints([0]))
        if any(extra):
            # ORT wants pads < kernel: the ceil_mode extension is explicit -inf padding at the
            # end (after the real elements, so ties still pick a real one)
            x = g.op("Pad", x, g.ints([0] * (k + 2) + [0, 0] + extra),
                     g.const(float("-inf"), cdt), mode="constant")
        v, i = g.op("MaxPool", x, outputs=2, kernel_shape=ks, strides=st, dilations=dl,
                    pads=pd + pd, ceil_mode=0)
        # ORT numbers the whole (extended) N*C*spatial tensor; ATen the original plane
        i = g.op("Mod", i, g.const(int(np.prod(ext)), torch.int64))
        flat, stride_e = g.const(0, torch.int64), int(np.prod(ext))
        stride_o = int(np.prod(sp))
        for size_e, size_o in zip(ext, sp):
            stride_e //= size_e
            stride_o //= size_o
            coord = g.op("Div", i, g.const(stride_e, torch.int64))
            i = g.op("Mod", i, g.const(stride_e, torch.int64))
            flat = g.op("Add", flat, g.op("Mul", coord, g.const(stride_o, torch.int64)))
        if unbatched:
            v, flat = g.op("Squeeze", v, g.ints([0])), g.op("Squeeze", flat, g.ints([0]))
        return [v, flat]
    run("max_pool", (tuple(ks), tuple(st), tuple(pd), tuple(dl), tuple(extra), tuple(sp),
                     unbatched), [self], [values, indices], build)
    return values, indices


@kernel("max_pool2d_with_indices", dtypes=FLOATS_NO_F64, impl="onnx:MaxPool")
def max_pool2d_with_indices(self, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode=False):
    return _max_pool(self, kernel_size, stride, padding, dilation, ceil_mode, 2)


@kernel("max_pool3d_with_indices", dtypes=FLOATS_NO_F64, impl="onnx:MaxPool")
def max_pool3d_with_indices(self, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode=False):
    return _max_pool(self, kernel_size, stride, padding, dilation, ceil_mode, 3)


@kernel("max_pool2d_with_indices_backward", dtypes=FLOATS, impl="onnx:ScatterElements(add)")
def max_pool2d_with_indices_backward(grad_output, self, kernel_size, stride, padding, dilation,
                                     ceil_mode, indices):
    """Each output's gradient lands on the input element its index names (summed where windows
    share their maximum)."""
    out = empty(self.shape, self.dtype, self.device)
    cdt = opmath(self.dtype)
    lead = list(self.shape[:-2])
    flat_in = lead + [self.shape[-2] * self.shape[-1]]

    def build(g, gy, idx):
        gy = g.op("Reshape", g.cast(gy, cdt), g.ints(lead + [-1]))
        idx = g.op("Reshape", idx, g.ints(lead + [-1]))
        zeros = g.fill(g.ints(flat_in), 0, cdt)
        r = g.op("ScatterElements", zeros, idx, gy, axis=len(lead), reduction="add")
        return g.op("Reshape", r, g.ints(list(self.shape)))
    run("max_pool2d_backward", (tuple(self.shape),), [grad_output, indices], [out], build)
    return out


# -- average pooling --------------------------------------------------------------------------
def _avg_divisor(sp, outs, ks, st, pd, count_include_pad, divisor_override):
    """ATen's divide_factor per output position, as a float array of shape `outs`."""
    if divisor_override:
        return np.full(outs, float(divisor_override), dtype=np.float32)
    per_axis = []
    for i, o, kk, ss, pp in zip(sp, outs, ks, st, pd):
        start = np.arange(o) * ss - pp
        end = np.minimum(start + kk, i + pp)
        full = end - start
        clipped = np.minimum(end, i) - np.maximum(start, 0)
        per_axis.append(full if count_include_pad else clipped)
    div = per_axis[0].astype(np.float64)
    for a in per_axis[1:]:
        div = np.multiply.outer(div, a)
    return np.asarray(div, dtype=np.float32)


def _avg_pool(self, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, k):
    ks, st, pd, dl, sp, outs, extra = _pool_geometry(self, kernel_size, stride, padding, 1,
                                                     ceil_mode, k)
    lead = list(self.shape[:-k])
    out = empty(lead + outs, self.dtype, self.device)
    div = _avg_divisor(sp, outs, ks, st, pd, count_include_pad, divisor_override)
    cdt = opmath(self.dtype)
    channels = int(np.prod(lead))
    ones = np.ones([channels, 1] + ks, dtype=np.float32)

    def build(g, x, divisor, kernel_ones):
        x = g.op("Reshape", g.cast(x, cdt), g.ints([1, channels] + sp))     # planes as channels
        w = g.cast(kernel_ones, cdt)
        sums = g.op("Conv", x, w, strides=st, pads=pd + [p + e for p, e in zip(pd, extra)],
                    group=channels)
        avg = g.op("Div", sums, g.cast(divisor, cdt))
        return g.op("Reshape", avg, g.ints(lead + outs))
    run("avg_pool", (tuple(ks), tuple(st), tuple(pd), tuple(extra), tuple(sp), tuple(lead)),
        [self, div, ones], [out], build)
    return out


@kernel("avg_pool2d", dtypes=FLOATS_NO_F64, impl="onnx:Conv(ones),Div")
def avg_pool2d(self, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool(self, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 2)


@kernel("avg_pool3d", dtypes=FLOATS_NO_F64, impl="onnx:Conv(ones),Div")
def avg_pool3d(self, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool(self, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 3)


@kernel("avg_pool2d_backward", dtypes=FLOATS_NO_F64, impl="onnx:ConvTranspose(ones)")
def avg_pool2d_backward(grad_output, self, kernel_size, stride, padding, ceil_mode,
                        count_include_pad, divisor_override):
    k = 2
    ks, st, pd, dl, sp, outs, extra = _pool_geometry(self, kernel_size, stride, padding, 1,
                                                     ceil_mode, k)
    lead = list(self.shape[:-k])
    out = empty(self.shape, self.dtype, self.device)
    if out.numel() == 0:
        return out
    div = _avg_divisor(sp, outs, ks, st, pd, count_include_pad, divisor_override)
    cdt = opmath(self.dtype)
    channels = int(np.prod(lead))
    ones = np.ones([channels, 1] + ks, dtype=np.float32)
    covered = [(o - 1) * s + kk for o, s, kk in zip(outs, st, ks)]        # ConvTranspose extent
    tail = [max(0, p + i - c) for p, i, c in zip(pd, sp, covered)]

    def build(g, gy, divisor, kernel_ones):
        gy = g.op("Reshape", g.cast(gy, cdt), g.ints([1, channels] + outs))
        gy = g.op("Div", gy, g.cast(divisor, cdt))
        spread = g.op("ConvTranspose", gy, g.cast(kernel_ones, cdt), strides=st, group=channels)
        if any(tail):
            spread = g.op("Pad", spread, g.ints([0] * (k + 2) + [0, 0] + tail), mode="constant")
        grad = g.op("Slice", spread, g.ints(pd), g.ints([p + i for p, i in zip(pd, sp)]),
                    g.ints([2, 3]))
        return g.op("Reshape", grad, g.ints(list(self.shape)))
    run("avg_pool2d_backward", (tuple(ks), tuple(st), tuple(pd), tuple(sp), tuple(outs),
                                tuple(lead)), [grad_output, div, ones], [out], build)
    return out


# -- adaptive average pooling -----------------------------------------------------------------
def _adaptive_matrix(i, o):
    """(o, i) matrix averaging ATen's adaptive windows."""
    m = np.zeros((o, i), dtype=np.float32)
    for r in range(o):
        start = (r * i) // o
        end = -((-(r + 1) * i) // o)
        m[r, start:end] = 1.0 / (end - start)
    return m


def _adaptive(self, output_size, k):
    outs = list(output_size)
    sp = list(self.shape[-k:])
    mats = [_adaptive_matrix(i, o) for i, o in zip(sp, outs)]
    lead = list(self.shape[:-k])
    out = empty(lead + outs, self.dtype, self.device)
    cdt = opmath(self.dtype)

    def build(g, x, *ms):
        x = g.cast(x, cdt)
        ms = [g.cast(m, cdt) for m in ms]
        # last axis: x @ M^T; the others: move the axis last, same, move back
        for axis in reversed(range(k)):
            pos = len(lead) + axis
            rank = len(lead) + k
            perm = list(range(rank))
            perm[pos], perm[-1] = perm[-1], perm[pos]
            if pos != rank - 1:
                x = g.op("Transpose", x, perm=perm)
            x = g.op("MatMul", x, g.op("Transpose", ms[axis], perm=[1, 0]))
            if pos != rank - 1:
                x = g.op("Transpose", x, perm=perm)
        return x
    return run_into(out, "adaptive_avg_pool", (k, len(lead)), [self] + mats, build)


@kernel("_adaptive_avg_pool2d", dtypes=FLOATS, impl="onnx:MatMul (averaging matrices)")
def adaptive_avg_pool2d(self, output_size):
    return _adaptive(self, output_size, 2)


@kernel("_adaptive_avg_pool3d", dtypes=FLOATS, impl="onnx:MatMul (averaging matrices)")
def adaptive_avg_pool3d(self, output_size):
    return _adaptive(self, output_size, 3)


@kernel("_adaptive_avg_pool2d_backward", dtypes=FLOATS, impl="onnx:MatMul (averaging matrices)")
def adaptive_avg_pool2d_backward(grad_output, self):
    outs = list(grad_output.shape[-2:])
    sp = list(self.shape[-2:])
    mh, mw = _adaptive_matrix(sp[0], outs[0]), _adaptive_matrix(sp[1], outs[1])
    out = empty(self.shape, self.dtype, self.device)
    cdt = opmath(self.dtype)

    def build(g, gy, a, b):
        gy = g.cast(gy, cdt)
        r = g.op("MatMul", g.op("Transpose", g.cast(a, cdt), perm=[1, 0]), gy)   # Mh^T gy
        return g.op("MatMul", r, g.cast(b, cdt))                                 # ... Mw
    return run_into(out, "adaptive_avg_pool2d_backward", (), [grad_output, mh, mw], build)
