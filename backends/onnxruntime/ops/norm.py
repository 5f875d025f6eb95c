"""Normalizations: native_layer_norm (+backward), native_group_norm (+backward),
_native_batch_norm_legit (all three overloads), native_batch_norm_backward.

Statistics are computed two-pass in float32 for reduced precision (mean, then the mean of squared
deviations), which is what ATen's CPU kernels produce within rounding; ONNX's fused
LayerNormalization is not used because its InvStdDev output and variance formula are the EP's
choice. Returned statistics follow ATen's CPU dtypes: the input dtype, or float32 when a float32
weight is given with reduced-precision input (mixed mode).
"""
from __future__ import annotations

from .._vendor.execute import Scalar, run
from .common import empty, opmath
from .registry import FLOATS, kernel


@kernel("native_layer_norm.default", dtypes=FLOATS, impl="onnx:ReduceMean,Sqrt,Mul,Add")
def native_layer_norm(input, normalized_shape, weight, bias, eps):
    k = len(normalized_shape)
    axis = input.dim() - k
    if tuple(input.shape[axis:]) != tuple(normalized_shape):
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with "
                           f"shape [*, {', '.join(map(str, normalized_shape))}], but got input of "
                           f"size{list(input.shape)}")
    cdt = opmath(input.dtype)
    mixed = weight is not None and weight.dtype != input.dtype
    stat_dtype = weight.dtype if mixed else input.dtype
    axes = list(range(axis, input.dim()))
    stat_shape = tuple(input.shape[:axis]) + (1,) * k
    out = empty(input.shape, input.dtype, input.device)
    mean = empty(stat_shape, stat_dtype, input.device)
    rstd = empty(stat_shape, stat_dtype, input.device)

    def build(g, x, w, b, e):
        x = g.cast(x, cdt)
        if not axes:
            m = g.op("Mul", x, g.const(0.0, cdt))
            d = m
            r = g.op("Reciprocal", g.op("Sqrt", g.op("Add", m, e)))
        else:
            m = g.op("ReduceMean", x, g.ints(axes), keepdims=1)
            d = g.op("Sub", x, m)
            var = g.op("ReduceMean", g.op("Mul", d, d), g.ints(axes), keepdims=1)
            r = g.op("Reciprocal", g.op("Sqrt", g.op("Add", var, e)))
        y = g.op("Mul", d, r)
        if w is not None:
            y = g.op("Mul", y, g.cast(w, cdt))
        if b is not None:
            y = g.op("Add", y, g.cast(b, cdt))
        return [y, m, r]
    run("layer_norm", (tuple(axes),), [input, weight, bias, Scalar(float(eps), cdt)],
        [out, mean, rstd], build)
    return out, mean, rstd


@kernel("native_layer_norm_backward.default", dtypes=FLOATS, impl="onnx:ReduceMean,ReduceSum")
def native_layer_norm_backward(grad_out, input, normalized_shape, mean, rstd, weight, bias,
                               output_mask):
    k = len(normalized_shape)
    axis = input.dim() - k
    axes = list(range(axis, input.dim()))
    batch = list(range(axis))
    cdt = opmath(input.dtype)
    want = [bool(m) for m in output_mask]
    outs = []
    if want[0]:
        outs.append(empty(input.shape, input.dtype, input.device))
    if want[1]:
        outs.append(empty(tuple(normalized_shape), weight.dtype if weight is not None
                          else input.dtype, input.device))
    if want[2]:
        outs.append(empty(tuple(normalized_shape), bias.dtype if bias is not None
                          else input.dtype, input.device))

    def reduce_batch(g, v):
        if not batch:
            return v
        return g.op("ReduceSum", v, g.ints(batch), keepdims=0)

    def build(g, gy, x, m, r, w):
        gy, x = g.cast(gy, cdt), g.cast(x, cdt)
        m, r = g.cast(m, cdt), g.cast(r, cdt)
        xhat = g.op("Mul", g.op("Sub", x, m), r)
        res = []
        if want[0]:
            gw = g.op("Mul", gy, g.cast(w, cdt)) if w is not None else gy
            if axes:
                mean_g = g.op("ReduceMean", gw, g.ints(axes), keepdims=1)
                mean_gx = g.op("ReduceMean", g.op("Mul", gw, xhat), g.ints(axes), keepdims=1)
                inner = g.op("Sub", g.op("Sub", gw, mean_g), g.op("Mul", xhat, mean_gx))
            else:
                inner = g.op("Mul", gw, g.const(0.0, cdt))
            res.append(g.op("Mul", r, inner))
        if want[1]:
            res.append(reduce_batch(g, g.op("Mul", gy, xhat)))
        if want[2]:
            res.append(reduce_batch(g, gy))
        return res
    if outs:
        run("layer_norm_backward", (tuple(axes), tuple(want)),
            [grad_out, input, mean, rstd, weight], outs, build)
    it = iter(outs)
    return tuple(next(it) if w else None for w in want)


# -- group norm -------------------------------------------------------------------------------
@kernel("native_group_norm.default", dtypes=FLOATS, impl="onnx:ReduceMean,Sqrt,Mul,Add")
def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    if N == 0:                         # an empty batch: empty outputs and statistics
        return (empty(input.shape, input.dtype, input.device),
                empty((0, group), input.dtype, input.device),
                empty((0, group), input.dtype, input.device))
    if input.numel() == 0:
        return NotImplemented          # empty groups: ATen's NaN statistics; left to ATen
    cdt = opmath(input.dtype)
    mixed = weight is not None and weight.dtype != input.dtype
    stat_dtype = weight.dtype if mixed else input.dtype
    out = empty(input.shape, input.dtype, input.device)
    mean = empty((N, group), stat_dtype, input.device)
    rstd = empty((N, group), stat_dtype, input.device)
    shape_in = list(input.shape)

    def build(g, x, w, b, e):
        x = g.cast(x, cdt)
        xg = g.op("Reshape", x, g.ints([N, group, -1]))
        m = g.op("ReduceMean", xg, g.ints([2]), keepdims=1)
        d = g.op("Sub", xg, m)
        var = g.op("ReduceMean", g.op("Mul", d, d), g.ints([2]), keepdims=1)
        r = g.op("Reciprocal", g.op("Sqrt", g.op("Add", var, e)))
        y = g.op("Reshape", g.op("Mul", d, r), g.ints([N, C, -1]))
        if w is not None:
            y = g.op("Mul", y, g.op("Reshape", g.cast(w, cdt), g.ints([1, C, 1])))
        if b is not None:
            y = g.op("Add", y, g.op("Reshape", g.cast(b, cdt), g.ints([1, C, 1])))
        return [g.op("Reshape", y, g.ints(shape_in)), g.op("Reshape", m, g.ints([N, group])),
                g.op("Reshape", r, g.ints([N, group]))]
    run("group_norm", (N, C, group, tuple(shape_in)), [input, weight, bias, Scalar(float(eps), cdt)],
        [out, mean, rstd], build)
    return out, mean, rstd


@kernel("native_group_norm_backward.default", dtypes=FLOATS, impl="onnx:ReduceMean,ReduceSum")
def native_group_norm_backward(grad_out, input, mean, rstd, weight, N, C, HxW, group,
                               output_mask):
    if N == 0:                         # an empty batch: nothing flows back to the input, and
        from .factory import fill_scalar_     # the affine parameters' gradients are zero
        dtype = weight.dtype if weight is not None else input.dtype
        return (empty(input.shape, input.dtype, input.device) if output_mask[0] else None,
                fill_scalar_(empty((C,), dtype, input.device), 0) if output_mask[1] else None,
                fill_scalar_(empty((C,), dtype, input.device), 0) if output_mask[2] else None)
    if input.numel() == 0:
        return NotImplemented
    cdt = opmath(input.dtype)
    want = [bool(m) for m in output_mask]
    outs = []
    if want[0]:
        outs.append(empty(input.shape, input.dtype, input.device))
    if want[1]:
        outs.append(empty((C,), weight.dtype if weight is not None else input.dtype, input.device))
    if want[2]:
        outs.append(empty((C,), weight.dtype if weight is not None else input.dtype, input.device))
    shape_in = list(input.shape)

    def build(g, gy, x, m, r, w):
        gy = g.op("Reshape", g.cast(gy, cdt), g.ints([N, C, -1]))
        x = g.op("Reshape", g.cast(x, cdt), g.ints([N, group, -1]))
        m = g.op("Reshape", g.cast(m, cdt), g.ints([N, group, 1]))
        r = g.op("Reshape", g.cast(r, cdt), g.ints([N, group, 1]))
        xhat = g.op("Mul", g.op("Sub", x, m), r)                      # (N, G, D)
        xhat_c = g.op("Reshape", xhat, g.ints([N, C, -1]))            # (N, C, HxW)
        res = []
        if want[0]:
            gw = gy if w is None else g.op("Mul", gy, g.op("Reshape", g.cast(w, cdt),
                                                           g.ints([1, C, 1])))
            gw = g.op("Reshape", gw, g.ints([N, group, -1]))
            mean_g = g.op("ReduceMean", gw, g.ints([2]), keepdims=1)
            mean_gx = g.op("ReduceMean", g.op("Mul", gw, xhat), g.ints([2]), keepdims=1)
            dx = g.op("Mul", r, g.op("Sub", g.op("Sub", gw, mean_g), g.op("Mul", xhat, mean_gx)))
            res.append(g.op("Reshape", dx, g.ints(shape_in)))
        if want[1]:
            res.append(g.op("ReduceSum", g.op("Mul", gy, xhat_c), g.ints([0, 2]), keepdims=0))
        if want[2]:
            res.append(g.op("ReduceSum", gy, g.ints([0, 2]), keepdims=0))
        return res
    if outs:
        run("group_norm_backward", (N, C, group, tuple(shape_in), tuple(want)),
            [grad_out, input, mean, rstd, weight], outs, build)
    it = iter(outs)
    return tuple(next(it) if w else None for w in want)


# -- batch norm -------------------------------------------------------------------------------
def _bn_axes(input):
    return [0] + list(range(2, input.dim()))


def _bn_param_shape(input):
    return [1, input.shape[1]] + [1] * (input.dim() - 2)


def _batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    cdt = opmath(input.dtype)
    C = input.shape[1]
    axes = _bn_axes(input)
    pshape = _bn_param_shape(input)
    n = input.numel() // C if C else 0
    stat_dtype = (weight.dtype if weight is not None and weight.dtype != input.dtype
                  else input.dtype)
    out = empty(input.shape, input.dtype, input.device)
    save_mean = empty((C,) if training else (0,), stat_dtype, input.device)
    save_invstd = empty((C,) if training else (0,), stat_dtype, input.device)
    update = training and running_mean is not None
    outs = [out, save_mean, save_invstd] if training else [out]
    if update:
        outs += [running_mean, running_var]    # written in place (read first, then overwritten)

    def build(g, x, w, b, rm, rv, e, mom, unbias):
        x = g.cast(x, cdt)
        if training:
            m = g.op("ReduceMean", x, g.ints(axes), keepdims=1)
            d = g.op("Sub", x, m)
            var = g.op("ReduceMean", g.op("Mul", d, d), g.ints(axes), keepdims=1)
        else:
            m = g.op("Reshape", g.cast(rm, cdt), g.ints(pshape))
            var = g.op("Reshape", g.cast(rv, cdt), g.ints(pshape))
            d = g.op("Sub", x, m)
        invstd = g.op("Reciprocal", g.op("Sqrt", g.op("Add", var, e)))
        y = g.op("Mul", d, invstd)
        if w is not None:
            y = g.op("Mul", y, g.op("Reshape", g.cast(w, cdt), g.ints(pshape)))
        if b is not None:
            y = g.op("Add", y, g.op("Reshape", g.cast(b, cdt), g.ints(pshape)))
        res = [y]
        if training:
            flat_m = g.op("Reshape", m, g.ints([-1]))
            res += [flat_m, g.op("Reshape", invstd, g.ints([-1]))]
        if update:
            one = g.const(1.0, cdt)
            keep = g.op("Sub", one, mom)
            new_m = g.op("Add", g.op("Mul", keep, g.cast(rm, cdt)), g.op("Mul", mom, flat_m))
            unbiased = g.op("Mul", g.op("Reshape", var, g.ints([-1])), unbias)
            new_v = g.op("Add", g.op("Mul", keep, g.cast(rv, cdt)), g.op("Mul", mom, unbiased))
            res += [new_m, new_v]
        return res
    unbias = n / (n - 1) if n > 1 else float("inf")
    run("batch_norm", (tuple(axes), training, update, tuple(pshape)),
        [input, weight, bias, running_mean, running_var, Scalar(float(eps), cdt),
         Scalar(float(momentum), cdt), Scalar(float(unbias), cdt)], outs, build)
    return out, save_mean, save_invstd


@kernel("_native_batch_norm_legit.default", dtypes=FLOATS, impl="onnx:ReduceMean,Mul,Add")
def native_batch_norm_legit(input, weight, bias, running_mean, running_var, training, momentum,
                            eps):
    return _batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps)


@kernel("_native_batch_norm_legit.no_stats", dtypes=FLOATS, impl="onnx:ReduceMean,Mul,Add")
def native_batch_norm_legit_no_stats(input, weight, bias, training, momentum, eps):
    return _batch_norm(input, weight, bias, None, None, training, momentum, eps)


@kernel("_native_batch_norm_legit_no_training.default", dtypes=FLOATS, impl="onnx:Mul,Add")
def native_batch_norm_legit_no_training(input, weight, bias, running_mean, running_var, momentum,
                                        eps):
    return _batch_norm(input, weight, bias, running_mean, running_var, False, momentum, eps)


@kernel("native_batch_norm.default", dtypes=FLOATS, impl="onnx:ReduceMean,Mul,Add")
def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    return _batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps)


@kernel("native_batch_norm_backward.default", dtypes=FLOATS, impl="onnx:ReduceSum,Mul")
def native_batch_norm_backward(grad_out, input, weight, running_mean, running_var, save_mean,
                               save_invstd, train, eps, output_mask):
    cdt = opmath(input.dtype)
    C = input.shape[1]
    axes = _bn_axes(input)
    pshape = _bn_param_shape(input)
    want = [bool(m) for m in output_mask]
    outs = []
    if want[0]:
        outs.append(empty(input.shape, input.dtype, input.device))
    pdtype = weight.dtype if weight is not None else input.dtype
    if want[1]:
        outs.append(empty((C,), pdtype, input.device))
    if want[2]:
        outs.append(empty((C,), pdtype, input.device))

    def build(g, gy, x, w, rm, rv, sm, si, e):
        gy, x = g.cast(gy, cdt), g.cast(x, cdt)
        if train:
            m = g.op("Reshape", g.cast(sm, cdt), g.ints(pshape))
            invstd = g.op("Reshape", g.cast(si, cdt), g.ints(pshape))
        else:
            m = g.op("Reshape", g.cast(rm, cdt), g.ints(pshape))
            invstd = g.op("Reciprocal", g.op("Sqrt", g.op("Add", g.op(
                "Reshape", g.cast(rv, cdt), g.ints(pshape)), e)))
        xhat = g.op("Mul", g.op("Sub", x, m), invstd)
        wv = g.op("Reshape", g.cast(w, cdt), g.ints(pshape)) if w is not None else None
        sum_gy = g.op("ReduceSum", gy, g.ints(axes), keepdims=1)
        sum_gx = g.op("ReduceSum", g.op("Mul", gy, xhat), g.ints(axes), keepdims=1)
        res = []
        if want[0]:
            scale = invstd if wv is None else g.op("Mul", invstd, wv)
            if train:
                mean_gy = g.op("ReduceMean", gy, g.ints(axes), keepdims=1)
                mean_gx = g.op("ReduceMean", g.op("Mul", gy, xhat), g.ints(axes), keepdims=1)
                inner = g.op("Sub", g.op("Sub", gy, mean_gy), g.op("Mul", xhat, mean_gx))
                res.append(g.op("Mul", inner, scale))
            else:
                res.append(g.op("Mul", gy, scale))
        if want[1]:
            res.append(g.op("Reshape", sum_gx, g.ints([-1])))
        if want[2]:
            res.append(g.op("Reshape", sum_gy, g.ints([-1])))
        return res
    if outs:
        run("batch_norm_backward", (tuple(axes), bool(train), tuple(want), tuple(pshape)),
            [grad_out, input, weight, running_mean if not train else None,
             running_var if not train else None, save_mean if train else None,
             save_invstd if train else None, Scalar(float(eps), cdt)], outs, build)
    it = iter(outs)
    return tuple(next(it) if w else None for w in want)

