"""Activation functions and their backward ops, with ATen's exact formulas (not ONNX's fused
variants where they differ): silu is x / (1 + exp(-x)), elu uses expm1, softplus switches to the
identity above `threshold`, and every backward is the expression ATen's CPU kernel evaluates.
Extra float arguments (slopes, alphas, bounds) are graph inputs, not attributes.
"""
from __future__ import annotations

import math

from .common import float_result, full_args, opmath
from .pointwise import pointwise, result_type
from .registry import FLOATS, FLOATS_NO_F64, kernel
from .unary import _expm1, _log1p


def _c(g, like, v):
    return g.const(v, g.dtype(like))


def _act(name, lower, n_tensors=1, floats=FLOATS, inplace=True):  # noqa: C901
    """Register `name.default` (and `name_.default`) for an op whose first `n_tensors` arguments
    are tensors. Its number arguments reach `lower` as graph scalars; its string and bool
    arguments change the graph, so they go to `lower` as `attrs` (and into the cache key)."""
    def make(is_inplace):
        overload = f"{name}_.default" if is_inplace else f"{name}.default"

        def fn(*args, **kwargs):
            args = full_args(overload, args, kwargs)
            attrs = tuple(a for a in args if isinstance(a, (str, bool)))
            args = [a for a in args if not isinstance(a, (str, bool))]
            common = result_type(*args[:n_tensors])
            out_dtype = float_result(common)
            return pointwise(name, attrs, args, _bind(lower, attrs), out_dtype=out_dtype,
                             compute=opmath(out_dtype), out=args[0] if is_inplace else None,
                             result=out_dtype)
        return fn
    kernel(f"{name}.default", dtypes=floats, impl=f"onnx:{name}")(make(False))
    if inplace:
        kernel(f"{name}_.default", dtypes=floats, impl=f"onnx:{name}")(make(True))


def _bind(lower, attrs):
    return (lambda g, *v: lower(g, *v, attrs=attrs)) if attrs else lower


# -- gelu -------------------------------------------------------------------------------------
def _gelu(g, x, attrs=("none",)):
    return g.op("Gelu", x, approximate=attrs[0])


_act("gelu", _gelu, floats=FLOATS_NO_F64)          # ORT's Erf has no double kernel


def _gelu_backward(g, gy, x, attrs=("none",)):
    half, one = _c(g, x, 0.5), _c(g, x, 1.0)
    if attrs[0] == "tanh":
        beta = _c(g, x, math.sqrt(2.0) * (2.0 / math.sqrt(math.pi)) * 0.5)
        kappa = _c(g, x, 0.044715)
        x_sq = g.op("Mul", x, x)
        x_cube = g.op("Mul", x_sq, x)
        inner = g.op("Mul", beta, g.op("Add", x, g.op("Mul", kappa, x_cube)))
        t = g.op("Tanh", inner)
        left = g.op("Mul", half, x)
        right = g.op("Add", one, t)
        left_d = g.op("Mul", half, right)
        tanh_d = g.op("Sub", one, g.op("Mul", t, t))
        inner_d = g.op("Mul", beta, g.op("Add", one, g.op("Mul", _c(g, x, 3 * 0.044715), x_sq)))
        right_d = g.op("Mul", g.op("Mul", left, tanh_d), inner_d)
        return g.op("Mul", gy, g.op("Add", left_d, right_d))
    cdf = g.op("Mul", half, g.op("Add", one, g.op("Erf", g.op("Mul", x, _c(g, x, math.sqrt(0.5))))))
    pdf = g.op("Mul", g.op("Exp", g.op("Mul", _c(g, x, -0.5), g.op("Mul", x, x))),
               _c(g, x, (2.0 / math.sqrt(math.pi)) * math.sqrt(0.5) * 0.5))
    return g.op("Mul", gy, g.op("Add", cdf, g.op("Mul", x, pdf)))


_act("gelu_backward", _gelu_backward, n_tensors=2, inplace=False, floats=FLOATS_NO_F64)


# -- silu / sigmoid / tanh --------------------------------------------------------------------
def _silu(g, x):
    return g.op("Div", x, g.op("Add", _c(g, x, 1.0), g.op("Exp", g.op("Neg", x))))


def _silu_backward(g, gy, x):
    s = g.op("Div", _c(g, x, 1.0), g.op("Add", _c(g, x, 1.0), g.op("Exp", g.op("Neg", x))))
    inner = g.op("Add", _c(g, x, 1.0), g.op("Mul", x, g.op("Sub", _c(g, x, 1.0), s)))
    return g.op("Mul", g.op("Mul", gy, s), inner)


_act("silu", _silu)
_act("silu_backward", _silu_backward, n_tensors=2, inplace=False)
_act("tanh_backward", lambda g, gy, y: g.op("Mul", gy, g.op("Sub", _c(g, y, 1.0),
                                                            g.op("Mul", y, y))),
     n_tensors=2, inplace=False)
_act("sigmoid_backward", lambda g, gy, y: g.op("Mul", g.op("Mul", gy, g.op("Sub", _c(g, y, 1.0), y)),
                                               y),
     n_tensors=2, inplace=False)


def _mish(g, x):
    return g.op("Mul", x, g.op("Tanh", _log1p(g, g.op("Exp", x))))


def _mish_backward(g, gy, x):
    s = g.op("Div", _c(g, x, 1.0), g.op("Add", _c(g, x, 1.0), g.op("Exp", g.op("Neg", x))))
    t = g.op("Tanh", _log1p(g, g.op("Exp", x)))
    d = g.op("Mul", g.op("Mul", x, s), g.op("Sub", _c(g, x, 1.0), g.op("Mul", t, t)))
    return g.op("Mul", gy, g.op("Add", t, d))


_act("mish", _mish)
_act("mish_backward", _mish_backward, n_tensors=2, inplace=False)


# -- piecewise-linear activations ---------------------------------------------------------------
def _leaky_relu(g, x, slope):
    return g.op("Where", g.op("Greater", x, _c(g, x, 0.0)), x, g.op("Mul", x, slope))


_act("leaky_relu", _leaky_relu)


def _leaky_relu_backward(g, gy, x, slope, attrs=()):
    return g.op("Where", g.op("Greater", x, _c(g, x, 0.0)), gy, g.op("Mul", gy, slope))


_act("leaky_relu_backward", _leaky_relu_backward, n_tensors=2, inplace=False)


def _hardtanh(g, x, lo, hi):
    r = g.op("Where", g.op("Less", x, lo), lo, x)
    r = g.op("Where", g.op("Greater", r, hi), hi, r)
    return g.op("Where", g.op("IsNaN", x), x, r)


_act("hardtanh", _hardtanh)


def _hardtanh_backward(g, gy, x, lo, hi):
    outside = g.op("Or", g.op("LessOrEqual", x, lo), g.op("GreaterOrEqual", x, hi))
    return g.op("Where", outside, _c(g, gy, 0.0), gy)


_act("hardtanh_backward", _hardtanh_backward, n_tensors=2, inplace=False)


def _threshold(g, x, threshold, value):
    return g.op("Where", g.op("LessOrEqual", x, threshold), value, x)


_act("threshold", _threshold)
_act("threshold_backward", lambda g, gy, x, t: g.op("Where", g.op("LessOrEqual", x, t),
                                                    _c(g, gy, 0.0), gy),
     n_tensors=2, inplace=False)


def _hardsigmoid(g, x):
    r = g.op("Add", x, _c(g, x, 3.0))
    r = g.op("Where", g.op("Less", r, _c(g, x, 0.0)), _c(g, x, 0.0), r)
    r = g.op("Where", g.op("Greater", r, _c(g, x, 6.0)), _c(g, x, 6.0), r)
    return g.op("Div", r, _c(g, x, 6.0))


_act("hardsigmoid", _hardsigmoid)


def _hardsigmoid_backward(g, gy, x):
    inside = g.op("And", g.op("Greater", x, _c(g, x, -3.0)), g.op("Less", x, _c(g, x, 3.0)))
    return g.op("Where", inside, g.op("Div", gy, _c(g, x, 6.0)), _c(g, x, 0.0))


_act("hardsigmoid_backward", _hardsigmoid_backward, n_tensors=2, inplace=False)
_act("hardswish", lambda g, x: g.op("Mul", x, _hardsigmoid(g, x)))


def _hardswish_backward(g, gy, x):
    mid = g.op("Mul", gy, g.op("Add", g.op("Div", x, _c(g, x, 3.0)), _c(g, x, 0.5)))
    r = g.op("Where", g.op("LessOrEqual", x, _c(g, x, 3.0)), mid, gy)
    return g.op("Where", g.op("Less", x, _c(g, x, -3.0)), _c(g, x, 0.0), r)


_act("hardswish_backward", _hardswish_backward, n_tensors=2, inplace=False)


# -- elu / softplus ---------------------------------------------------------------------------
def _elu(g, x, alpha, scale, input_scale):
    neg = g.op("Mul", _expm1(g, g.op("Mul", x, input_scale)), g.op("Mul", alpha, scale))
    return g.op("Where", g.op("LessOrEqual", x, _c(g, x, 0.0)), neg, g.op("Mul", x, scale))


_act("elu", _elu)


def _elu_backward(g, gy, alpha, scale, input_scale, is_result, x, attrs=(False,)):
    negcoef = g.op("Mul", alpha, scale)
    if attrs[0]:
        neg = g.op("Mul", g.op("Mul", gy, input_scale), g.op("Add", x, negcoef))
    else:
        neg = g.op("Mul", g.op("Mul", g.op("Mul", gy, input_scale), negcoef),
                   g.op("Exp", g.op("Mul", x, input_scale)))
    return g.op("Where", g.op("LessOrEqual", x, _c(g, x, 0.0)), neg, g.op("Mul", gy, scale))


@kernel("elu_backward.default", dtypes=FLOATS, impl="onnx:elu_backward")
def elu_backward(grad_output, alpha, scale, input_scale, is_result, self_or_result):
    common = result_type(grad_output, self_or_result)
    attrs = (bool(is_result),)
    return pointwise("elu_backward", attrs, [grad_output, alpha, scale, input_scale,
                                             self_or_result],
                     lambda g, gy, a, s, i, x: _elu_backward(g, gy, a, s, i, None, x, attrs),
                     out_dtype=common, compute=opmath(common))


def _softplus(g, x, beta, threshold):
    xb = g.op("Mul", x, beta)
    soft = g.op("Div", _log1p(g, g.op("Exp", xb)), beta)
    return g.op("Where", g.op("Greater", xb, threshold), x, soft)


_act("softplus", _softplus, inplace=False)


def _softplus_backward(g, gy, x, beta, threshold):
    xb = g.op("Mul", x, beta)
    z = g.op("Exp", xb)
    soft = g.op("Div", g.op("Mul", gy, z), g.op("Add", z, _c(g, x, 1.0)))
    return g.op("Where", g.op("Greater", xb, threshold), gy, soft)


_act("softplus_backward", _softplus_backward, n_tensors=2, inplace=False)
