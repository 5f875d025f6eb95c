"""One spelling for operator names: the aten overload name, as aten's own schemas write it.

    add.Tensor   mm   _foreach_add_.Scalar   _scaled_dot_product_efficient_attention

The "default" overload has no suffix (`mm`, not `mm.default`), and there is no namespace.
Other tools spell the same operator differently; these helpers turn their spellings into ours:

    torch.ops printing / TorchDispatchMode traces   aten.mm.default, aten.add.Tensor
    dispatcher registrations                        aten::mm, aten::add.Tensor
    an OpOverload object                            torch.ops.aten.add.Tensor
"""
from __future__ import annotations


def overload_name(base: str, overload: str = "") -> str:
    """`("add", "Tensor") -> "add.Tensor"`, `("mm", "default") -> "mm"`."""
    if not overload or overload == "default":
        return base
    return f"{base}.{overload}"


def split_name(name: str) -> tuple[str, str]:
    """`"add.Tensor" -> ("add", "Tensor")`, `"mm" -> ("mm", "")`."""
    base, _, overload = name.partition(".")
    return base, overload


def from_registration(name: str) -> str:
    """`"aten::add.Tensor" -> "add.Tensor"`; names of other namespaces are returned unchanged."""
    if name.startswith("aten::"):
        return name[len("aten::"):]
    return name


def from_traced(name: str) -> str | None:
    """`"aten.mm.default" -> "mm"`, `"aten.add.Tensor" -> "add.Tensor"`.

    Returns None for operators outside the aten namespace (`profiler._record_function_enter_new`),
    which are not part of the operator set.
    """
    namespace, _, rest = name.partition(".")
    if namespace != "aten" or not rest:
        return None
    base, _, overload = rest.partition(".")
    return overload_name(base, overload)


def from_traced_all(names) -> list[str]:
    """`from_traced` over a list (a golden sample's `aten` field): non-aten names dropped, each name
    once, in first-seen order."""
    out: list[str] = []
    for raw in names:
        name = from_traced(raw)
        if name is not None and name not in out:
            out.append(name)
    return out


def from_op(op) -> str:
    """The overload name of a `torch._ops.OpOverload` (e.g. `torch.ops.aten.add.Tensor`)."""
    schema = op._schema
    base = schema.name.split("::", 1)[-1]
    return overload_name(base, schema.overload_name)


def normalise(name: str) -> str:
    """Any spelling of an aten overload in ours: `aten::add.Tensor`, `aten.mm.default`, `mm.default`
    -> `add.Tensor`, `mm`, `mm`. Names of other namespaces keep their `ns::` prefix."""
    if name.startswith("aten::"):
        name = name[len("aten::"):]
    elif name.startswith("aten."):
        name = name[len("aten."):]
    base, overload = split_name(name)
    return overload_name(base, overload)


def qualified(name: str) -> str:
    """The dispatcher's spelling: `add.Tensor` -> `aten::add.Tensor` (namespaced names unchanged)."""
    return name if "::" in name else "aten::" + name


def exists(name: str) -> bool:
    """Whether the installed torch has this overload's schema."""
    import torch
    base, overload = split_name(qualified(normalise(name)))
    try:
        torch._C._dispatch_find_schema_or_throw(base, overload)
        return True
    except RuntimeError:
        return False


def op_overload(name: str):
    """The `torch._ops.OpOverload` of an overload name in any spelling, or None if this torch lacks it."""
    import torch
    q = qualified(normalise(name))
    namespace, _, rest = q.partition("::")
    base, overload_ = split_name(rest)
    packet = getattr(getattr(torch.ops, namespace), base, None)
    if packet is None:
        return None
    return getattr(packet, overload_ or "default", None)


def has_kernel(name: str, dispatch_key: str) -> bool:
    """Whether the overload has a kernel registered for `dispatch_key` ("CPU", "CUDA",
    "CompositeImplicitAutograd", ...)."""
    import torch
    return torch._C._dispatch_has_kernel_for_dispatch_key(qualified(normalise(name)), dispatch_key)
