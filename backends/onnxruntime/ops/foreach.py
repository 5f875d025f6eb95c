"""_foreach_* ops (the multi-tensor kernels optimizers use): one ONNX graph per call, holding one
small subgraph per tensor of the list, so an AdamW step over N parameters is a handful of
session runs instead of N per op.

Semantics per tensor are those of the single-tensor op (ATen's slow foreach path is literally a
loop over it): ATen type promotion with Python numbers, opmath float32 for fp16/bf16, in-place
forms write into the list's own tensors (aliased output buffers; strided ones via a copy).
A graph is keyed by the list's length, dtypes and ranks, which repeat every optimizer step.
"""
from __future__ import annotations

import torch

from .._vendor.execute import Scalar, run
from .common import arith_dtype, check_inplace, empty, opmath
from .binary import _int_pow_tensor
from .pointwise import result_type, shape_of
from .registry import FLOATS, INTS, kernel

NUMERIC = FLOATS | INTS


def _c(g, like, v):
    return g.const(v, g.dtype(like))


def _number(v):
    return v.item() if isinstance(v, torch.Tensor) and v.device.type == "cpu" and v.dim() == 0 \
        else v


def foreach(name, attrs, columns, lower, out_dtype_of, compute_of, inplace):
    """Run `lower(g, *values)` for every row i of `columns` (lists of length N: tensors, numbers
    or None) in one graph. Returns the list of results, or None for in-place forms."""
    n = len(columns[0])
    if n == 0:
        return None if inplace else []
    rows = [[col[i] for col in columns] for i in range(n)]
    outs, inputs, targets, computes = [], [], [], []
    for row in rows:
        self = row[0]
        common = result_type(*[_number(x) for x in row if x is not None])
        out_dtype = out_dtype_of(common, self)
        cdt = compute_of(out_dtype, common)
        computes.append(cdt)
        shape = shape_of(*[x for x in row if isinstance(x, torch.Tensor)])
        if inplace:
            check_inplace(self, common if out_dtype_of is not _float_out else out_dtype, shape)
            target = self
            out = self if self.is_contiguous() else empty(self.shape, self.dtype, self.device)
        else:
            target = out = empty(shape, out_dtype, self.device)
        outs.append(out)
        targets.append(target)
        inputs.extend(x if x is None or isinstance(x, torch.Tensor) else Scalar(
            _cast_number(x, cdt), cdt) for x in row)
    width = len(columns)

    def build(g, *values):
        results = []
        for i in range(n):
            vals = [v if v is None else g.cast(v, computes[i])
                    for v in values[i * width:(i + 1) * width]]
            results.append(lower(g, *vals))
        return results
    run(f"foreach.{name}", attrs, inputs, outs, build)
    for out, target in zip(outs, targets):
        if out is not target:
            target.copy_(out)
    return None if inplace else outs


def _cast_number(x, dtype):
    x = _number(x)
    if dtype == torch.bool:
        return bool(x)
    return float(x) if dtype.is_floating_point else int(x)


def _same(common, self):
    return common


def _inplace_dtype(common, self):
    return self.dtype


def _float_out(common, self):
    return common if common.is_floating_point else torch.get_default_dtype()


def _arith_compute(out_dtype, common):
    return arith_dtype(common)


def _float_compute(out_dtype, common):
    return opmath(out_dtype)


# -- binary: add / sub / mul / div / maximum / minimum / pow / clamp_min / clamp_max ---------
def _maxmin(greater):
    def lower(g, a, b):
        r = g.op("Where", g.op("Greater" if greater else "Less", a, b), a, b)
        if g.dtype(a).is_floating_point:
            r = g.op("Where", g.op("IsNaN", a), a, g.op("Where", g.op("IsNaN", b), b, r))
        return r
    return lower


BINARY = {
    "add": (lambda g, a, b: g.op("Add", a, b), _arith_compute),
    "sub": (lambda g, a, b: g.op("Sub", a, b), _arith_compute),
    "mul": (lambda g, a, b: g.op("Mul", a, b), _arith_compute),
    "div": (lambda g, a, b: g.op("Div", a, b), _float_compute),
    "maximum": (_maxmin(True), _arith_compute),
    "minimum": (_maxmin(False), _arith_compute),
    "clamp_min": (_maxmin(True), _arith_compute),
    "clamp_max": (_maxmin(False), _arith_compute),
    "pow": (lambda g, a, b: g.op("Pow", a, b) if g.dtype(a).is_floating_point
            else _int_pow_tensor(g, a, b), _arith_compute),
}


def _binary_kernels(op, lower, compute):
    out_fn = _float_out if op == "div" else _same
    with_alpha = op in ("add", "sub")

    def make(variant, inplace):
        def fn(self, other, *, alpha=1):
            n = len(self)
            if variant == "Scalar":
                others = [other] * n
            elif variant == "Tensor":             # one tensor (e.g. a step count) for every entry
                others = [other] * n
            else:                                 # List / ScalarList
                others = list(other)
                if len(others) != n:
                    raise RuntimeError(f"Tensor lists must have the same number of tensors, got "
                                       f"{n} and {len(others)}")
            scaled = with_alpha and alpha != 1
            columns = [list(self), others] + ([[alpha] * n] if scaled else [])

            def lower_one(g, a, b, al=None):
                if scaled:
                    b = g.op("Mul", b, al)
                return lower(g, a, b)
            return foreach(f"{op}.{variant}", (scaled,), columns, lower_one,
                           _inplace_dtype if inplace else out_fn, compute, inplace)
        if not with_alpha or variant not in ("List", "Tensor"):
            def fn_no_alpha(self, other):
                return fn(self, other)
            return fn_no_alpha
        return fn

    variants = ["Scalar", "ScalarList", "List"] + (["Tensor"] if op in ("add", "sub", "mul",
                                                                        "div") else [])
    if op in ("clamp_min", "clamp_max", "maximum", "minimum"):
        variants = ["Scalar", "ScalarList", "List"]
    for variant in variants:
        for inplace in (False, True):
            name = f"_foreach_{op}{'_' if inplace else ''}.{variant}"
            kernel(name, dtypes=NUMERIC, impl=f"onnx:{op} (one graph per list)")(
                make(variant, inplace))


for _op, (_lower, _compute) in BINARY.items():
    _binary_kernels(_op, _lower, _compute)


# -- unary ------------------------------------------------------------------------------------
UNARY = {
    "sqrt": lambda g, x: g.op("Sqrt", x), "exp": lambda g, x: g.op("Exp", x),
    "log": lambda g, x: g.op("Log", x), "abs": lambda g, x: g.op("Abs", x),
    "neg": lambda g, x: g.op("Neg", x), "sigmoid": lambda g, x: g.op("Sigmoid", x),
    "tanh": lambda g, x: g.op("Tanh", x), "reciprocal": lambda g, x: g.op("Reciprocal", x),
    "sin": lambda g, x: g.op("Sin", x), "cos": lambda g, x: g.op("Cos", x),
    "ceil": lambda g, x: g.op("Ceil", x), "floor": lambda g, x: g.op("Floor", x),
    "round": lambda g, x: g.op("Round", x),
    "rsqrt": lambda g, x: g.op("Reciprocal", g.op("Sqrt", x)),
}
_SAME_DTYPE_UNARY = {"abs", "neg", "ceil", "floor", "round"}


def _unary_kernels(op, lower):
    same = op in _SAME_DTYPE_UNARY

    def make(inplace):
        def fn(self):
            out_fn = _inplace_dtype if inplace else (_same if same else _float_out)
            compute = _arith_compute if same else _float_compute
            return foreach(op, (), [list(self)], lower, out_fn, compute, inplace)
        return fn
    dtypes = NUMERIC if same else FLOATS
    kernel(f"_foreach_{op}", dtypes=dtypes, impl=f"onnx:{op} (one graph per list)")(make(False))
    kernel(f"_foreach_{op}_", dtypes=dtypes, impl=f"onnx:{op} (one graph per list)")(make(True))


for _op, _lower in UNARY.items():
    _unary_kernels(_op, _lower)


@kernel("_foreach_zero_", dtypes=NUMERIC | frozenset({torch.bool}), impl="onnx:Mul")
def foreach_zero_(self):
    foreach("zero", (), [list(self)], lambda g, x: g.op("Sub", x, x) if g.dtype(x) != torch.bool
            else g.op("And", x, g.op("Not", x)), _inplace_dtype,
            lambda o, c: o if o == torch.bool else arith_dtype(o), True)


# -- addcmul / addcdiv / lerp -----------------------------------------------------------------
def _addc(op):
    def lower(g, s, t1, t2, v):
        if op == "addcmul":                          # ATen: self + value * t1 * t2
            return g.op("Add", s, g.op("Mul", g.op("Mul", v, t1), t2))
        return g.op("Add", s, g.op("Mul", v, g.op("Div", t1, t2)))

    def make(variant, inplace):
        def fn(self, tensor1, tensor2, scalars=1, *, value=None):
            n = len(self)
            if variant == "Scalar":
                values = [scalars if value is None else value] * n
            else:
                values = list(scalars)
            return foreach(f"{op}.{variant}", (), [list(self), list(tensor1), list(tensor2),
                                                   values], lower,
                           _inplace_dtype if inplace else _same, _arith_compute, inplace)
        if variant == "Scalar":
            def fn_scalar(self, tensor1, tensor2, value=1):
                return fn(self, tensor1, tensor2, value)
            return fn_scalar
        return fn

    # (the .Tensor overloads take a 1-D CPU tensor of values, which deeplink's router does not
    # pass to Python kernels; they are left to the dispatcher's other routes)
    for variant in ("Scalar", "ScalarList"):
        for inplace in (False, True):
            kernel(f"_foreach_{op}{'_' if inplace else ''}.{variant}", dtypes=FLOATS | INTS,
                   impl=f"onnx:{op} (one graph per list)")(make(variant, inplace))


_addc("addcmul")
_addc("addcdiv")


def _lerp_small(g, a, b, w):
    return g.op("Add", a, g.op("Mul", w, g.op("Sub", b, a)))


def _lerp_large(g, a, b, w):
    diff = g.op("Sub", b, a)
    return g.op("Sub", b, g.op("Mul", diff, g.op("Sub", _c(g, a, 1.0), w)))


def _lerp_tensor_weight(g, a, b, w):
    small = g.op("Less", g.op("Abs", w), _c(g, a, 0.5))
    return g.op("Where", small, _lerp_small(g, a, b, w), _lerp_large(g, a, b, w))


def _lerp(variant, inplace):
    def fn(self, tensors1, weight):
        n = len(self)
        if variant == "Scalar":
            small = abs(float(weight)) < 0.5          # ATen: is_lerp_weight_small, per call
            lower, weights, attrs = (_lerp_small if small else _lerp_large), [weight] * n, (small,)
        elif variant == "ScalarList":                 # per-entry weights: choose in the graph
            weights, lower, attrs = list(weight), _lerp_tensor_weight, ("per-entry",)
        else:                                         # List: a tensor of weights per entry
            weights, lower, attrs = list(weight), _lerp_tensor_weight, ("tensor",)
        return foreach(f"lerp.{variant}", attrs, [list(self), list(tensors1), weights], lower,
                       _inplace_dtype if inplace else _same, _float_compute, inplace)
    return fn


for _variant in ("Scalar", "ScalarList", "List"):
    kernel(f"_foreach_lerp.{_variant}", dtypes=FLOATS, impl="onnx:lerp (one graph per list)")(
        _lerp(_variant, False))
    kernel(f"_foreach_lerp_.{_variant}", dtypes=FLOATS, impl="onnx:lerp (one graph per list)")(
        _lerp(_variant, True))


# -- norm (gradient clipping) -----------------------------------------------------------------
@kernel("_foreach_norm.Scalar", dtypes=FLOATS, impl="onnx:ReduceSum,Sqrt (one graph per list)")
def foreach_norm(self, ord=2, dtype=None):
    ord = float(ord)
    n = len(self)
    if n == 0:
        return []
    outs = [empty((), dtype or t.dtype, t.device) for t in self]
    computes = [opmath(dtype or t.dtype) for t in self]

    def build(g, *xs):
        res = []
        for x, cdt in zip(xs, computes):
            a = g.op("Abs", g.op("Reshape", g.cast(x, cdt), g.ints([-1])))
            if ord == 2:
                res.append(g.op("Sqrt", g.op("ReduceSum", g.op("Mul", a, a), keepdims=0)))
            elif ord == 1:
                res.append(g.op("ReduceSum", a, keepdims=0))
            elif ord == float("inf"):
                res.append(g.op("ReduceMax", a, keepdims=0))
            else:
                p = g.const(ord, cdt)
                s = g.op("ReduceSum", g.op("Pow", a, p), keepdims=0)
                res.append(g.op("Pow", s, g.const(1.0 / ord, cdt)))
        return res
    if any(t.numel() == 0 for t in self) and ord == float("inf"):
        return NotImplemented        # max of an empty tensor: let ATen raise its own error
    run("foreach.norm", (ord,), list(self), outs, build)
    return outs
