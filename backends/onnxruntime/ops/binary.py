"""Elementwise ops of two (or three) operands, each in functional and in-place form.

ATen semantics followed here (and what ONNX alone would get wrong):
* add/sub take `alpha` (a + alpha*b); sub refuses bool; rsub swaps operands.
* div: true division turns integers into floats; rounding_mode "trunc" / "floor" follow ATen's
  div_floor_floating (fmod-based, so floor(7.0/0.1) is 69 as in ATen, not 70) and integer
  division raises ZeroDivisionError instead of crashing the process as ORT's integer Div would.
* remainder is Python's modulo (sign of the divisor), fmod is C's.
* pow special-cases the exponents ATen special-cases (2, 3, 0.5, -0.5, -1, -2).
* maximum/minimum propagate NaN; fmax/fmin ignore it.
"""
from __future__ import annotations

import math

import torch

from .._vendor.execute import run
from .common import arith_dtype, empty, home, opmath, scalar_in
from .pointwise import pointwise, result_type, shape_of
from .registry import ALL, BOOL, FLOATS, FLOATS_NO_F64, INTS, kernel

NUMERIC = FLOATS | INTS | BOOL


def _c(g, like, value):
    return g.const(value, g.dtype(like))


def _functional_and_inplace(base: str, overloads: dict, fn, dtypes, impl):
    """Register `base.<ov>` and `base_.<ov>` for each overload name in `overloads`."""
    for ov in overloads:
        kernel(f"{base}.{ov}", dtypes=dtypes, impl=impl)(fn(inplace=False))
        kernel(f"{base}_.{ov}", dtypes=dtypes, impl=impl)(fn(inplace=True))


# -- add / sub / rsub / mul -------------------------------------------------------------------
def _arith(name, onnx_op):
    def make(inplace):
        def fn(self, other, *, alpha=1):
            return _arith_run(name, onnx_op, self, other, alpha, inplace)
        return fn
    return make


def _arith_run(name, onnx_op, self, other, alpha, inplace, swap=False):
    common = result_type(self, other)
    if name in ("sub", "rsub") and (common == torch.bool or _is_bool(self) or _is_bool(other)):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    if alpha != 1 and not common.is_floating_point and isinstance(alpha, float):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           "point number.")
    cdt = arith_dtype(common)
    scaled = alpha != 1

    def lower(g, a, b, al=None):
        if swap:
            a, b = b, a
        if scaled:
            b = g.op("Mul", b, al)
        return g.op(onnx_op, a, b)
    args = [self, other] + ([alpha] if scaled else [])
    return pointwise(name, (scaled, swap), args, lower, out_dtype=common, compute=cdt,
                     out=self if inplace else None, result=common)


def _is_bool(x):
    return (isinstance(x, torch.Tensor) and x.dtype == torch.bool) or isinstance(x, bool)


_functional_and_inplace("add", ("Tensor", "Scalar"), _arith("add", "Add"), NUMERIC, "onnx:Add")
_functional_and_inplace("sub", ("Tensor", "Scalar"), _arith("sub", "Sub"), NUMERIC, "onnx:Sub")


def _rsub(self, other, *, alpha=1):
    # rsub(self, other, alpha) = other - alpha * self
    return _arith_run("rsub", "Sub", self, other, alpha, False, swap=True)


kernel("rsub.Tensor", dtypes=NUMERIC, impl="onnx:Sub")(_rsub)
kernel("rsub.Scalar", dtypes=NUMERIC, impl="onnx:Sub")(_rsub)


def _mul(inplace):
    def fn(self, other):
        common = result_type(self, other)
        return pointwise("mul", (), [self, other], lambda g, a, b: g.op("Mul", a, b),
                         out_dtype=common, compute=arith_dtype(common),
                         out=self if inplace else None, result=common)
    return fn


_functional_and_inplace("mul", ("Tensor", "Scalar"), _mul, NUMERIC, "onnx:Mul")


# -- division ---------------------------------------------------------------------------------
def _trunc(g, x):
    return g.op("Where", g.op("Less", x, _c(g, x, 0.0)), g.op("Ceil", x), g.op("Floor", x))


def _floor_div_float(g, a, b):
    """ATen's div_floor_floating: exact for representable quotients, ties handled like Python."""
    zero, one = _c(g, a, 0.0), _c(g, a, 1.0)
    mod = g.op("Mod", a, b, fmod=1)
    div = g.op("Div", g.op("Sub", a, mod), b)
    wrong_sign = g.op("And", g.op("Not", g.op("Equal", mod, zero)),
                      g.op("Xor", g.op("Less", b, zero), g.op("Less", mod, zero)))
    div = g.op("Sub", div, g.cast(wrong_sign, g.dtype(a)))
    floordiv = g.op("Floor", div)
    bump = g.op("Greater", g.op("Sub", div, floordiv), _c(g, a, 0.5))
    floordiv = g.op("Add", floordiv, g.cast(bump, g.dtype(a)))
    q = g.op("Div", a, b)
    signed_zero = g.op("Where", g.op("Less", g.op("Div", one, q), zero), _c(g, a, -0.0), zero)
    res = g.op("Where", g.op("Equal", div, zero), signed_zero, floordiv)
    return g.op("Where", g.op("Equal", b, zero), q, res)



def _int_floor_div(g, a, b):
    q = g.op("Div", a, b)
    r = g.op("Sub", a, g.op("Mul", q, b))
    zero = _c(g, a, 0)
    fix = g.op("And", g.op("Not", g.op("Equal", r, zero)),
               g.op("Xor", g.op("Less", r, zero), g.op("Less", b, zero)))
    return g.op("Sub", q, g.cast(fix, g.dtype(a)))


def _int_remainder(g, a, b):
    r = g.op("Mod", a, b, fmod=1)
    zero = _c(g, a, 0)
    fix = g.op("And", g.op("Not", g.op("Equal", r, zero)),
               g.op("Xor", g.op("Less", r, zero), g.op("Less", b, zero)))
    return g.op("Add", r, g.op("Where", fix, b, zero))


def _float_remainder(g, a, b):
    r = g.op("Mod", a, b, fmod=1)
    zero = _c(g, a, 0.0)
    fix = g.op("And", g.op("Not", g.op("Equal", r, zero)),
               g.op("Xor", g.op("Less", r, zero), g.op("Less", b, zero)))
    return g.op("Add", r, g.op("Where", fix, b, zero))


def _guarded_int(name, attrs, self, other, int_lower, out_dtype, out):
    """Integer division-like op: the graph swaps zero divisors for 1 and reports whether it saw
    one, so we raise ATen's ZeroDivisionError rather than let ORT's integer Div trap."""
    shape = shape_of(self, other)
    target = out if out is not None else empty(shape, out_dtype, home(self, other))
    if target.numel() == 0:
        return target
    flag = torch.zeros((), dtype=torch.bool)          # host scalar, bound by pointer
    tmp = target if target.is_contiguous() else empty(shape, out_dtype, target.device)
    inputs = [a if isinstance(a, torch.Tensor) else scalar_in(a, torch.int64) for a in (self, other)]

    def build(g, a, b):
        a, b = g.cast(a, torch.int64), g.cast(b, torch.int64)
        zero, one = g.const(0, torch.int64), g.const(1, torch.int64)
        is_zero = g.op("Equal", b, zero)
        any_zero = g.cast(g.op("ReduceMax", g.cast(is_zero, torch.int32), keepdims=0),
                          torch.bool)
        return [int_lower(g, a, g.op("Where", is_zero, one, b)), any_zero]
    run(name, attrs, inputs, [tmp, flag], build)
    if flag.item():
        raise RuntimeError("ZeroDivisionError")
    if tmp is not target:
        target.copy_(tmp)
    return target


def _div_run(self, other, rounding_mode, inplace):
    common = result_type(self, other)
    if rounding_mode is None:
        out_dtype = common if common.is_floating_point else torch.get_default_dtype()
        cdt = opmath(out_dtype)
        return pointwise("div", (None,), [self, other], lambda g, a, b: g.op("Div", a, b),
                         out_dtype=out_dtype, compute=cdt, out=self if inplace else None,
                         result=out_dtype)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                         f"found '{rounding_mode}'")
    if common.is_floating_point:
        lower = (lambda g, a, b: _trunc(g, g.op("Div", a, b))) if rounding_mode == "trunc" \
            else _floor_div_float
        return pointwise("div", (rounding_mode,), [self, other], lower, out_dtype=common,
                         compute=opmath(common), out=self if inplace else None, result=common)
    if inplace:
        from .common import check_inplace
        check_inplace(self, common, shape_of(self, other))
    int_lower = (lambda g, a, b: g.op("Div", a, b)) if rounding_mode == "trunc" else _int_floor_div
    return _guarded_int("div", (rounding_mode,), self, other, int_lower, common,
                        self if inplace else None)


def _div(inplace):
    def fn(self, other):
        return _div_run(self, other, None, inplace)
    return fn


def _div_mode(inplace):
    def fn(self, other, *, rounding_mode=None):
        return _div_run(self, other, rounding_mode, inplace)
    return fn


_functional_and_inplace("div", ("Tensor", "Scalar"), _div, NUMERIC, "onnx:Div")
_functional_and_inplace("div", ("Tensor_mode", "Scalar_mode"), _div_mode, NUMERIC,
                        "onnx:Div,Mod,Floor")


def _floor_divide(inplace):
    def fn(self, other):
        return _div_run(self, other, "floor", inplace)
    return fn


_functional_and_inplace("floor_divide", ("default",), _floor_divide, NUMERIC, "onnx:Div,Mod")
kernel("floor_divide.Scalar", dtypes=NUMERIC, impl="onnx:Div,Mod")(_floor_divide(False))


def _mod_run(name, self, other, inplace):
    common = result_type(self, other)
    if common == torch.bool:
        raise RuntimeError(f"\"{name}_cpu\" not implemented for 'Bool'")
    if common.is_floating_point:
        lower = _float_remainder if name == "remainder" else \
            (lambda g, a, b: g.op("Mod", a, b, fmod=1))
        return pointwise(name, (), [self, other], lower, out_dtype=common, compute=opmath(common),
                         out=self if inplace else None, result=common)
    if inplace:
        from .common import check_inplace
        check_inplace(self, common, shape_of(self, other))
    int_lower = _int_remainder if name == "remainder" else \
        (lambda g, a, b: g.op("Mod", a, b, fmod=1))
    return _guarded_int(name, (), self, other, int_lower, common, self if inplace else None)


def _mod(name):
    def make(inplace):
        def fn(self, other):
            return _mod_run(name, self, other, inplace)
        return fn
    return make


_functional_and_inplace("remainder", ("Tensor", "Scalar"), _mod("remainder"), FLOATS | INTS,
                        "onnx:Mod")
kernel("remainder.Scalar_Tensor", dtypes=FLOATS | INTS, impl="onnx:Mod")(
    lambda self, other: _mod_run("remainder", self, other, False))
_functional_and_inplace("fmod", ("Tensor", "Scalar"), _mod("fmod"), FLOATS | INTS, "onnx:Mod")


# -- pow --------------------------------------------------------------------------------------
def _pow_scalar_exponent(g, x, e, exponent):
    """ATen's pow special cases (exact products instead of std::pow)."""
    if exponent == 2:
        return g.op("Mul", x, x)
    if exponent == 3:
        return g.op("Mul", g.op("Mul", x, x), x)
    if exponent == 0.5:
        return g.op("Sqrt", x)
    if exponent == -0.5:
        return g.op("Reciprocal", g.op("Sqrt", x))
    if exponent == -1:
        return g.op("Reciprocal", x)
    if exponent == -2:
        return g.op("Reciprocal", g.op("Mul", x, x))
    return g.op("Pow", x, e)


def _int_pow_known(g, x, exponent):
    """x ** n for a known integer n >= 0 by repeated squaring: int64 products wrap on overflow
    exactly as ATen's integer pow does (ORT's integer Pow goes through double and saturates)."""
    if exponent == 0:
        return g.op("Add", g.op("Mul", x, g.const(0, torch.int64)), g.const(1, torch.int64))
    base, n, result = x, exponent, None
    while n:
        if n & 1:
            result = base if result is None else g.op("Mul", result, base)
        n >>= 1
        if n:
            base = g.op("Mul", base, base)
    return result


def _int_pow_tensor(g, x, e):
    """x ** e elementwise for int64 tensors (63 squaring steps cover every int64 exponent);
    negative exponents follow ATen: 1 for base 1, +-1 for base -1, else 0."""
    one, zero = g.const(1, torch.int64), g.const(0, torch.int64)
    two = g.const(2, torch.int64)
    result = g.op("Add", g.op("Mul", x, zero), one)
    base = x
    n = g.op("Where", g.op("Less", e, zero), zero, e)
    for _ in range(63):
        bit = g.op("Equal", g.op("Mod", n, two, fmod=1), one)
        result = g.op("Where", bit, g.op("Mul", result, base), result)
        base = g.op("Mul", base, base)
        n = g.op("Div", n, two)
    neg = g.op("Less", e, zero)
    odd = g.op("Equal", g.op("Mod", g.op("Abs", e), two, fmod=1), one)
    neg_val = g.op("Where", g.op("Equal", x, one), one,
                   g.op("Where", g.op("Equal", x, g.const(-1, torch.int64)),
                        g.op("Where", odd, g.const(-1, torch.int64), one), zero))
    return g.op("Where", neg, neg_val, result)


def _pow_ts(inplace):
    def fn(self, exponent):
        common = result_type(self, exponent)
        if isinstance(exponent, torch.Tensor):
            exponent = exponent.item()
        if not common.is_floating_point:
            if exponent < 0:
                raise RuntimeError("Integers to negative integer powers are not allowed.")
            special = exponent if exponent in (2, 3) else None
        else:
            special = exponent if exponent in (2, 3, 0.5, -0.5, -1, -2) else None
        cdt = arith_dtype(common)
        if not common.is_floating_point:
            n = int(exponent)
            return pointwise("pow.int_scalar", (n,), [self], lambda g, x: _int_pow_known(g, x, n),
                             out_dtype=common, compute=cdt, out=self if inplace else None,
                             result=common)
        return pointwise("pow.Tensor_Scalar", (special,), [self, exponent],
                         lambda g, x, e: _pow_scalar_exponent(g, x, e, special),
                         out_dtype=common, compute=cdt, out=self if inplace else None,
                         result=common)
    return fn


kernel("pow.Tensor_Scalar", dtypes=FLOATS | INTS, impl="onnx:Pow")(_pow_ts(False))
kernel("pow_.Scalar", dtypes=FLOATS | INTS, impl="onnx:Pow")(_pow_ts(True))


def _pow_tt(inplace):
    def fn(self, exponent):
        common = result_type(self, exponent)
        lower = (lambda g, x, e: g.op("Pow", x, e)) if common.is_floating_point else _int_pow_tensor
        return pointwise("pow.Tensor_Tensor", (), [self, exponent], lower, out_dtype=common,
                         compute=arith_dtype(common), out=self if inplace else None,
                         result=common)
    return fn


kernel("pow.Tensor_Tensor", dtypes=FLOATS | INTS, impl="onnx:Pow")(_pow_tt(False))
kernel("pow_.Tensor", dtypes=FLOATS | INTS, impl="onnx:Pow")(_pow_tt(True))


@kernel("pow.Scalar", dtypes=FLOATS | INTS, impl="onnx:Pow")
def pow_scalar(self, exponent):
    common = result_type(self, exponent)
    lower = (lambda g, b, e: g.op("Pow", b, e)) if common.is_floating_point else _int_pow_tensor
    return pointwise("pow.Scalar", (), [self, exponent], lower,
                     out_dtype=common, compute=arith_dtype(common))


# -- maximum / minimum / atan2 ----------------------------------------------------------------
def _extremum(name, greater: bool, propagate_nan: bool):
    def lower(g, a, b):
        pick_a = g.op("Greater" if greater else "Less", a, b)
        r = g.op("Where", pick_a, a, b)
        if g.dtype(a).is_floating_point:
            if propagate_nan:
                r = g.op("Where", g.op("IsNaN", a), a, g.op("Where", g.op("IsNaN", b), b, r))
            else:
                r = g.op("Where", g.op("IsNaN", a), b, g.op("Where", g.op("IsNaN", b), a, r))
        return r

    def fn(self, other):
        common = result_type(self, other)
        return pointwise(name, (), [self, other], lower, out_dtype=common,
                         compute=arith_dtype(common))
    return fn


for _n, _gt, _nan in (("maximum", True, True), ("minimum", False, True),
                      ("fmax", True, False), ("fmin", False, False)):
    kernel(f"{_n}.default", dtypes=NUMERIC, impl="onnx:Where,Greater")(_extremum(_n, _gt, _nan))


def _atan2_lower(g, a, b):
    zero, pi = _c(g, a, 0.0), _c(g, a, math.pi)
    one = _c(g, a, 1.0)
    neg_a = g.op("Or", g.op("Less", a, zero), g.op("Less", g.op("Div", one, a), zero))
    neg_b = g.op("Or", g.op("Less", b, zero), g.op("Less", g.op("Div", one, b), zero))
    base = g.op("Atan", g.op("Div", a, b))
    r = g.op("Where", g.op("Less", b, zero),
             g.op("Where", neg_a, g.op("Sub", base, pi), g.op("Add", base, pi)), base)
    both_zero = g.op("And", g.op("Equal", a, zero), g.op("Equal", b, zero))
    zero_case = g.op("Where", neg_b, g.op("Where", neg_a, g.op("Neg", pi), pi), a)
    r = g.op("Where", both_zero, zero_case, r)
    both_inf = g.op("And", g.op("IsInf", a), g.op("IsInf", b))
    quarter = g.op("Where", g.op("Greater", b, zero), _c(g, a, math.pi / 4),
                   _c(g, a, 3 * math.pi / 4))
    inf_case = g.op("Where", neg_a, g.op("Neg", quarter), quarter)
    return g.op("Where", both_inf, inf_case, r)


def _atan2(inplace):
    def fn(self, other):
        out_dtype = result_type(self, other, int_to_float=True)
        return pointwise("atan2", (), [self, other], _atan2_lower, out_dtype=out_dtype,
                         compute=opmath(out_dtype), out=self if inplace else None,
                         result=out_dtype)
    return fn


_functional_and_inplace("atan2", ("default",), _atan2, FLOATS_NO_F64 | INTS | BOOL, "onnx:Atan")


# -- comparisons, logical, bitwise -------------------------------------------------------------
def _compare(name, lower):
    def make(inplace):
        def fn(self, other):
            common = result_type(self, other)
            cdt = opmath(common) if common.is_floating_point else torch.int64
            return pointwise(name, (), [self, other], lower,
                             out_dtype=self.dtype if inplace else torch.bool, compute=cdt,
                             out=self if inplace else None, result=torch.bool, common=common)
        return fn
    return make


COMPARISONS = {
    "eq": lambda g, a, b: g.op("Equal", a, b),
    "ne": lambda g, a, b: g.op("Not", g.op("Equal", a, b)),
    "lt": lambda g, a, b: g.op("Less", a, b),
    "le": lambda g, a, b: g.op("LessOrEqual", a, b),
    "gt": lambda g, a, b: g.op("Greater", a, b),
    "ge": lambda g, a, b: g.op("GreaterOrEqual", a, b),
}
for _n, _l in COMPARISONS.items():
    _functional_and_inplace(_n, ("Tensor", "Scalar"), _compare(_n, _l), ALL, f"onnx:{_n}")


def _logical(name, onnx_op):
    def make(inplace):
        def fn(self, other):
            return pointwise(name, (), [self, other], lambda g, a, b: g.op(onnx_op, a, b),
                             out_dtype=self.dtype if inplace else torch.bool, compute=torch.bool,
                             out=self if inplace else None, result=torch.bool)
        return fn
    return make


for _n, _op in (("logical_and", "And"), ("logical_or", "Or"), ("logical_xor", "Xor")):
    kernel(f"{_n}.default", dtypes=ALL, impl=f"onnx:{_op}")(_logical(_n, _op)(False))
    kernel(f"{_n}_.default", dtypes=ALL, impl=f"onnx:{_op}")(_logical(_n, _op)(True))


def _bitwise(name, int_op, bool_op):
    def make(inplace):
        def fn(self, other):
            common = result_type(self, other)
            if common.is_floating_point:
                raise RuntimeError(f"\"{name}_cpu\" not implemented for '{common}'")
            op = bool_op if common == torch.bool else int_op
            return pointwise(name, (), [self, other], lambda g, a, b: g.op(op, a, b),
                             out_dtype=common, compute=common, out=self if inplace else None,
                             result=common)
        return fn
    return make


for _n, _i, _b in (("bitwise_and", "BitwiseAnd", "And"), ("bitwise_or", "BitwiseOr", "Or"),
                   ("bitwise_xor", "BitwiseXor", "Xor")):
    _functional_and_inplace(_n, ("Tensor", "Scalar"), _bitwise(_n, _i, _b), INTS | BOOL,
                            f"onnx:{_i}")


# -- where / masked_fill / clamp / lerp / addcmul / addcdiv ------------------------------------
def _where_dtype(dtype):
    """Where's CPU kernel lacks bf16, bool and int16: move those through an exact wider type."""
    return {torch.bfloat16: torch.float32, torch.bool: torch.uint8,
            torch.int16: torch.int32}.get(dtype, dtype)


@kernel("where.self", dtypes=ALL, impl="onnx:Where")
def where_self(condition, self, other):
    common = result_type(self, other)
    cdt = _where_dtype(common)
    return pointwise("where", (), [condition, self, other],
                     lambda g, c, a, b: g.op("Where", c, a, b), out_dtype=common,
                     compute=[torch.bool, cdt, cdt])


def _masked_fill(inplace):
    def fn(self, mask, value):
        if isinstance(value, torch.Tensor) and value.dim() != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value.dim()} dimension(s).")
        cdt = _where_dtype(self.dtype)
        shape = tuple(torch.broadcast_shapes(self.shape, mask.shape))
        if inplace and shape != tuple(self.shape):
            raise RuntimeError(f"masked_fill_: mask of shape {list(mask.shape)} does not broadcast "
                               f"to self of shape {list(self.shape)}")
        out = self if inplace else empty(shape, self.dtype, self.device)
        return pointwise("masked_fill", (), [mask, value, self],
                         lambda g, m, v, x: g.op("Where", m, v, x), out_dtype=self.dtype,
                         compute=[torch.bool, cdt, cdt], out=out, result=self.dtype)
    return fn


_functional_and_inplace("masked_fill", ("Scalar", "Tensor"), _masked_fill, ALL, "onnx:Where")


def _clamp_lower(has_min, has_max):
    def lower(g, x, lo=None, hi=None):
        floating = g.dtype(x).is_floating_point
        r = x
        if has_min:
            r = g.op("Where", g.op("Less", r, lo), lo, r)
            if floating:
                r = g.op("Where", g.op("IsNaN", lo), lo, r)
        if has_max:
            r = g.op("Where", g.op("Greater", r, hi), hi, r)
            if floating:
                r = g.op("Where", g.op("IsNaN", hi), hi, r)
        if floating:
            r = g.op("Where", g.op("IsNaN", x), x, r)
        return r
    return lower


def _clamp_run(self, lo, hi, inplace):
    if lo is None and hi is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    common = result_type(self, lo, hi)
    cdt = arith_dtype(common)
    args = [self] + [a for a in (lo, hi) if a is not None]

    def lower(g, x, *bounds):
        it = iter(bounds)
        a = next(it) if lo is not None else None
        b = next(it) if hi is not None else None
        return _clamp_lower(lo is not None, hi is not None)(g, x, a, b)
    return pointwise("clamp", (lo is not None, hi is not None), args, lower, out_dtype=common,
                     compute=cdt, out=self if inplace else None, result=common)


def _clamp(inplace):
    def fn(self, min=None, max=None):
        return _clamp_run(self, min, max, inplace)
    return fn


_functional_and_inplace("clamp", ("default", "Tensor"), _clamp, FLOATS | INTS, "onnx:Where")


def _clamp_min(inplace):
    def fn(self, min):
        return _clamp_run(self, min, None, inplace)
    return fn


def _clamp_max(inplace):
    def fn(self, max):
        return _clamp_run(self, None, max, inplace)
    return fn


_functional_and_inplace("clamp_min", ("default", "Tensor"), _clamp_min, FLOATS | INTS, "onnx:Where")
_functional_and_inplace("clamp_max", ("default", "Tensor"), _clamp_max, FLOATS | INTS, "onnx:Where")


def _lerp_lower_scalar(small):
    def lower(g, a, b, w):
        diff = g.op("Sub", b, a)
        if small:
            return g.op("Add", a, g.op("Mul", w, diff))
        return g.op("Sub", b, g.op("Mul", diff, g.op("Sub", _c(g, a, 1.0), w)))
    return lower


def _lerp_lower_tensor(g, a, b, w):
    diff = g.op("Sub", b, a)
    small = g.op("Less", g.op("Abs", w), _c(g, a, 0.5))
    lo = g.op("Add", a, g.op("Mul", w, diff))
    hi = g.op("Sub", b, g.op("Mul", diff, g.op("Sub", _c(g, a, 1.0), w)))
    return g.op("Where", small, lo, hi)


def _lerp(inplace, tensor_weight):
    def fn(self, end, weight):
        common = result_type(self, end) if not tensor_weight else result_type(self, end, weight)
        cdt = opmath(common)
        if tensor_weight:
            lower, attrs = _lerp_lower_tensor, ("t",)
        else:
            small = abs(float(weight)) < 0.5      # ATen: is_lerp_weight_small
            lower, attrs = _lerp_lower_scalar(small), (small,)
        return pointwise("lerp", attrs, [self, end, weight], lower, out_dtype=common,
                         compute=cdt, out=self if inplace else None, result=common)
    return fn


kernel("lerp.Scalar", dtypes=FLOATS, impl="onnx:Sub,Mul,Add")(_lerp(False, False))
kernel("lerp_.Scalar", dtypes=FLOATS, impl="onnx:Sub,Mul,Add")(_lerp(True, False))
kernel("lerp.Tensor", dtypes=FLOATS, impl="onnx:Sub,Mul,Add")(_lerp(False, True))
kernel("lerp_.Tensor", dtypes=FLOATS, impl="onnx:Sub,Mul,Add")(_lerp(True, True))


def _addc(name, inplace):
    def fn(self, tensor1, tensor2, *, value=1):
        common = result_type(self, tensor1, tensor2)
        if name == "addcdiv" and not common.is_floating_point:
            raise RuntimeError("Integer division with addcdiv is no longer supported, and in a "
                               "future release addcdiv will perform a true division of tensor1 "
                               "and tensor2. The historic addcdiv behavior can be implemented as "
                               "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) "
                               "for integer inputs and as (input + value * tensor1 / tensor2) for "
                               "float inputs. The future addcdiv behavior is just the latter "
                               "implementation: (input + value * tensor1 / tensor2), for all "
                               "dtypes.")

        def lower(g, s, t1, t2, v):
            if name == "addcmul":   # ATen: self + value * t1 * t2
                return g.op("Add", s, g.op("Mul", g.op("Mul", v, t1), t2))
            return g.op("Add", s, g.op("Mul", v, g.op("Div", t1, t2)))
        return pointwise(name, (), [self, tensor1, tensor2, value], lower, out_dtype=common,
                         compute=arith_dtype(common), out=self if inplace else None,
                         result=common)
    return fn


for _n in ("addcmul", "addcdiv"):
    kernel(f"{_n}.default", dtypes=FLOATS | INTS, impl="onnx:Mul,Div,Add")(_addc(_n, False))
    kernel(f"{_n}_.default", dtypes=FLOATS | INTS, impl="onnx:Mul,Div,Add")(_addc(_n, True))


# -- copysign ---------------------------------------------------------------------------------
def _copysign_lower(g, a, b):
    """|a| with the sign bit of b (-0.0 counts as negative: 1/b < 0)."""
    zero, one = _c(g, a, 0.0), _c(g, a, 1.0)
    negative = g.op("Or", g.op("Less", b, zero), g.op("Less", g.op("Div", one, b), zero))
    # |a| * (+1 or -1): ORT's Where drops the sign of a selected -0.0, and
    # copysign(0, -1) must be -0.0
    sign = g.op("Sub", one, g.op("Mul", g.cast(negative, g.dtype(a)), _c(g, a, 2.0)))
    return g.op("Mul", g.op("Abs", a), sign)


def _copysign(inplace):
    def fn(self, other):
        out_dtype = result_type(self, other, int_to_float=True)
        return pointwise("copysign", (), [self, other], _copysign_lower, out_dtype=out_dtype,
                         compute=opmath(out_dtype), out=self if inplace else None,
                         result=out_dtype)
    return fn


_functional_and_inplace("copysign", ("Tensor", "Scalar"), _copysign, NUMERIC, "onnx:Abs,Where")
