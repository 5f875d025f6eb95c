"""The vocabulary of the op table (table.py): one `Op` per aten overload, naming the aclnn
function and listing its arguments in the aclnn prototype's order, each as a reference to an
aten argument, an output, a constant or a small computed value.

    Op("add.Tensor", "aclnnAdd", (T("self"), T("other"), S("alpha"), OUT()),
       variants=(scalar_variant("other", "aclnnAdds", (T("self"), S("other"), S("alpha"), OUT())),))

reads: aten add.Tensor calls aclnnAdd(self, other, alpha, out); when `other` is a Python number
(a CPU wrapped scalar), it calls aclnnAdds with an aclScalar instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from deeplink.dtypes import ALL, FLOATS, FLOATS_NO_F64, INDEX, NUMERIC  # noqa: F401 (the table's vocabulary)


@dataclass(frozen=True)
class Ref:
    """One aclnn argument: where its value comes from, and its C type code (signatures.py)."""

    code: str
    name: Optional[str] = None        # aten argument name
    out: Optional[int] = None         # index of an output tensor
    value: Any = None                 # a constant
    fn: Optional[Callable] = None     # computed from the bound call: fn(bound) -> value
    optional: bool = False

    def describe(self) -> str:
        if self.name:
            return self.name
        if self.out is not None:
            return f"out[{self.out}]"
        return "computed" if self.fn else repr(self.value)


def T(name: str, optional: bool = False, fn: Optional[Callable] = None) -> Ref:
    """An aclTensor from a tensor argument (NULL when an optional argument is None)."""
    return Ref("T", name=name, optional=optional, fn=fn)


def OUT(index: int = 0, optional: bool = False) -> Ref:
    """An aclTensor for output `index` (allocated by the runner, or the aliased input of in-place ops)."""
    return Ref("T", out=index, optional=optional)


def L(name: str) -> Ref:
    return Ref("L", name=name)


def S(name: Optional[str] = None, value: Any = None, fn: Optional[Callable] = None, optional: bool = False) -> Ref:
    """An aclScalar from a Scalar argument, a constant, or a computed value."""
    return Ref("S", name=name, value=value, fn=fn, optional=optional)


def IA(name: Optional[str] = None, fn: Optional[Callable] = None, optional: bool = False) -> Ref:
    return Ref("IA", name=name, fn=fn, optional=optional)


def BA(name: Optional[str] = None, fn: Optional[Callable] = None) -> Ref:
    return Ref("BA", name=name, fn=fn)


def _num(code):
    def make(name: Optional[str] = None, value: Any = None, fn: Optional[Callable] = None) -> Ref:
        return Ref(code, name=name, value=value, fn=fn)
    return make


I64, U64, I32, I8, F64, F32, B = (_num(c) for c in ("i64", "u64", "i32", "i8", "f64", "f32", "b"))


def DT(fn: Callable) -> Ref:
    """An aclDataType computed from the call, e.g. the dtype of the output: DT(out_dtype(0))."""
    return Ref("dt", fn=fn)


def STR(value: Optional[str] = None, fn: Optional[Callable] = None) -> Ref:
    """A NUL-terminated char* (a constant, or computed from the call)."""
    return Ref("str", value=value, fn=fn)


@dataclass(frozen=True)
class Variant:
    """An alternative aclnn call taken when `when(bound)` holds."""

    when: Callable
    aclnn: str
    args: tuple


@dataclass(frozen=True)
class Op:
    aten: str                         # aten overload name ("add.Tensor")
    aclnn: Optional[str]              # aclnn function, None for composites
    args: tuple = ()                  # Refs in the aclnn prototype's order
    dtypes: frozenset = ALL           # tensor dtypes the kernel accepts (others: not native)
    variants: tuple = ()              # Variant(...), tried in order before the main call
    prepare: tuple = ()               # adapters fn(bound) run before the call (casts, defaults)
    supports: Optional[Callable] = None   # fn(bound) -> reason it cannot run, or None
    run: Optional[Callable] = None    # composite: fn(bound) -> result, built from several aclnn calls
    aclnn_used: tuple = ()            # aclnn functions a composite calls (for symbol checks and docs)
    note: str = ""

    @property
    def aclnn_functions(self) -> tuple:
        names = [self.aclnn] if self.aclnn else []
        names += [v.aclnn for v in self.variants]
        names += list(self.aclnn_used)
        return tuple(dict.fromkeys(n for n in names if n))


# -- small computed values used by many entries ---------------------------------------------------

def arg(name: str, default=None) -> Callable:
    return lambda b: b.args.get(name, default) if b.args.get(name) is not None else default


def out_dtype(index: int = 0) -> Callable:
    return lambda b: b.outs[index].dtype


def dims_or_all(name: str) -> Callable:
    """A `dim` argument (int, list or None) as a list; None or [] means every dimension."""
    def fn(b):
        d = b.args.get(name)
        t = b.args["self"]
        if d is None or (isinstance(d, (list, tuple)) and len(d) == 0):
            return list(range(t.dim()))
        return [d] if isinstance(d, int) else list(d)
    return fn


def is_cpu_scalar(name: str) -> Callable:
    """True when argument `name` is a number passed as a CPU 0-dim tensor (e.g. the 2 in x * 2)."""
    return lambda b: b.is_host_scalar(b.args.get(name))


def scalar_variant(name: str, aclnn: str, args: tuple) -> Variant:
    return Variant(is_cpu_scalar(name), aclnn, args)
