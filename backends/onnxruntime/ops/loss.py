"""Losses: nll_loss (1-D/2-D and the 2d spatial form) with its backward, mse_loss,
binary_cross_entropy, with ATen's reduction codes (0 none, 1 mean, 2 sum).

nll_loss: ignored targets get weight 0 (and a safe index 0, so Gather never sees -100);
`total_weight` is the sum of the weights of the counted targets, and mean divides by it
(0/0 = nan, as ATen). An out-of-range target makes ORT's GatherElements fail, which is raised.
"""
from __future__ import annotations

import torch

from .._vendor.execute import Scalar, run
from .common import empty, opmath
from .registry import FLOATS, INDEX, kernel

NONE, MEAN, SUM = 0, 1, 2


def _targets(g, t, ignore):
    t = g.cast(t, torch.int64)
    valid = g.op("Not", g.op("Equal", t, ignore))
    safe = g.op("Where", valid, t, g.const(0, torch.int64))
    return valid, safe


def _weights(g, w, safe, valid, cdt, like):
    if w is None:
        ones = g.cast(valid, cdt)
        return ones
    wt = g.op("Gather", g.cast(w, cdt), safe, axis=0)
    return g.op("Where", valid, wt, g.const(0.0, cdt))



def _nll_forward(name, self, target, weight, reduction, ignore_index):
    cdt = opmath(self.dtype)
    if self.dim() < 1:
        raise ValueError("input tensor should be 1D or 2D")
    batched = self.dim() >= 2
    if reduction == NONE:
        out_shape = tuple(target.shape)
    else:
        out_shape = ()
    out = empty(out_shape, self.dtype, self.device)
    total = empty((), self.dtype, self.device)

    def build(g, x, t, w, ign):
        x = g.cast(x, cdt)
        valid, safe = _targets(g, t, ign)
        if batched:
            picked = g.op("Squeeze", g.op("GatherElements", x, g.op("Unsqueeze", safe, g.ints([1])),
                                          axis=1), g.ints([1]))
        else:
            picked = g.op("Squeeze", g.op("GatherElements", x, g.op("Reshape", safe, g.ints([1])),
                                          axis=0), g.ints([0]))
        wv = _weights(g, w, safe, valid, cdt, picked)
        loss = g.op("Neg", g.op("Mul", picked, wv))
        if reduction == NONE:
            # ATen: batched -> total_weight 0; one sample -> that sample's weight
            return [loss, g.op("Identity", wv) if not batched else g.const(0.0, cdt)]
        tw = g.op("ReduceSum", g.op("Reshape", wv, g.ints([-1])), keepdims=0)
        s = g.op("ReduceSum", g.op("Reshape", loss, g.ints([-1])), keepdims=0)
        if reduction == MEAN:
            s = g.op("Div", s, tw)
        return [s, tw]
    run(name, (reduction, batched), [self, target, weight, Scalar(int(ignore_index), torch.int64)],
        [out, total], build)
    return out, total


def _nll_backward(name, grad_output, self, target, weight, reduction, ignore_index, total_weight):
    cdt = opmath(self.dtype)
    batched = self.dim() >= 2
    out = empty(self.shape, self.dtype, self.device)

    def build(g, gy, x, t, w, tw, ign):
        valid, safe = _targets(g, t, ign)
        wv = _weights(g, w, safe, valid, cdt, None)
        gy = g.cast(gy, cdt)
        coeff = g.op("Neg", g.op("Mul", wv, gy))
        if reduction == MEAN:
            coeff = g.op("Div", coeff, g.cast(tw, cdt))
        classes = g.op("Range", g.const(0, torch.int64),
                       g.op("Gather", g.op("Shape", x), g.const(1 if batched else 0, torch.int64),
                            axis=0), g.const(1, torch.int64))
        if batched:
            rank = len(self.shape)
            cls_shape = [1, -1] + [1] * (rank - 2)
            hot = g.op("Equal", g.op("Reshape", classes, g.ints(cls_shape)),
                       g.op("Unsqueeze", safe, g.ints([1])))
            coeff = g.op("Unsqueeze", coeff, g.ints([1]))
        else:
            hot = g.op("Equal", classes, safe)
        return g.op("Where", hot, coeff, g.const(0.0, cdt))
    run(name, (reduction, batched, self.dim()), [grad_output, self, target, weight, total_weight,
                                                 Scalar(int(ignore_index), torch.int64)], [out],
        build)
    return out


@kernel("nll_loss_forward.default", dtypes=FLOATS | INDEX, impl="onnx:GatherElements,ReduceSum")
def nll_loss_forward(self, target, weight, reduction, ignore_index):
    return _nll_forward("nll_loss", self, target, weight, reduction, ignore_index)


@kernel("nll_loss_backward.default", dtypes=FLOATS | INDEX, impl="onnx:Equal,Where")
def nll_loss_backward(grad_output, self, target, weight, reduction, ignore_index, total_weight):
    return _nll_backward("nll_loss_backward", grad_output, self, target, weight, reduction,
                         ignore_index, total_weight)


@kernel("nll_loss2d_forward.default", dtypes=FLOATS | INDEX, impl="onnx:GatherElements,ReduceSum")
def nll_loss2d_forward(self, target, weight, reduction, ignore_index):
    return _nll_forward("nll_loss2d", self, target, weight, reduction, ignore_index)


@kernel("nll_loss2d_backward.default", dtypes=FLOATS | INDEX, impl="onnx:Equal,Where")
def nll_loss2d_backward(grad_output, self, target, weight, reduction, ignore_index, total_weight):
    return _nll_backward("nll_loss2d_backward", grad_output, self, target, weight, reduction,
                         ignore_index, total_weight)


def _reduce(g, v, reduction):
    if reduction == NONE:
        return v
    flat = g.op("Reshape", v, g.ints([-1]))
    return g.op("ReduceMean" if reduction == MEAN else "ReduceSum", flat, keepdims=0)


@kernel("mse_loss.default", dtypes=FLOATS, impl="onnx:Sub,Mul,ReduceMean")
def mse_loss(self, target, reduction=MEAN):
    cdt = opmath(self.dtype)
    shape = torch.broadcast_shapes(self.shape, target.shape) if reduction == NONE else ()
    out = empty(shape, self.dtype, self.device)

    def build(g, x, t):
        d = g.op("Sub", g.cast(x, cdt), g.cast(t, cdt))
        return _reduce(g, g.op("Mul", d, d), reduction)
    run("mse_loss", (reduction,), [self, target], [out], build)
    return out


@kernel("mse_loss_backward.default", dtypes=FLOATS, impl="onnx:Sub,Mul")
def mse_loss_backward(grad_output, self, target, reduction):
    cdt = opmath(self.dtype)
    norm = 2.0 / self.numel() if reduction == MEAN else 2.0
    out = empty(torch.broadcast_shapes(self.shape, target.shape), self.dtype, self.device)

    def build(g, gy, x, t, n):
        d = g.op("Sub", g.cast(x, cdt), g.cast(t, cdt))
        return g.op("Mul", g.op("Mul", n, d), g.cast(gy, cdt))
    run("mse_loss_backward", (), [grad_output, self, target, Scalar(norm, cdt)], [out], build)
    return out


@kernel("binary_cross_entropy.default", dtypes=FLOATS, impl="onnx:Log,Mul,ReduceMean")
def binary_cross_entropy(self, target, weight=None, reduction=MEAN):
    cdt = opmath(self.dtype)
    out = empty(self.shape if reduction == NONE else (), self.dtype, self.device)

    def build(g, x, t, w):
        x, t = g.cast(x, cdt), g.cast(t, cdt)
        floor = g.const(-100.0, cdt)
        one = g.const(1.0, cdt)
        log_x = g.op("Max", g.op("Log", x), floor)              # ATen clamps the logs at -100
        log_1mx = g.op("Max", g.op("Log", g.op("Sub", one, x)), floor)
        loss = g.op("Mul", g.op("Sub", t, one), log_1mx)
        loss = g.op("Sub", loss, g.op("Mul", t, log_x))
        if w is not None:
            loss = g.op("Mul", loss, g.cast(w, cdt))
        return _reduce(g, loss, reduction)
    run("bce", (reduction,), [self, target, weight], [out], build)
    return out


@kernel("binary_cross_entropy_backward.default", dtypes=FLOATS, impl="onnx:Sub,Div,Mul")
def binary_cross_entropy_backward(grad_output, self, target, weight=None, reduction=MEAN):
    cdt = opmath(self.dtype)
    out = empty(self.shape, self.dtype, self.device)

    def build(g, gy, x, t, w, n):
        x, t = g.cast(x, cdt), g.cast(t, cdt)
        one = g.const(1.0, cdt)
        denom = g.op("Max", g.op("Mul", g.op("Sub", one, x), x), g.const(1e-12, cdt))
        r = g.op("Mul", g.op("Div", g.op("Sub", x, t), denom), g.cast(gy, cdt))
        if w is not None:
            r = g.op("Mul", r, g.cast(w, cdt))
        if reduction == MEAN:
            r = g.op("Div", r, n)
        return r
    run("bce_backward", (reduction,), [grad_output, self, target, weight,
                                       Scalar(float(max(self.numel(), 1)), cdt)], [out], build)
    return out
