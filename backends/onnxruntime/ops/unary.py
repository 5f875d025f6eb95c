"""Elementwise ops of one tensor: exp, sqrt, neg, isnan, ... and their in-place forms.

Each entry says how to build the ONNX nodes on a value already cast to the compute dtype, and
which result dtype ATen gives: "float" ops turn integer/bool inputs into the default float dtype
(torch.exp(int) is float32), "same" ops keep the input dtype, "bool" ops return bool.
ONNX has no Trunc, Expm1, Log1p, Log2, Rsqrt, Frac: they are small graphs here; expm1/log1p use
Kahan's formulas so they stay accurate near zero instead of a naive exp(x)-1 / log(1+x).
"""
from __future__ import annotations

import math

import torch

from .common import check_inplace, empty, float_result, opmath, run_into
from .registry import BOOL, FLOATS, FLOATS_NO_F64, INTS, kernel


def _c(g, x, value):
    return g.const(value, g.dtype(x))


def _trunc(g, x):
    return g.op("Where", g.op("Less", x, _c(g, x, 0.0)), g.op("Ceil", x), g.op("Floor", x))


def _expm1(g, x):
    u = g.op("Exp", x)
    um1 = g.op("Sub", u, _c(g, x, 1.0))
    r = g.op("Div", g.op("Mul", um1, x), g.op("Log", u))
    r = g.op("Where", g.op("Equal", u, _c(g, x, 1.0)), x, r)        # |x| tiny: expm1(x) = x
    r = g.op("Where", g.op("Equal", um1, _c(g, x, -1.0)), um1, r)   # x -> -inf: -1
    return g.op("Where", g.op("IsInf", u), u, r)                    # overflow: inf


def _log1p(g, x):
    u = g.op("Add", x, _c(g, x, 1.0))
    lu = g.op("Log", u)
    r = g.op("Div", g.op("Mul", lu, x), g.op("Sub", u, _c(g, x, 1.0)))
    r = g.op("Where", g.op("Equal", u, _c(g, x, 1.0)), x, r)
    return g.op("Where", g.op("IsInf", u), lu, r)


def _sign_float(g, x):
    pos = g.cast(g.op("Greater", x, _c(g, x, 0.0)), g.dtype(x))
    neg = g.cast(g.op("Less", x, _c(g, x, 0.0)), g.dtype(x))
    return g.op("Sub", pos, neg)   # sign(nan) = 0, as ATen's (0 < x) - (x < 0)



def _relu(g, x):
    return g.op("Where", g.op("Less", x, _c(g, x, 0)), _c(g, x, 0), x)   # keeps NaN, as ATen


def _single(onnx_op):
    return lambda g, x: g.op(onnx_op, x)


# name -> (builder, result kind, accepted float dtypes, accepts ints/bool)
FLOAT_OPS = {
    "exp": (_single("Exp"), FLOATS),
    "exp2": (lambda g, x: g.op("Pow", _c(g, x, 2.0), x), FLOATS),
    "expm1": (_expm1, FLOATS),
    "log": (_single("Log"), FLOATS),
    "log2": (lambda g, x: g.op("Div", g.op("Log", x), _c(g, x, math.log(2.0))), FLOATS),
    "log10": (lambda g, x: g.op("Div", g.op("Log", x), _c(g, x, math.log(10.0))), FLOATS),
    "log1p": (_log1p, FLOATS),
    "sin": (_single("Sin"), FLOATS),
    "cos": (_single("Cos"), FLOATS),
    "tan": (_single("Tan"), FLOATS_NO_F64),
    "tanh": (_single("Tanh"), FLOATS),
    "sigmoid": (_single("Sigmoid"), FLOATS),
    "sqrt": (_single("Sqrt"), FLOATS),
    "rsqrt": (lambda g, x: g.op("Reciprocal", g.op("Sqrt", x)), FLOATS),
    "reciprocal": (_single("Reciprocal"), FLOATS),
    "erf": (_single("Erf"), FLOATS_NO_F64),
    "erfc": (lambda g, x: g.op("Sub", _c(g, x, 1.0), g.op("Erf", x)), FLOATS_NO_F64),
    "asin": (_single("Asin"), FLOATS_NO_F64),
    "acos": (_single("Acos"), FLOATS_NO_F64),
    "atan": (_single("Atan"), FLOATS_NO_F64),
    "sinh": (_single("Sinh"), FLOATS_NO_F64),
    "cosh": (_single("Cosh"), FLOATS_NO_F64),
    "asinh": (_single("Asinh"), FLOATS_NO_F64),
    "acosh": (_single("Acosh"), FLOATS_NO_F64),
    "atanh": (_single("Atanh"), FLOATS_NO_F64),
}

# ops that keep the dtype; integer inputs use `int_build` (None: int input not allowed)
SAME_OPS = {
    "neg": (_single("Neg"), _single("Neg"), FLOATS | INTS),
    "abs": (_single("Abs"), _single("Abs"), FLOATS | INTS),
    "sign": (_sign_float, _single("Sign"), FLOATS | INTS | BOOL),
    "sgn": (_sign_float, _single("Sign"), FLOATS | INTS | BOOL),
    "ceil": (_single("Ceil"), _single("Identity"), FLOATS | INTS),
    "floor": (_single("Floor"), _single("Identity"), FLOATS | INTS),
    "round": (_single("Round"), _single("Identity"), FLOATS | INTS),
    "trunc": (_trunc, _single("Identity"), FLOATS | INTS),
    "fix": (_trunc, _single("Identity"), FLOATS | INTS),
    "frac": (lambda g, x: g.op("Sub", x, _trunc(g, x)), None, FLOATS),
    "relu": (_relu, _relu, FLOATS | INTS),
    "positive": (_single("Identity"), _single("Identity"), FLOATS | INTS),
}


def _float_kernel(name, build):
    def fn(self):
        out_dtype = float_result(self.dtype)
        out = empty(self.shape, out_dtype, self.device)
        cdt = opmath(out_dtype)
        return run_into(out, name, (), [self], lambda g, x: build(g, g.cast(x, cdt)))

    def fn_(self):
        check_inplace(self, float_result(self.dtype), self.shape)
        cdt = opmath(self.dtype)
        return run_into(self, name, (), [self], lambda g, x: build(g, g.cast(x, cdt)))
    return fn, fn_


def _same_kernel(name, build, int_build):
    def lower(dtype):
        if dtype.is_floating_point:
            cdt = opmath(dtype)
            return lambda g, x: build(g, g.cast(x, cdt))
        if int_build is None:
            raise RuntimeError(f"\"{name}\" not implemented for '{dtype}'")
        if dtype == torch.bool:     # sign(bool) is the identity
            return lambda g, x: g.op("Identity", x)
        return lambda g, x: int_build(g, g.cast(x, torch.int64))

    def fn(self):
        if self.dtype == torch.bool and name in ("neg", "abs"):
            raise RuntimeError(f"{name} is not supported for bool tensors")
        return run_into(empty(self.shape, self.dtype, self.device), name, (), [self],
                        lower(self.dtype))

    def fn_(self):
        return run_into(self, name, (), [self], lower(self.dtype))
    return fn, fn_


for _name, (_build, _floats) in FLOAT_OPS.items():
    _fn, _fn_ = _float_kernel(_name, _build)
    kernel(f"{_name}.default", dtypes=_floats | INTS | BOOL, impl=f"onnx:{_name}")(_fn)
    kernel(f"{_name}_.default", dtypes=_floats, impl=f"onnx:{_name}")(_fn_)

for _name, (_build, _int_build, _dtypes) in SAME_OPS.items():
    _fn, _fn_ = _same_kernel(_name, _build, _int_build)
    kernel(f"{_name}.default", dtypes=_dtypes, impl=f"onnx:{_name}")(_fn)
    if _name != "positive":
        kernel(f"{_name}_.default", dtypes=_dtypes, impl=f"onnx:{_name}")(_fn_)


# -- predicates returning bool ---------------------------------------------------------------
def _bool_kernel(name, float_build, int_build):
    def fn(self):
        out = empty(self.shape, torch.bool, self.device)
        if self.dtype.is_floating_point:
            cdt = opmath(self.dtype)
            return run_into(out, name, (), [self], lambda g, x: float_build(g, g.cast(x, cdt)))
        return run_into(out, name, (), [self], int_build)
    return fn


def _all_false(g, x):
    return g.op("Not", g.op("Equal", x, x))


def _all_true(g, x):
    return g.op("Equal", x, x)


PREDICATES = {
    "isnan": (_single("IsNaN"), _all_false),
    "isinf": (_single("IsInf"), _all_false),
    "isfinite": (lambda g, x: g.op("Not", g.op("Or", g.op("IsNaN", x), g.op("IsInf", x))),
                 _all_true),
    "isposinf": (lambda g, x: g.op("IsInf", x, detect_negative=0), _all_false),
    "isneginf": (lambda g, x: g.op("IsInf", x, detect_positive=0), _all_false),
    "signbit": (lambda g, x: g.op("Less", g.op("Div", _c(g, x, 1.0), x), _c(g, x, 0.0)),
                lambda g, x: g.op("Less", g.cast(x, torch.int64), g.const(0, torch.int64))),
    "logical_not": (lambda g, x: g.op("Not", g.cast(x, torch.bool)),
                    lambda g, x: g.op("Not", g.cast(x, torch.bool))),
}
for _name, (_fb, _ib) in PREDICATES.items():
    kernel(f"{_name}.default", dtypes=FLOATS | INTS | BOOL, impl=f"onnx:{_name}")(
        _bool_kernel(_name, _fb, _ib))


@kernel("bitwise_not.default", dtypes=INTS | BOOL, impl="onnx:BitwiseNot/Not")
def bitwise_not(self):
    op = "Not" if self.dtype == torch.bool else "BitwiseNot"
    return run_into(empty(self.shape, self.dtype, self.device), "bitwise_not", (), [self],
                    lambda g, x: g.op(op, x))


@kernel("logical_not_.default", dtypes=FLOATS | INTS | BOOL, impl="onnx:Not")
def logical_not_(self):
    return run_into(self, "logical_not", (), [self], lambda g, x: g.op("Not", g.cast(x, torch.bool)))


@kernel("round.decimals", dtypes=FLOATS, impl="onnx:Round")
def round_decimals(self, *, decimals=0):
    cdt = opmath(self.dtype)
    scale = 10.0 ** abs(decimals)

    def build(g, x):
        x = g.cast(x, cdt)
        s = g.const(scale, cdt)
        if decimals >= 0:
            return g.op("Div", g.op("Round", g.op("Mul", x, s)), s)
        return g.op("Mul", g.op("Round", g.op("Div", x, s)), s)
    return run_into(empty(self.shape, self.dtype, self.device), "round.decimals", (decimals,),
                    [self], build)
