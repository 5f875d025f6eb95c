"""One spelling for aten overloads in every conformance file: `add.Tensor`, `mm`, `_foreach_add_.Scalar`.

That is the opset's spelling (deeplink/opset/names.py): no namespace, no `.default`. The golden
data and TorchDispatchMode traces write `aten.add.Tensor` / `aten.mm.default`, the dispatcher
writes `aten::add.Tensor`; `overload_name` accepts all of them. It is repeated here (a few lines)
so the worker processes can name ops without importing the deeplink core.
"""
from __future__ import annotations


def overload_name(name: str) -> str | None:
    """Normalise any spelling of an aten overload; None for ops outside the aten namespace
    (`profiler._record_function_enter_new.default`), which are not part of the operator set."""
    if name.startswith("aten::"):
        name = name[len("aten::"):]
    elif name.startswith("aten."):
        name = name[len("aten."):]
    elif "." in name and name.split(".", 1)[0] in ("profiler", "prims", "quantized", "_c10d_functional",
                                                     "c10d", "fbgemm", "higher_order", "prim"):
        return None
    base, _, overload = name.partition(".")
    if overload == "default":
        return base
    return name


def of_op(op) -> str:
    """The name of a `torch._ops.OpOverload` such as `torch.ops.aten.add.Tensor`."""
    schema = op._schema
    base = schema.name.split("::", 1)[-1]
    return base if not schema.overload_name else f"{base}.{schema.overload_name}"


def normalise_all(names) -> list[str]:
    """Normalise a list, dropping non-aten names and keeping first-seen order."""
    out: list[str] = []
    for raw in names:
        name = overload_name(raw)
        if name is not None and name not in out:
            out.append(name)
    return out


def opinfo_key(name: str, variant: str) -> str:
    """The golden data's key for an OpInfo: `op.name` plus `.variant_test_name` when set."""
    return f"{name}.{variant}" if variant else name


def opinfo_seed(key: str) -> int:
    """The seed the golden recorder used before drawing an OpInfo's samples (golden README)."""
    return sum((i + 1) * ord(c) for i, c in enumerate(key)) % 2**31
